"""What crosses the evaluator's boundaries: the gateway's ``/v1/sql`` answer and a ``results.jsonl`` line.

The gateway models read only the fields the evaluator uses and ignore the rest, so the gateway may add
fields without breaking a run. A ``QuestionRecord`` is one answered question with everything the
report needs: the ensemble's answer, every candidate judged against gold, each generator's first
sample and own majority vote, and the oracle.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class GatewayCandidate(BaseModel):
    """One sampled candidate as the gateway reports it."""

    model_config = ConfigDict(extra="ignore")

    generator: str
    index: int
    sql: str | None = None
    status: str
    error: str | None = None
    cluster: int | None = None
    row_count: int | None = None
    exec_ms: float | None = None


class GatewayCluster(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: int
    size: int
    weight: float = 0.0
    sql: str | None = None


class GatewayResponse(BaseModel):
    """The parts of a ``/v1/sql`` response (object ``sql.completion``) the evaluator reads."""

    model_config = ConfigDict(extra="ignore")

    id: str = ""
    model: str = ""
    sql: str | None = None
    status: str
    confidence: float | None = None
    candidates: list[GatewayCandidate] = Field(default_factory=list)
    clusters: list[GatewayCluster] = Field(default_factory=list)
    failed_generators: list[Any] = Field(default_factory=list)
    usage: dict[str, Any] = Field(default_factory=dict)
    timings: dict[str, Any] = Field(default_factory=dict)
    sampling: dict[str, Any] = Field(default_factory=dict)

    def generator_names(self) -> list[str]:
        """Every generator asked, in the order the gateway reports them: candidates first, then failures."""
        names = list(dict.fromkeys(c.generator for c in self.candidates))
        for failed in self.failed_generators:
            name = (failed.get("generator") or failed.get("name")) if isinstance(failed, dict) else failed
            if isinstance(name, str) and name not in names:
                names.append(name)
        return names

    def winning_cluster_size(self) -> int:
        """Candidates in the winning cluster (id 0); 0 when every candidate failed."""
        if self.status != "ok":
            return 0
        return next((c.size for c in self.clusters if c.id == 0), 0)


class Judged(BaseModel):
    """One SQL answer judged against gold: how it executed locally and whether it is correct."""

    sql: str | None
    exec_status: str  # an executor status, or "no_sql"
    correct: bool
    reason: str
    truncated: bool = False


class CandidateOutcome(Judged):
    generator: str
    index: int
    gateway_status: str
    cluster: int | None = None
    row_count: int | None = None
    exec_ms: float | None = None


class MajorityOutcome(Judged):
    cluster_size: int
    confidence: float


class GeneratorOutcome(BaseModel):
    """One generator on one question: its first sample (index 0) and its own majority vote."""

    generator: str
    n_candidates: int
    first: Judged
    majority: MajorityOutcome


class EnsembleOutcome(Judged):
    gateway_status: str
    confidence: float | None
    cluster_size: int


class GoldOutcome(BaseModel):
    exec_status: str
    row_count: int
    elapsed_ms: float
    truncated: bool
    error: str | None = None


class QuestionRecord(BaseModel):
    """One line of ``results.jsonl``: an answered question, judged."""

    position: int  # index in the dataset; the key in predict_dev.json
    question_id: int | str
    db_id: str
    difficulty: str
    question: str
    gold_sql: str
    gold: GoldOutcome
    ensemble: EnsembleOutcome
    generators: list[GeneratorOutcome]
    candidates: list[CandidateOutcome]
    oracle: bool
    latency_ms: float  # the /v1/sql call as the client saw it
    timings: dict[str, Any] = Field(default_factory=dict)
    usage: dict[str, Any] = Field(default_factory=dict)
    sampling: dict[str, Any] = Field(default_factory=dict)  # the gateway's trail: policy, calls, rounds
    session: str  # one id per `sqlensemble eval` process, for throughput
    started_at: float  # epoch seconds
    finished_at: float
