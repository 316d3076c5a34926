"""The batch run: one ``/v1/sql`` call per question, at most ``concurrency`` at a time, each answer judged
and appended to ``results.jsonl`` as soon as it arrives.

Resuming is reading that file back: questions already answered are skipped, every other question of the
slice (never asked, or its call failed) is asked. A failed call is retried within the run for network
errors, 429 and 5xx (``retries`` times, with a short backoff) and otherwise left for the next run.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from sqlensemble.bearer import bearer_headers
from sqlensemble.bird import Example
from sqlensemble.errors import SqlEnsembleError, format_validation
from sqlensemble.eval.errors import GatewayCallError, RunDirError
from sqlensemble.eval.outcome import Asked, assess
from sqlensemble.eval.records import GatewayResponse, QuestionRecord
from sqlensemble.eval.results import RESULTS_FILE, ResultsWriter, read_results
from sqlensemble.eval.scoring import Scorer

MANIFEST_FILE = "run.json"
RETRY_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504})
BACKOFF_S = 0.5


@dataclass(frozen=True)
class RunConfig:
    gateway: str
    out_dir: Path
    model: str = "ensemble"
    api_key: str | None = None
    concurrency: int = 4
    request_timeout_s: float = 600.0
    sql_timeout_s: float = 30.0
    retries: int = 2
    n: int | None = None  # samples per generator; None: each generator's own (the stack's sampling.n)
    temperature: float | None = None  # None: each generator's own
    policy: str | None = None  # "full" or "adaptive"; None: the stack's gateway.sampling_policy
    threshold: float | None = None  # adaptive's agreement threshold; None: the stack's

    def sampling(self) -> dict[str, Any]:
        """The per-request sampling overrides sent with every ``/v1/sql`` call (only those set).

        >>> RunConfig("http://gw", Path("run"), n=1, temperature=0.01).sampling()
        {'n': 1, 'temperature': 0.01}
        >>> RunConfig("http://gw", Path("run"), policy="adaptive", threshold=1.0).sampling()
        {'sampling_policy': {'policy': 'adaptive', 'threshold': 1.0}}
        >>> RunConfig("http://gw", Path("run")).sampling()
        {}
        """
        fields: dict[str, Any] = {"n": self.n, "temperature": self.temperature}
        policy = {"policy": self.policy, "threshold": self.threshold}
        fields["sampling_policy"] = {k: v for k, v in policy.items() if v is not None} or None
        return {key: value for key, value in fields.items() if value is not None}


# What a resumed run must share with the run that wrote RUN_DIR: answers asked differently do not mix.
MANIFEST_KEYS = ("model", "n", "temperature", "policy", "threshold")


@dataclass(frozen=True)
class Failure:
    position: int
    question_id: int | str
    message: str


@dataclass
class RunState:
    """What a run has done so far; the CLI reads it for the progress bar and the final message."""

    total: int
    answered: dict[str, QuestionRecord] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    answered_now: int = 0
    started: float = field(default_factory=time.perf_counter)

    @property
    def correct(self) -> int:
        return sum(r.ensemble.correct for r in self.answered.values())

    @property
    def running_ex(self) -> float | None:
        return 100.0 * self.correct / len(self.answered) if self.answered else None

    @property
    def rate(self) -> float:
        elapsed = time.perf_counter() - self.started
        return self.answered_now / elapsed if elapsed > 0 else 0.0


def _error_message(response: httpx.Response) -> str:
    """The gateway's one error shape, ``{"error": {"message", ...}}``, or the start of the body."""
    try:
        body = response.json()
        message = body["error"]["message"]
        if isinstance(message, str):
            return message
    except (ValueError, KeyError, TypeError):
        pass
    return response.text[:200] or response.reason_phrase


class GatewayClient:
    """The few gateway calls the evaluator makes, over one ``httpx.AsyncClient``."""

    def __init__(self, config: RunConfig, transport: httpx.AsyncBaseTransport | None = None) -> None:
        headers = bearer_headers(config.api_key)
        self.base_url = config.gateway.rstrip("/").removesuffix("/v1")
        self.config = config
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(config.request_timeout_s, connect=10.0),
            limits=httpx.Limits(max_connections=config.concurrency + 2),
            transport=transport,
        )

    async def check(self) -> list[str]:
        """Raise ``GatewayCallError`` unless ``/health`` answers and ``/v1/models`` lists the model."""
        try:
            health = await self._client.get("/health", timeout=10.0)
            models = await self._client.get("/v1/models", timeout=10.0)
        except httpx.HTTPError as e:
            raise GatewayCallError(
                f"cannot reach the gateway at {self.base_url}: {e or type(e).__name__}"
            ) from e
        if health.status_code != 200:
            raise GatewayCallError(f"gateway at {self.base_url} is not healthy: HTTP {health.status_code}")
        if models.status_code != 200:
            raise GatewayCallError(f"gateway at {self.base_url}: /v1/models: {_error_message(models)}")
        try:
            ids = [str(card["id"]) for card in models.json()["data"]]
        except (ValueError, KeyError, TypeError) as e:
            raise GatewayCallError(f"gateway at {self.base_url}: /v1/models returned no model list") from e
        if self.config.model not in ids:
            raise GatewayCallError(
                f"gateway at {self.base_url} does not serve model {self.config.model!r}; "
                f"it serves: {', '.join(ids)}"
            )
        return ids

    async def ask(self, example: Example) -> GatewayResponse:
        body = {
            "model": self.config.model,
            "question": example.question,
            "db_id": example.db_id,
            "evidence": example.evidence or "",
            **self.config.sampling(),
        }
        try:
            response = await self._client.post("/v1/sql", json=body)
        except httpx.HTTPError as e:
            raise GatewayCallError(f"/v1/sql: {type(e).__name__}: {e}", retryable=True) from e
        if response.status_code != 200:
            raise GatewayCallError(
                f"/v1/sql: HTTP {response.status_code}: {_error_message(response)}",
                retryable=response.status_code in RETRY_STATUSES,
            )
        try:
            return GatewayResponse.model_validate_json(response.content)
        except ValidationError as e:
            raise GatewayCallError(
                f"/v1/sql: unexpected response: {format_validation(e.errors(), limit=1)}"
            ) from e

    async def aclose(self) -> None:
        await self._client.aclose()


def manifest_of(config: RunConfig) -> dict[str, object]:
    """What ``run.json`` records: how the answers were asked (``MANIFEST_KEYS``) and of which gateway.

    >>> manifest_of(RunConfig("http://gw", Path("run"), n=1))
    {'model': 'ensemble', 'n': 1, 'temperature': None, 'policy': None, 'threshold': None, 'gateway': 'http://gw'}
    """
    return {
        "model": config.model,
        "n": config.n,
        "temperature": config.temperature,
        "policy": config.policy,
        "threshold": config.threshold,
        "gateway": config.gateway,
    }


def check_manifest(out_dir: Path, config: RunConfig) -> None:
    """Refuse to resume a RUN_DIR whose results were asked of another model or with other sampling.

    A manifest written before ``n`` and ``temperature`` were recorded reads as the generators' own.
    """
    path = out_dir / MANIFEST_FILE
    if not path.exists():
        return
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise RunDirError(f"{path} is not valid JSON; choose another --out") from e
    wanted = manifest_of(config)
    for key in MANIFEST_KEYS:
        if previous.get(key) != wanted[key]:
            flag = "model" if key == "model" else key
            raise RunDirError(
                f"{out_dir} holds a run with --{flag} {_shown(previous.get(key))}, not "
                f"{_shown(wanted[key])}; use the same setting or choose another --out"
            )


def _shown(value: object) -> str:
    return "unset (each generator's own)" if value is None else repr(value)


def write_manifest(out_dir: Path, config: RunConfig) -> None:
    """Record how a RUN_DIR's answers were asked (and of which gateway), once the gateway has been checked."""
    path = out_dir / MANIFEST_FILE
    if not path.exists():
        path.write_text(json.dumps(manifest_of(config), indent=2) + "\n", encoding="utf-8")


def pending(examples: Sequence[Example], answered: dict[str, QuestionRecord]) -> list[tuple[int, Example]]:
    """The ``(position, example)`` pairs of the slice that have no answer yet."""
    return [(p, e) for p, e in enumerate(examples) if str(e.question_id) not in answered]


async def _ask_with_retries(client: GatewayClient, example: Example, retries: int) -> GatewayResponse:
    for attempt in range(retries + 1):
        try:
            return await client.ask(example)
        except GatewayCallError as e:
            if not e.retryable or attempt == retries:
                raise
            await asyncio.sleep(BACKOFF_S * 2**attempt)
    raise AssertionError("unreachable")


async def run_questions(
    config: RunConfig,
    examples: Sequence[Example],
    state: RunState,
    on_update: Callable[[RunState], None] = lambda state: None,
    on_ready: Callable[[], None] = lambda: None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> None:
    """Ask every pending question of ``examples`` and append each judged answer to ``results.jsonl``.

    Raises ``GatewayCallError`` before asking anything when the gateway is unusable; ``on_ready`` is called
    once the gateway has passed its checks, ``on_update`` after each question.
    """
    client = GatewayClient(config, transport)
    scorer = Scorer(timeout_s=config.sql_timeout_s)
    session = uuid.uuid4().hex[:12]
    semaphore = asyncio.Semaphore(config.concurrency)
    try:
        await client.check()
        write_manifest(config.out_dir, config)
        on_ready()
        with ResultsWriter(config.out_dir / RESULTS_FILE) as writer:

            async def one(position: int, example: Example) -> None:
                async with semaphore:
                    started_at = time.time()
                    start = time.perf_counter()
                    try:
                        response = await _ask_with_retries(client, example, config.retries)
                    except GatewayCallError as e:
                        state.failures.append(Failure(position, example.question_id, str(e)))
                        on_update(state)
                        return
                    asked = Asked(
                        position=position,
                        question_id=example.question_id,
                        db_id=example.db_id,
                        difficulty=example.difficulty or "unknown",
                        question=example.question,
                        gold_sql=example.sql,
                        db_path=Path(example.db_path),
                        latency_ms=(time.perf_counter() - start) * 1000.0,
                        session=session,
                        started_at=started_at,
                    )
                    try:
                        record = await asyncio.to_thread(assess, asked, response, scorer)
                    except SqlEnsembleError as e:
                        state.failures.append(Failure(position, example.question_id, f"scoring: {e}"))
                        on_update(state)
                        return
                    writer.write(record)
                    state.answered[str(example.question_id)] = record
                    state.answered_now += 1
                    on_update(state)

            async with asyncio.TaskGroup() as group:
                for position, example in pending(examples, state.answered):
                    group.create_task(one(position, example))
    finally:
        await client.aclose()


def load_state(out_dir: Path, examples: Sequence[Example]) -> RunState:
    """The answered questions of this slice already in ``results.jsonl``."""
    ids = {str(e.question_id) for e in examples}
    done = {str(r.question_id): r for r in read_results(out_dir / RESULTS_FILE) if str(r.question_id) in ids}
    return RunState(total=len(examples), answered=done)
