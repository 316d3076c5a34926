"""Judging one answered question: every candidate against gold, and the systems built from them.

From the candidates of one ``/v1/sql`` call this computes, against one gold execution:

- the ensemble's answer (the gateway's ``sql``, judged whatever its status, as BIRD's script would
  judge it from ``predict_dev.json``);
- each generator's first sample (its lowest sample index, normally 0);
- each generator's own majority vote (``voting.vote`` over that generator's candidates alone, on results
  executed here: the gateway returns SQL and status, and the gold comparison needs full rows anyway);
- the oracle: whether any candidate is correct;
- the vote's own pick: where a selection model answered instead of the vote (the gateway's trail says
  ``answered_by: selector``), the trail's ``vote_sql`` judged; otherwise the answer given is the vote's,
  and its judgement is the ensemble's, so the two differ only where the selector answered.

Each distinct SQL text is executed once per question, with the time its gold query left (BIRD's shared
limit, see ``scoring``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sqlensemble.eval.records import (
    CandidateOutcome,
    EnsembleOutcome,
    GatewayCandidate,
    GatewayResponse,
    GeneratorOutcome,
    GoldOutcome,
    Judged,
    MajorityOutcome,
    QuestionRecord,
)
from sqlensemble.eval.scoring import Scorer, compare
from sqlensemble.executor import ExecResult
from sqlensemble.voting import Candidate, CandidateStatus, vote

NO_SQL_STATUSES: frozenset[str] = frozenset({"no_sql", "backend_error"})


@dataclass(frozen=True)
class Asked:
    """One question as it was asked: where it sits in the dataset and when and how fast it was answered."""

    position: int
    question_id: int | str
    db_id: str
    difficulty: str
    question: str
    gold_sql: str
    db_path: Path
    latency_ms: float
    session: str
    started_at: float


class _Judge:
    """Executes each distinct SQL of one question once and compares it with the question's gold result."""

    def __init__(self, scorer: Scorer, db_path: Path, gold_sql: str) -> None:
        self.scorer = scorer
        self.db_path = db_path
        self.gold = scorer.gold(db_path, gold_sql)
        self._results: dict[str, ExecResult] = {}

    def execute(self, sql: str | None) -> ExecResult | None:
        if sql is None or not sql.strip():
            return None
        key = sql.strip()
        if key not in self._results:
            self._results[key] = self.scorer.execute(self.db_path, key, self.gold)
        return self._results[key]

    def judge(self, sql: str | None) -> Judged:
        result = self.execute(sql)
        if result is None:
            return Judged(sql=sql, exec_status="no_sql", correct=False, reason="no_sql")
        verdict = compare(result, self.gold)
        return Judged(
            sql=sql,
            exec_status=result.status,
            correct=verdict.correct,
            reason=verdict.reason,
            truncated=verdict.truncated,
        )


def _vote_candidate(c: GatewayCandidate, result: ExecResult | None) -> Candidate:
    status: CandidateStatus
    if result is not None:
        status = result.status
    else:
        status = "backend_error" if c.status == "backend_error" else "no_sql"
    return Candidate(c.generator, c.index, c.sql, status, result, weight=c.weight, error=c.error)


def _generator_outcome(
    name: str, members: list[tuple[GatewayCandidate, CandidateOutcome]], judge: _Judge
) -> GeneratorOutcome:
    if not members:
        missing = Judged(sql=None, exec_status="no_sql", correct=False, reason="no_sql")
        majority = MajorityOutcome(**missing.model_dump(), cluster_size=0, confidence=0.0)
        return GeneratorOutcome(generator=name, n_candidates=0, first=missing, majority=majority)
    first = min(members, key=lambda m: m[0].index)[1]
    ballots = [_vote_candidate(c, judge.execute(c.sql)) for c, _ in members]
    decision = vote(ballots, equivalence="bird")
    winner = next(members[i][1] for i, ballot in enumerate(ballots) if ballot is decision.winner)
    won = decision.status == "ok"
    majority = MajorityOutcome(
        **Judged.model_validate(winner.model_dump()).model_dump(),
        cluster_size=decision.clusters[0].size if won else 0,
        confidence=decision.confidence,
    )
    return GeneratorOutcome(
        generator=name,
        n_candidates=len(members),
        first=Judged.model_validate(first.model_dump()),
        majority=majority,
    )


def assess(asked: Asked, response: GatewayResponse, scorer: Scorer) -> QuestionRecord:
    """Judge one gateway answer; blocking (it runs SQL), so call it from a worker thread."""
    judge = _Judge(scorer, asked.db_path, asked.gold_sql)
    outcomes: list[tuple[GatewayCandidate, CandidateOutcome]] = []
    for c in response.candidates:
        judged = judge.judge(c.sql)
        outcomes.append(
            (
                c,
                CandidateOutcome(
                    **judged.model_dump(),
                    generator=c.generator,
                    index=c.index,
                    gateway_status=c.status,
                    cluster=c.cluster,
                    row_count=c.row_count,
                    exec_ms=c.exec_ms,
                    weight=c.weight,
                    ungrounded=c.ungrounded,
                ),
            )
        )
    generators = [
        _generator_outcome(name, [m for m in outcomes if m[0].generator == name], judge)
        for name in response.generator_names()
    ]
    answer = judge.judge(response.sql)
    ensemble = EnsembleOutcome(
        **answer.model_dump(),
        gateway_status=response.status,
        confidence=response.confidence,
        cluster_size=response.winning_cluster_size(),
    )
    by_vote = answer  # the answer given is the vote's, unless the selector named another group
    if response.answered_by_selector():
        vote_sql = response.selection.get("vote_sql")
        by_vote = judge.judge(vote_sql if isinstance(vote_sql, str) else None)
    gold = judge.gold
    return QuestionRecord(
        position=asked.position,
        question_id=asked.question_id,
        db_id=asked.db_id,
        difficulty=asked.difficulty,
        question=asked.question,
        gold_sql=asked.gold_sql,
        gold=GoldOutcome(
            exec_status=gold.status,
            row_count=len(gold.rows),
            elapsed_ms=gold.elapsed_ms,
            truncated=gold.truncated,
            error=gold.error,
        ),
        ensemble=ensemble,
        generators=generators,
        candidates=[o for _, o in outcomes],
        oracle=any(o.correct for _, o in outcomes),
        latency_ms=asked.latency_ms,
        timings=response.timings,
        usage=response.usage,
        sampling=response.sampling,
        clusters=response.clusters,
        selection=response.selection,
        vote=by_vote,
        session=asked.session,
        started_at=asked.started_at,
        finished_at=time.time(),
    )
