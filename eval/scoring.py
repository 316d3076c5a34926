"""Execution accuracy (EX) exactly as BIRD's official ``evaluation.py`` computes it.

A prediction is correct when the *set* of its rows equals the set of the gold rows: column order
matters (rows are tuples), row order and duplicate rows do not, ``1`` equals ``1.0`` (Python's equality),
column names do not matter. A prediction that errors, is refused, or times out is wrong; so is every
prediction for a gold query that fails. BIRD runs gold and prediction under one 30 s limit; here the gold
query gets the whole limit and the prediction what the gold query left (``prediction_budget``).

Gold results are executed once per (database, gold SQL) and cached, so all candidates of a question are
compared against one gold execution. Results are fetched up to ``max_rows`` rows (BIRD compares full
results; the default is large) and a comparison that saw a truncated result is flagged.

>>> gold = ExecResult("ok", ("a",), ((1,), (2,), (2,)), False, 5.0, None, "SELECT a FROM t")
>>> compare(ExecResult("ok", ("x",), ((2.0,), (1,)), False, 1.0, None, "..."), gold).correct
True
>>> compare(ExecResult("error", (), (), False, 1.0, "no such column: b", "..."), gold).reason
'pred_error'
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlensemble.equivalence import equivalent
from sqlensemble.executor import ExecResult, ExecStatus, check_exec_limits, execute_readonly

BIRD_TIMEOUT_S = 30.0
SCORING_MAX_ROWS = 1_000_000
MIN_BUDGET_S = 1e-3  # what a prediction gets when the gold query used (almost) the whole limit

Reason = Literal[
    "match",
    "mismatch",
    "no_sql",
    "pred_error",
    "pred_timeout",
    "pred_refused",
    "gold_error",
    "gold_timeout",
    "gold_refused",
]

# A failed execution status -> the reason a comparison is wrong, for each side.
PRED_FAILURES: dict[ExecStatus, Reason] = {
    "error": "pred_error",
    "timeout": "pred_timeout",
    "refused": "pred_refused",
}
GOLD_FAILURES: dict[ExecStatus, Reason] = {
    "error": "gold_error",
    "timeout": "gold_timeout",
    "refused": "gold_refused",
}


@dataclass(frozen=True)
class Verdict:
    """Whether one prediction is correct, why, and whether a truncated result was compared."""

    correct: bool
    reason: Reason
    truncated: bool = False


NO_SQL = Verdict(correct=False, reason="no_sql")


def compare(pred: ExecResult, gold: ExecResult) -> Verdict:
    """BIRD's EX on two executions: ``set(pred_rows) == set(gold_rows)``; a failure on either side is wrong.

    >>> ok = ExecResult("ok", ("a", "b"), ((1, "x"),), False, 1.0, None, "")
    >>> compare(ExecResult("ok", ("b", "a"), (("x", 1),), False, 1.0, None, ""), ok).reason
    'mismatch'
    >>> compare(ExecResult("empty", ("a",), (), False, 1.0, None, ""), ok).correct
    False
    """
    if gold.status in GOLD_FAILURES:
        return Verdict(correct=False, reason=GOLD_FAILURES[gold.status], truncated=gold.truncated)
    if pred.status in PRED_FAILURES:
        return Verdict(correct=False, reason=PRED_FAILURES[pred.status], truncated=gold.truncated)
    correct = equivalent(pred.rows, gold.rows, "bird")  # set(pred_rows) == set(gold_rows)
    return Verdict(
        correct=correct,
        reason="match" if correct else "mismatch",
        truncated=pred.truncated or gold.truncated,
    )


def prediction_budget(gold: ExecResult, timeout_s: float = BIRD_TIMEOUT_S) -> float:
    """Seconds left to a prediction after its gold query ran under the shared limit.

    >>> prediction_budget(ExecResult("ok", (), (), False, 12_500.0, None, ""), 30.0)
    17.5
    >>> prediction_budget(ExecResult("ok", (), (), False, 31_000.0, None, ""), 30.0)
    0.001
    """
    return max(timeout_s - gold.elapsed_ms / 1000.0, MIN_BUDGET_S)


class Scorer:
    """Runs gold and predicted SQL under BIRD's limit and compares them; gold executions are cached.

    Thread-safe: questions may be scored from several worker threads at once.
    """

    def __init__(self, timeout_s: float = BIRD_TIMEOUT_S, max_rows: int = SCORING_MAX_ROWS) -> None:
        check_exec_limits(timeout_s, max_rows)
        self.timeout_s = timeout_s
        self.max_rows = max_rows
        self._gold: dict[tuple[str, str], ExecResult] = {}
        self._lock = threading.Lock()

    def gold(self, db_path: Path | str, sql: str) -> ExecResult:
        """The gold query's execution, run once per (database, SQL) under the whole limit."""
        key = (str(db_path), sql)
        with self._lock:
            cached = self._gold.get(key)
        if cached is not None:
            return cached
        result = execute_readonly(db_path, sql, timeout_s=self.timeout_s, max_rows=self.max_rows)
        with self._lock:
            return self._gold.setdefault(key, result)

    def execute(self, db_path: Path | str, sql: str, gold: ExecResult) -> ExecResult:
        """Run a prediction with the time its gold query left."""
        budget = prediction_budget(gold, self.timeout_s)
        return execute_readonly(db_path, sql, timeout_s=budget, max_rows=self.max_rows)

    def score(self, db_path: Path | str, gold_sql: str, pred_sql: str | None) -> Verdict:
        """EX of one prediction (``None`` or blank: no SQL, wrong) against its gold query."""
        if pred_sql is None or not pred_sql.strip():
            return NO_SQL
        gold = self.gold(db_path, gold_sql)
        return compare(self.execute(db_path, pred_sql, gold), gold)
