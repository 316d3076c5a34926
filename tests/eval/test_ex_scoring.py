"""EX semantics on crafted cases (tests/data/ex_cases.yaml), checked against a literal replay of BIRD's
evaluation.py where one is possible, plus the gold cache and the shared time limit."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from sqlensemble.eval import scoring
from sqlensemble.eval.scoring import SCORING_MAX_ROWS, Scorer, prediction_budget
from sqlensemble.executor import ExecResult

CASES_FILE = Path(__file__).resolve().parent.parent / "data" / "ex_cases.yaml"
SPEC: dict[str, Any] = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
LOOP = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r"


@pytest.fixture(scope="module")
def ex_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ex") / "ex.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(SPEC["setup"])
    conn.close()
    return path


def bird_ex(db_path: Path, pred: str, gold: str) -> bool:
    """BIRD's evaluation.py, replayed: run both, compare the sets of fetched rows; any exception is wrong."""
    conn = sqlite3.connect(db_path)
    try:
        predicted = conn.execute(pred).fetchall()
        ground_truth = conn.execute(gold).fetchall()
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    return set(predicted) == set(ground_truth)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("case", SPEC["cases"], ids=[c["id"] for c in SPEC["cases"]])
def test_ex_case(case: dict[str, Any], ex_db: Path) -> None:
    scorer = Scorer(timeout_s=case.get("timeout_s", 30.0), max_rows=case.get("max_rows", SCORING_MAX_ROWS))
    verdict = scorer.score(ex_db, case["gold"], case["pred"])
    assert (verdict.correct, verdict.reason) == (case["correct"], case["reason"])
    assert verdict.truncated is case.get("truncated", False)
    if case.get("bird_parity", True):
        assert bird_ex(ex_db, case["pred"], case["gold"]) is case["correct"]


def test_cases_cover_the_issue() -> None:
    ids = {c["id"] for c in SPEC["cases"]}
    for needed in ("duplicates_ignored", "row_order_ignored", "column_order_matters", "int_equals_float"):
        assert needed in ids
    reasons = {c["reason"] for c in SPEC["cases"]}
    assert {"pred_error", "pred_timeout", "gold_timeout", "match", "mismatch"} <= reasons


def test_gold_runs_once_per_database_and_query(ex_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = scoring.execute_readonly

    def counting(db_path: Path | str, sql: str, **kwargs: Any) -> ExecResult:
        calls.append(sql)
        return real(db_path, sql, **kwargs)

    monkeypatch.setattr(scoring, "execute_readonly", counting)
    scorer = Scorer()
    gold = "SELECT name FROM item"
    preds = ["SELECT name FROM item", "SELECT DISTINCT name FROM item", "SELECT id FROM item"]
    verdicts = [scorer.score(ex_db, gold, pred) for pred in preds]
    assert [v.correct for v in verdicts] == [True, True, False]
    assert calls.count(gold) == 2  # once as gold, once as the first prediction
    assert len(calls) == 1 + len(preds)
    assert scorer.gold(ex_db, gold) is scorer.gold(ex_db, gold)


@pytest.mark.timeout(10)
def test_prediction_gets_what_the_gold_query_left(ex_db: Path) -> None:
    # The gold query "took" 29.95 s of BIRD's 30 s: a looping prediction is stopped after the 0.05 s left,
    # not after 30 s (the test's own timeout would catch that).
    scorer = Scorer(timeout_s=30.0)
    slow_gold = ExecResult("ok", ("n",), ((1,),), False, 29_950.0, None, "SELECT 1")
    assert prediction_budget(slow_gold, 30.0) == pytest.approx(0.05)
    assert scorer.execute(ex_db, LOOP, slow_gold).status == "timeout"


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        Scorer(timeout_s=0)
    with pytest.raises(ValueError, match="max_rows"):
        Scorer(max_rows=0)
