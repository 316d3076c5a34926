"""The gateway's work: question in, voted SQL out.

    resolve model and db_id -> prompt per generator (shared builder, catalog-cached schema text)
    -> fan out to every generator at once (one pooled client, n samples each)
    -> as each answers: extract SQL and guard it, execute each new normalized SQL at once (pipeline.py)
    -> vote -> SqlResponse

Only request-level failures raise (unknown model or database, a limit, every generator failed);
everything that happens to a single candidate is a value in the response.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from sqlensemble.catalog import Catalog
from sqlensemble.ensemble.candidates import Draft, Weighing
from sqlensemble.ensemble.errors import NotFoundError, ServiceUnavailableError
from sqlensemble.ensemble.generation import Generation, ResponseLimits, SamplingRequest, probe
from sqlensemble.ensemble.limits import check_max_rows, check_question, check_samples
from sqlensemble.ensemble.metrics import GatewayMetrics
from sqlensemble.ensemble.pipeline import Pipeline
from sqlensemble.ensemble.policy import draw
from sqlensemble.ensemble.policy import resolve as resolve_policy
from sqlensemble.ensemble.protocol import (
    CandidateBody,
    ClusterBody,
    ResultBody,
    SelectionBody,
    SqlRequest,
    SqlResponse,
    Timings,
    Usage,
)
from sqlensemble.ensemble.selection import choose, group_of
from sqlensemble.executor import ExecResult, json_value
from sqlensemble.grounding import grounding_text
from sqlensemble.prompts import build_messages
from sqlensemble.stack import ENSEMBLE_MODEL, GeneratorConfig, SchemaView, StackConfig, schema_view
from sqlensemble.voting import Candidate, Cluster, Decision
from sqlensemble.workers import Executor

READY_PROBE_TIMEOUT_S = 5.0


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)


@dataclass
class EnsembleService:
    """Holds what every request shares: the stack, the catalog, the pooled client, the executor and
    the execution cache (in ``pipeline``)."""

    stack: StackConfig
    catalog: Catalog
    client: httpx.AsyncClient
    executor: Executor
    metrics: GatewayMetrics
    pipeline: Pipeline

    def generators_for(self, model: str) -> list[GeneratorConfig]:
        """``ensemble`` -> every generator; a generator's name -> that one; else 404."""
        if model == ENSEMBLE_MODEL:
            return list(self.stack.generators)
        generator = self.stack.generator(model)
        if generator is None:
            known = ", ".join([ENSEMBLE_MODEL, *(g.name for g in self.stack.generators)])
            raise NotFoundError(
                f"unknown model {model!r}; choose from {known}", param="model", code="model_not_found"
            )
        return [generator]

    async def complete(self, request: SqlRequest) -> SqlResponse:
        start = time.perf_counter()
        gateway = self.stack.gateway
        generators = self.generators_for(request.model)
        check_question(request.question, gateway)
        counts = [request.n or g.sampling.n for g in generators]
        check_samples(request.n, counts, gateway)
        max_rows = check_max_rows(request.max_rows, gateway)
        database = self.catalog.resolve(request.db_id)

        selection = self.stack.selection
        mode = request.selection or selection.mode
        selector_view = schema_view(selection.prompt)
        views = {schema_view(g.prompt) for g in generators}
        texts = await self._schema_texts(
            request.db_id, views | ({selector_view} if mode == "model" else set())
        )
        calls = [
            SamplingRequest(
                generator=g,
                messages=build_messages(
                    g.prompt.template,
                    g.prompt.dialect,
                    texts[schema_view(g.prompt)],
                    request.question,
                    request.evidence,
                ),
                n=count,
                temperature=g.sampling.temperature if request.temperature is None else request.temperature,
            )
            for g, count in zip(generators, counts, strict=True)
        ]
        equivalence = request.equivalence or gateway.equivalence
        config = resolve_policy(gateway.sampling_policy, request.sampling_policy)
        weighing = Weighing(
            grounding_text(request.question, request.evidence),
            gateway.ungrounded_weight,
            gateway.empty_weight,
        )
        outcome = await draw(self.pipeline, calls, database.path, max_rows, config, equivalence, weighing)
        generations, drafts = outcome.generations, outcome.drafts
        self._observe_generations(generations, outcome.generation_s)
        if all(g.failed for g in generations):
            # Each reason is already short and redacted (generation.sample quotes backends via snippet).
            raise ServiceUnavailableError(
                "every generator failed: " + "; ".join(str(g.error) for g in generations),
                code="all_generators_failed",
            )
        execution_ms, voting_ms = outcome.execution_ms, outcome.voting_ms
        candidates, decision = outcome.candidates, outcome.decision
        self._observe_decision(candidates, decision, execution_ms, voting_ms)

        selected = await choose(
            self.client,
            selection,
            mode,
            decision,
            candidates,
            db_id=request.db_id,
            question=request.question,
            evidence=request.evidence,
            schema_text=texts.get(selector_view),
            limits=ResponseLimits.of(gateway),
        )
        self.metrics.selection.labels(_selection_outcome(selected.trail)).inc()
        winner, confidence = decision.winner, decision.confidence
        if selected.cluster is not None and selected.cluster != decision.cluster:
            chosen = decision.clusters[selected.cluster]
            winner = candidates[chosen.representative]
            total = sum(c.weight for c in candidates)
            confidence = chosen.weight / total if total > 0 else 0.0

        return_rows = gateway.return_rows if request.return_rows is None else request.return_rows
        return SqlResponse(
            id=f"sql-{uuid.uuid4().hex}",
            created=int(time.time()),
            model=request.model,
            sql=winner.sql,
            status=decision.status,
            confidence=round(confidence, 6),
            result=(
                result_body(winner.result, return_rows, gateway.max_response_bytes)
                if decision.status == "ok"
                else None
            ),
            candidates=candidate_bodies(drafts, candidates, decision, weighing),
            clusters=[cluster_body(c, candidates) for c in decision.clusters],
            failed_generators=list(dict.fromkeys(g.generator for g in generations if g.failed)),
            usage=usage_of(generations),
            timings=Timings(
                generation_ms=outcome.generation_ms,
                execution_ms=execution_ms,
                voting_ms=voting_ms,
                total_ms=_ms(start),
            ),
            sampling=outcome.trail,
            selection=selected.trail,
        )

    async def _schema_texts(self, db_id: str, views: set[SchemaView]) -> dict[SchemaView, str]:
        # The first request per database reads and renders the schema (seconds on a large one): off the
        # loop. Later ones find the text cached and skip the thread hop.
        texts: dict[SchemaView, str] = {}
        for view in views:
            cached = self.catalog.cached_schema_text(db_id, *view)
            if cached is None:
                cached = await asyncio.to_thread(self.catalog.schema_text, db_id, *view)
            texts[view] = cached
        return texts

    def _observe_generations(self, generations: list[Generation], seconds: float) -> None:
        self.metrics.stage_seconds.labels("generation").observe(seconds)
        for g in generations:
            self.metrics.generator_seconds.labels(g.generator).observe(g.elapsed_ms / 1000)
            if g.failure is not None:
                self.metrics.backend_errors.labels(g.generator, g.failure).inc()

    def _observe_decision(
        self, candidates: list[Candidate], decision: Decision, execution_ms: float, voting_ms: float
    ) -> None:
        self.metrics.stage_seconds.labels("execution").observe(execution_ms / 1000)
        self.metrics.stage_seconds.labels("voting").observe(voting_ms / 1000)
        for c in candidates:
            self.metrics.candidates.labels(c.generator, c.status).inc()
        if decision.status == "ok":
            self.metrics.vote_agreement.observe(decision.confidence)

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Every generator serving its model and at least one database under the root."""
        backends = list(self.stack.generators)
        selection = self.stack.selection
        if selection.mode == "model":  # the selector is probed too: a stack that consults it needs it
            backends.append(selection.as_backend())
        timeout = min(READY_PROBE_TIMEOUT_S, *(g.timeout_s for g in backends))
        probes = await asyncio.gather(*(probe(self.client, g, timeout) for g in backends))
        n = len(self.stack.generators)
        generators = {g.name: p for g, p in zip(backends[:n], probes[:n], strict=True)}
        db_ids = await asyncio.to_thread(self.catalog.db_ids)
        databases = {"ready": bool(db_ids), "count": len(db_ids), "root": str(self.catalog.root)}
        ready = bool(db_ids) and all(p["ready"] for p in probes)
        status = "ready" if ready else "not_ready"
        body: dict[str, Any] = {"status": status, "generators": generators, "databases": databases}
        if selection.mode == "model":
            body["selector"] = {"model": selection.model, **probes[n]}
        return ready, body


def _selection_outcome(trail: SelectionBody) -> str:
    if not trail.consulted:
        return "not_consulted"
    if trail.selector_cluster is None:
        return "fell_back"
    return "agreed" if trail.selector_cluster == trail.vote_cluster else "overruled"


def cluster_body(cluster: Cluster, candidates: list[Candidate]) -> ClusterBody:
    """A cluster in the response: its answer's SQL and the first rows of its result (as shown to a
    selection model, :func:`sqlensemble.ensemble.selection.group_of`)."""
    group = group_of(cluster, candidates)
    return ClusterBody(
        id=cluster.id,
        size=cluster.size,
        weight=cluster.weight,
        sql=group.sql,
        columns=list(group.columns),
        preview=[list(row) for row in group.rows],
        row_count=group.row_count,
    )


def result_body(result: ExecResult | None, return_rows: bool, max_bytes: int) -> ResultBody | None:
    """The winner's rows as JSON values, cut where their JSON passes ``max_bytes``.

    ``truncated_by`` says which cap cut them: ``max_rows`` (the executor fetched no more) or
    ``max_response_bytes`` (the rows did not fit in the response). ``row_count`` counts fetched rows.

    >>> from sqlensemble.executor import ExecResult
    >>> r = ExecResult("ok", ("s",), (("a" * 10,), ("b" * 10,)), False, 1.0, None, "SELECT s FROM t")
    >>> body = result_body(r, True, 20)
    >>> body.rows, body.truncated, body.truncated_by
    ([['aaaaaaaaaa']], True, 'max_response_bytes')
    """
    if result is None:
        return None
    rows: list[list[Any]] = []
    size = 0
    cut = False
    for row in result.rows if return_rows else ():
        values = [json_value(v) for v in row]
        size += len(json.dumps(values, ensure_ascii=False).encode()) + 1
        if size > max_bytes:
            cut = True
            break
        rows.append(values)
    truncated_by: Literal["max_rows", "max_response_bytes"] | None = None
    if cut:
        truncated_by = "max_response_bytes"
    elif result.truncated:
        truncated_by = "max_rows"
    return ResultBody(
        columns=list(result.columns),
        rows=rows,
        row_count=len(result.rows),
        truncated=truncated_by is not None,
        truncated_by=truncated_by,
    )


def candidate_bodies(
    drafts: list[Draft], candidates: list[Candidate], decision: Decision, weighing: Weighing
) -> list[CandidateBody]:
    return [
        CandidateBody(
            generator=c.generator,
            index=c.index,
            raw=d.raw,
            sql=c.sql,
            status=c.status,
            error=c.error_message,
            cluster=cluster,
            row_count=len(c.result.rows) if c.result is not None else None,
            exec_ms=round(c.result.elapsed_ms, 3) if c.result is not None else None,
            weight=round(c.weight, 6),
            ungrounded=list(weighing.missing(d)),
        )
        for d, c, cluster in zip(drafts, candidates, decision.assignments, strict=True)
    ]


def usage_of(generations: list[Generation]) -> Usage:
    prompt = sum(g.prompt_tokens for g in generations)
    completion = sum(g.completion_tokens for g in generations)
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)
