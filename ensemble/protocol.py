"""Wire models of the gateway: what clients send and what they get back.

``/v1/sql`` is the gateway's own API; ``/v1/chat/completions`` is the OpenAI shape with the ``/v1/sql``
answer riding along under the extra key ``sqlensemble``. Field names here are a contract: the evaluator
reads ``candidates[*].sql`` and ``timings`` to score every candidate and the latency.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from sqlensemble.equivalence import Equivalence
from sqlensemble.schema import SchemaInfo
from sqlensemble.voting import CandidateStatus


def unicode_problem(value: Any, path: str = "") -> str | None:
    """Where ``value`` (any JSON value) holds text that is not valid Unicode, else ``None``.

    JSON's ``"\\udfff"`` escape decodes to a lone surrogate, which no UTF-8 encoder accepts: it would
    fail later, on the way to a backend, a file name or the response. Keys are checked as well.

    >>> unicode_problem({"a": ["ok", "bad" + chr(0xDFFF)]}), unicode_problem({"fine": [1, "é"]})
    ('a.1', None)
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "."
        return None
    if isinstance(value, dict):
        items: list[tuple[Any, Any]] = list(value.items())
        for key, item in items:
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and unicode_problem(key) is not None:
                return f"{path}.<key>" if path else "<key>"
            if (found := unicode_problem(item, where)) is not None:
                return found
    if isinstance(value, list):
        for position, item in enumerate(value):
            if (found := unicode_problem(item, f"{path}.{position}" if path else str(position))) is not None:
                return found
    return None


def _valid_unicode(value: Any) -> Any:
    where = unicode_problem(value)
    if where is not None:
        inside = "" if where == "." else f" (at {where})"
        raise ValueError(f"text is not valid Unicode{inside}: a lone surrogate such as \\udfff")
    return value


# Every text field a client sends; JSON containers with free-form content get the same check.
Text = Annotated[str, AfterValidator(_valid_unicode)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SamplingPolicyRequest(_Request):
    policy: Literal["full", "adaptive"] | None = None
    threshold: float | None = Field(default=None, gt=0.0, le=1.0)
    min_votes: int | None = Field(default=None, ge=1)
    first_temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    round_n: int | None = Field(default=None, ge=1)


class SqlRequest(_Request):
    model: Text = Field(default="ensemble", min_length=1, description='"ensemble" or one generator\'s name')
    question: Text = Field(min_length=1)
    db_id: Text = Field(min_length=1)
    evidence: Text = ""
    n: int | None = Field(default=None, gt=0, description="samples per generator (default: each one's own)")
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_rows: int | None = Field(default=None, gt=0)
    equivalence: Equivalence | None = None
    return_rows: bool | None = None
    sampling_policy: SamplingPolicyRequest | None = Field(
        default=None, description="overrides of the stack's gateway.sampling_policy, field by field"
    )
    selection: Literal["vote", "model"] | None = Field(
        default=None, description="who answers among the groups (default: the stack's selection.mode)"
    )


class ResultBody(BaseModel):
    columns: list[str]
    rows: list[list[Any]]
    row_count: int = Field(description="rows the winning query fetched (at most max_rows)")
    truncated: bool = Field(description="the rows are not the whole result; truncated_by says why")
    truncated_by: Literal["max_rows", "max_response_bytes"] | None = Field(
        default=None,
        description="max_rows: the query had more rows; max_response_bytes: the rows did not all fit",
    )


class CandidateBody(BaseModel):
    generator: str
    index: int
    raw: str | None
    sql: str | None
    status: CandidateStatus
    error: str | None
    cluster: int | None
    row_count: int | None
    exec_ms: float | None
    weight: float = Field(default=1.0, description="its weight in the vote (generator weight x grounding)")
    ungrounded: list[str] = Field(
        default_factory=list,
        description="values it compares with that the question and evidence never name (as SQL writes them)",
    )


class ClusterBody(BaseModel):
    id: int
    size: int
    weight: float
    sql: str
    columns: list[str] = Field(default_factory=list, description="the representative's result columns")
    preview: list[list[Any]] = Field(
        default_factory=list, description="its first rows (what a selection model is shown)"
    )
    row_count: int = Field(default=0, description="rows it fetched (at most max_rows)")


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class Timings(BaseModel):
    generation_ms: dict[str, float]
    execution_ms: float
    voting_ms: float
    total_ms: float


class RoundBody(BaseModel):
    round: int
    asked: dict[str, int] = Field(description="samples asked of each generator")
    received: dict[str, int] = Field(description="samples that came back (0: the generator failed)")
    cancelled: list[str] = Field(description="generators whose answer was no longer needed")
    temperature: dict[str, float]
    leader_share: float = Field(description="the leading group's share of the weight drawn after the round")
    stop: Literal["unbeatable", "agreement", "budget", "full"] | None = Field(
        description="why sampling stopped after this round (null: another round followed)"
    )


class SamplingBody(BaseModel):
    policy: Literal["full", "adaptive"]
    calls: int = Field(description="generator calls made")
    rounds: list[RoundBody]


class SelectionBody(BaseModel):
    mode: Literal["vote", "model"]
    consulted: bool = Field(description="whether the selection model was asked")
    reason: str = Field(description="why it was (not) asked, or why its answer was not used")
    answered_by: Literal["vote", "selector"]
    vote_cluster: int | None = Field(description="the vote's pick (cluster id; null: every candidate failed)")
    vote_sql: str | None
    selector_cluster: int | None = Field(
        description="the selector's pick (null: not asked or no valid label)"
    )
    labels: dict[str, int] = Field(default_factory=dict, description="label shown -> cluster id")
    answer: str | None = Field(default=None, description="the selector's text, cut to 64 characters")
    elapsed_ms: float = 0.0


class SqlResponse(BaseModel):
    id: str
    object: Literal["sql.completion"] = "sql.completion"
    created: int
    model: str
    sql: str | None
    status: Literal["ok", "all_failed"]
    confidence: float
    result: ResultBody | None
    candidates: list[CandidateBody]
    clusters: list[ClusterBody]
    failed_generators: list[str]
    usage: Usage
    timings: Timings
    sampling: SamplingBody | None = None
    selection: SelectionBody | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Text
    content: Annotated[str | list[dict[str, Any]] | None, AfterValidator(_valid_unicode)] = None

    def text(self) -> str:
        """The content as one string; text parts of a multi-part content are joined by newlines."""
        if isinstance(self.content, list):
            parts = [p.get("text") for p in self.content if p.get("type") == "text"]
            return "\n".join(p for p in parts if isinstance(p, str))
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    """The OpenAI request; unknown OpenAI knobs are accepted and ignored, ``db_id``/``evidence`` ride
    either at the top level (``extra_body`` in the SDK) or inside ``metadata``."""

    model_config = ConfigDict(extra="allow")
    model: Text = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    n: int | None = Field(default=None, gt=0, description="samples per generator, as in /v1/sql")
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    metadata: Annotated[dict[str, Any] | None, AfterValidator(_valid_unicode)] = None
    db_id: Text | None = None
    evidence: Text | None = None


class ChatChoice(BaseModel):
    index: int
    message: ChatMessage
    finish_reason: Literal["stop"] = "stop"


class ChatCompletionResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    sqlensemble: SqlResponse


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "sqlensemble"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class DatabaseCard(BaseModel):
    id: str
    object: Literal["database"] = "database"
    tables: list[str]


class DatabaseList(BaseModel):
    object: Literal["list"] = "list"
    data: list[DatabaseCard]


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"
    uptime_s: float


class ErrorDetail(BaseModel):
    message: str
    type: str = Field(description="invalid_request_error, authentication_error, not_found_error, ...")
    param: str | None = Field(description="the request field at fault, when there is one")
    code: str | None = Field(description="a stable machine-readable reason, e.g. database_not_found")


class ErrorResponse(BaseModel):
    """Every error the gateway returns, whatever the route and status."""

    error: ErrorDetail


class GeneratorReadiness(BaseModel):
    ready: bool
    error: str | None


class SelectorReadiness(GeneratorReadiness):
    model: str = Field(description="the served selection model (stack selection.model)")


class DatabasesReadiness(BaseModel):
    ready: bool
    count: int
    root: str


class ReadyResponse(BaseModel):
    """``/ready``: 200 when every generator (and, with ``selection.mode: model``, the selector) serves and
    databases are present, else 503 with ``error``."""

    status: Literal["ready", "not_ready"]
    generators: dict[str, GeneratorReadiness]
    databases: DatabasesReadiness
    selector: SelectorReadiness | None = Field(default=None, description="present with selection.mode model")
    error: ErrorDetail | None = None


class SchemaColumn(BaseModel):
    name: str
    type: str
    primary_key: bool
    description: str
    examples: list[str]


class SchemaTable(BaseModel):
    name: str
    columns: list[SchemaColumn]


class SchemaForeignKey(BaseModel):
    table: str
    column: str
    ref_table: str
    ref_column: str


class SchemaResponse(BaseModel):
    """``GET /v1/databases/{db_id}/schema``: the tables, columns and foreign keys the prompts describe."""

    id: str
    object: Literal["database.schema"] = "database.schema"
    tables: list[SchemaTable]
    foreign_keys: list[SchemaForeignKey]


def schema_response(schema: SchemaInfo) -> SchemaResponse:
    """The wire form of a core :class:`SchemaInfo`, in the database's own table and column order.

    >>> from sqlensemble.schema import Column, Table
    >>> info = SchemaInfo("edu", (Table("school", (Column("id", "INTEGER", "", ("1",), True),)),), ())
    >>> schema_response(info).tables[0].columns[0].model_dump()
    {'name': 'id', 'type': 'INTEGER', 'primary_key': True, 'description': '', 'examples': ['1']}
    """
    return SchemaResponse(
        id=schema.db_id,
        tables=[
            SchemaTable(
                name=t.name,
                columns=[
                    SchemaColumn(
                        name=c.name,
                        type=c.type,
                        primary_key=c.primary_key,
                        description=c.description,
                        examples=list(c.examples),
                    )
                    for c in t.columns
                ],
            )
            for t in schema.tables
        ],
        foreign_keys=[
            SchemaForeignKey(table=f.table, column=f.column, ref_table=f.ref_table, ref_column=f.ref_column)
            for f in schema.foreign_keys
        ],
    )
