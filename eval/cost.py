"""What answering cost: completion tokens, generator calls and rounds per question, latency, throughput.

One evaluation run has one sampling policy, so its cost is one row; ``bench/cost_curve.py`` puts the rows
of several runs (``full``, ``adaptive`` at several thresholds, single generators) side by side and plots
EX against completion tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

COST_SQL = """
SELECT
    coalesce(any_value(policy) FILTER (WHERE answered), '–'),
    100.0 * count(*) FILTER (WHERE ensemble_correct) / nullif(count(*), 0),
    avg(completion_tokens) FILTER (WHERE answered),
    avg(calls) FILTER (WHERE answered),
    avg(rounds) FILTER (WHERE answered),
    quantile_cont(latency_ms, 0.5) FILTER (WHERE answered),
    quantile_cont(latency_ms, 0.95) FILTER (WHERE answered),
    count(*)
FROM questions
"""
THROUGHPUT_SQL = """
SELECT coalesce(sum(n), 0), coalesce(sum(span), 0), count(*) FROM (
    SELECT count(*) AS n, max(finished_at) - min(started_at) AS span FROM questions WHERE answered
    GROUP BY session
)
"""
"""Answered questions, seconds spent answering them (each session's span) and sessions."""


@dataclass(frozen=True)
class CostRow:
    """One run's cost; ``None`` where the gateway did not report it (an older gateway, no answers)."""

    policy: str
    ex: float | None
    completion_tokens: float | None
    calls: float | None
    rounds: float | None
    p50_ms: float | None
    p95_ms: float | None
    questions_per_s: float | None
    questions: int


def cost_row(con: duckdb.DuckDBPyConnection) -> CostRow:
    """The cost of the run whose ``results.duckdb`` is open on ``con``."""
    policy, ex, tokens, calls, rounds, p50, p95, n = con.execute(COST_SQL).fetchone() or (None,) * 8
    answered, span, _ = con.execute(THROUGHPUT_SQL).fetchone() or (0, 0.0, 0)
    rate = answered / span if span else None
    return CostRow(str(policy), ex, tokens, calls, rounds, p50, p95, rate, int(n or 0))


def _fmt(value: float | None, digits: int) -> str:
    """A figure, or a dash when there is none.

    >>> _fmt(12.345, 1), _fmt(None, 2)
    ('12.3', '–')
    """
    return "–" if value is None else f"{value:.{digits}f}"


COST_HEADER = (
    "| policy | EX | completion tokens / question | calls / question | rounds / question "
    "| p50 latency (ms) | p95 latency (ms) | questions/s |"
)


def cost_line(row: CostRow, label: str | None = None) -> str:
    """One row of the cost table.

    >>> cost_line(CostRow("adaptive", 41.5, 120.25, 4.5, 1.2, 900.0, 2500.0, 3.21, 200))
    '| adaptive | 41.50 | 120.2 | 4.50 | 1.20 | 900.0 | 2500.0 | 3.210 |'
    """
    cells = [
        label or row.policy,
        _fmt(row.ex, 2),
        _fmt(row.completion_tokens, 1),
        _fmt(row.calls, 2),
        _fmt(row.rounds, 2),
        _fmt(row.p50_ms, 1),
        _fmt(row.p95_ms, 1),
        _fmt(row.questions_per_s, 3),
    ]
    return "| " + " | ".join(cells) + " |"


def cost_markdown(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The report's cost section."""
    row = cost_row(con)
    return [
        "## Cost",
        "",
        "Per answered question; EX counts every question of the slice. Latency is the /v1/sql call as the "
        "client saw it; `bench/cost_curve.py` compares runs.",
        "",
        COST_HEADER,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        cost_line(row),
        "",
    ]
