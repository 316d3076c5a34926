"""Fixtures for the evaluator's tests: judged records built by hand and a BIRD-format dev set (the
scripted gateway it is asked through lives in scripted_gateway.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from scripted_gateway import DIFFICULTY_CYCLE, EvalData, build_eval_data

from sqlensemble.eval.records import (
    CandidateOutcome,
    EnsembleOutcome,
    GeneratorOutcome,
    GoldOutcome,
    Judged,
    MajorityOutcome,
    QuestionRecord,
)


def build_record(position: int, *, sql: str | None, correct: bool = False) -> QuestionRecord:
    """A minimal judged question: one generator with one candidate, the ensemble answering ``sql``."""
    status = "ok" if sql else "no_sql"
    judged = Judged(sql=sql, exec_status=status, correct=correct, reason="match" if correct else "mismatch")
    return QuestionRecord(
        position=position,
        question_id=position,
        db_id=f"db{position % 3}",
        difficulty=DIFFICULTY_CYCLE[position % 3],
        question=f"question {position}?",
        gold_sql="SELECT 1",
        gold=GoldOutcome(exec_status="ok", row_count=1, elapsed_ms=1.0, truncated=False),
        ensemble=EnsembleOutcome(**judged.model_dump(), gateway_status="ok", confidence=1.0, cluster_size=1),
        generators=[
            GeneratorOutcome(
                generator="g",
                n_candidates=1,
                first=judged,
                majority=MajorityOutcome(**judged.model_dump(), cluster_size=1, confidence=1.0),
            )
        ],
        candidates=[CandidateOutcome(**judged.model_dump(), generator="g", index=0, gateway_status=status)],
        oracle=correct,
        latency_ms=10.0,
        session="s",
        started_at=0.0,
        finished_at=1.0,
    )


@pytest.fixture()
def make_record() -> Callable[..., QuestionRecord]:
    return build_record


@pytest.fixture(scope="module")
def eval_data(tmp_path_factory: pytest.TempPathFactory) -> EvalData:
    return build_eval_data(tmp_path_factory.mktemp("bird_dev"))
