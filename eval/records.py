"""What crosses the evaluator's boundaries: the gateway's ``/v1/sql`` answer and a ``results.jsonl`` line.

The gateway models read only the fields the evaluator uses and ignore the rest, so the gateway may add
fields without breaking a run. A ``QuestionRecord`` is one answered question with everything the
report needs: the ensemble's answer, every candidate judged against gold, each generator's first
sample and own majority vote, the oracle, the vote's groups and, where a selection model may answer
among them, the gateway's selection trail and the vote's own pick judged.

Every field added since the first ``results.jsonl`` has a default, so an older file still loads.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


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
    weight: float = 1.0
    ungrounded: list[str] = Field(default_factory=list)


class GatewayCluster(BaseModel):
    """One group of equivalent candidates: its answer's SQL and the first rows of its result."""

    model_config = ConfigDict(extra="ignore")

    id: int
    size: int
    weight: float = 0.0
    sql: str | None = None
    columns: list[str] = Field(default_factory=list)
    preview: list[list[Any]] = Field(default_factory=list)  # its first rows, as the selector saw them
    row_count: int = 0


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
    selection: dict[str, Any] = Field(default_factory=dict)  # the trail; empty from a gateway without one

    @field_validator("selection", mode="before")
    @classmethod
    def _no_trail(cls, value: object) -> object:
        return {} if value is None else value

    def generator_names(self) -> list[str]:
        """Every generator asked, in the order the gateway reports them: candidates first, then failures."""
        names = list(dict.fromkeys(c.generator for c in self.candidates))
        for failed in self.failed_generators:
            name = (failed.get("generator") or failed.get("name")) if isinstance(failed, dict) else failed
            if isinstance(name, str) and name not in names:
                names.append(name)
        return names

    def answered_by_selector(self) -> bool:
        """Whether the answer is the selection model's pick rather than the vote's."""
        return self.selection.get("answered_by") == "selector"

    def answering_cluster(self) -> int:
        """The cluster the answer comes from: the selector's pick when it answered, else the vote's (id 0).

        >>> trail = {"answered_by": "selector", "selector_cluster": 1}
        >>> GatewayResponse(status="ok", selection=trail).answering_cluster()
        1
        >>> GatewayResponse(status="ok", selection=None).answering_cluster()
        0
        """
        picked = self.selection.get("selector_cluster")
        return picked if self.answered_by_selector() and isinstance(picked, int) else 0

    def winning_cluster_size(self) -> int:
        """Candidates in the answering cluster (``answering_cluster``); 0 when every candidate failed."""
        if self.status != "ok":
            return 0
        answering = self.answering_cluster()
        return next((c.size for c in self.clusters if c.id == answering), 0)


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
    weight: float = 1.0
    ungrounded: list[str] = Field(default_factory=list)


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
    clusters: list[GatewayCluster] = Field(default_factory=list)  # the vote's groups, heaviest first
    selection: dict[str, Any] = Field(default_factory=dict)  # the gateway's selection trail (may be empty)
    vote: Judged | None = None  # the vote's own pick, judged (the ensemble's answer unless the selector's)
    session: str  # one id per `sqlensemble eval` process, for throughput
    started_at: float  # epoch seconds
    finished_at: float
