"""One request's candidates, pipelined: generation, extraction, the guard and execution overlap.

    every generator called at once
      -> as each one answers: extract and guard its samples (each distinct text parsed once per request)
      -> each new normalized statement starts executing at once (cache first, then an SQL worker)
    -> when the last generator has answered and every statement has its result: the drafts, the results

So a fast generator's candidates are executed while a slow one is still generating, and the request
waits for the slowest generator plus only what is left of execution after it. One request holds at most
``gateway.request_workers()`` SQL workers at a time. Everything that happens to one generator or one
candidate stays a value (a failed :class:`~sqlensemble.ensemble.generation.Generation`, a draft's
status, an :class:`~sqlensemble.executor.ExecResult`); only a database file that cannot be opened
raises (``CatalogError``), after the statements still running are cancelled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sqlensemble.ensemble.candidates import Draft, draft_generation
from sqlensemble.ensemble.generation import Generation, ResponseLimits, SamplingRequest, sample
from sqlensemble.ensemble.metrics import GatewayMetrics
from sqlensemble.executor import ExecResult
from sqlensemble.guard import GuardResult
from sqlensemble.result_cache import CacheKey, FileVersion, ResultCache, cache_key
from sqlensemble.stack import GatewayConfig
from sqlensemble.workers import Executor

# A generation whose texts are longer than this together is extracted and guarded in a thread; shorter
# ones (the usual few hundred characters) cost less than the thread hop, so they run on the loop.
INLINE_DRAFT_CHARS = 4096


@dataclass(frozen=True)
class Outcome:
    """What the pipeline produced for one request, in generator order."""

    generations: list[Generation]
    drafts: list[Draft]
    results: dict[str, ExecResult]  # normalized SQL -> its result
    generation_s: float  # until the slowest generator answered
    execution_ms: float  # after that, until every statement had its result
    cancelled: list[str] = field(default_factory=list)  # generators stopped early (``stop`` said so)


@dataclass(frozen=True)
class Partial:
    """What has come back so far: every finished generator's drafts, executed, and the calls pending."""

    generations: list[Generation]
    drafts: list[Draft]
    results: dict[str, ExecResult]
    pending: list[SamplingRequest]


StopCheck = Callable[[Partial], bool]


@dataclass
class Pipeline:
    """What every request's pipeline shares: the pooled client, the SQL workers, the result cache."""

    client: httpx.AsyncClient
    executor: Executor
    cache: ResultCache
    gateway: GatewayConfig
    metrics: GatewayMetrics

    async def run(
        self,
        calls: list[SamplingRequest],
        counts: list[int],
        db_path: Path,
        max_rows: int,
        stop: StopCheck | None = None,
    ) -> Outcome:
        """Every call's candidates, executed. With ``stop``, it is asked after each generator's
        candidates have executed; when it answers true, the calls still outstanding are cancelled
        (their HTTP requests closed, so the engines stop generating) and left out of the outcome."""
        limits = ResponseLimits.of(self.gateway)
        share = asyncio.Semaphore(self.gateway.request_workers())
        # The file's version once per request (a few stats and a 100-byte read), not per statement.
        version = self.cache.version(db_path)
        seen: dict[str, Draft] = {}
        executions: dict[str, asyncio.Task[ExecResult]] = {}
        generations: list[Generation | None] = [None] * len(calls)
        drafts: list[list[Draft]] = [[] for _ in calls]
        start = time.perf_counter()

        async def one(k: int, call: SamplingRequest) -> None:
            generation = await sample(self.client, call, limits)
            generations[k] = generation
            if sum(len(t) for t in generation.texts) > INLINE_DRAFT_CHARS:
                drafts[k] = await asyncio.to_thread(
                    draft_generation, call.generator, generation, counts[k], seen
                )
            else:
                drafts[k] = draft_generation(call.generator, generation, counts[k], seen)
            for d in drafts[k]:
                if d.normalized is not None and d.checked is not None and d.normalized not in executions:
                    executions[d.normalized] = asyncio.create_task(
                        self.execute(db_path, version, d.checked, max_rows, share)
                    )
            if stop is not None:
                await asyncio.gather(*(executions[d.normalized] for d in drafts[k] if d.normalized))
                finished[k] = True
                if stop(partial()):
                    settled.set()

        def partial() -> Partial:
            done = [k for k in range(len(calls)) if finished[k]]
            return Partial(
                generations=[g for k in done if (g := generations[k]) is not None],
                drafts=[d for k in done for d in drafts[k]],
                results={sql: t.result() for sql, t in executions.items() if t.done() and not t.cancelled()},
                pending=[calls[k] for k in range(len(calls)) if not finished[k]],
            )

        finished = [False] * len(calls)
        settled = asyncio.Event()
        tasks = [asyncio.create_task(one(k, call)) for k, call in enumerate(calls)]
        cancelled: list[str] = []
        try:
            if stop is None:
                await asyncio.gather(*tasks)
            else:
                waiter = asyncio.create_task(settled.wait())
                everything = asyncio.gather(*tasks)
                race: set[asyncio.Future[Any]] = {waiter, everything}
                await asyncio.wait(race, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if everything.done():
                    everything.result()  # a database that cannot be opened raises here
                else:
                    everything.cancel()
                    cancelled = [c.generator.name for k, c in enumerate(calls) if not finished[k]]
                    for k in range(len(calls)):
                        if not finished[k]:
                            generations[k], drafts[k] = None, []
            generated = time.perf_counter()
            needed = list(
                dict.fromkeys(d.normalized for per_call in drafts for d in per_call if d.normalized)
            )
            results = await asyncio.gather(*(executions[sql] for sql in needed))
        finally:
            for task in [*tasks, *executions.values()]:
                task.cancel()  # only those still running: a failed statement or a cancelled request
        execution_ms = round((time.perf_counter() - generated) * 1000, 3)
        by_statement = dict(zip(needed, results, strict=True))
        self.remember(db_path, version, by_statement, max_rows)
        return Outcome(
            generations=[g for g in generations if g is not None],
            drafts=[d for per_call in drafts for d in per_call],
            results=by_statement,
            generation_s=generated - start,
            execution_ms=execution_ms,
            cancelled=cancelled,
        )

    def key(self, version: FileVersion, normalized: str, max_rows: int) -> CacheKey:
        return cache_key(version, normalized, max_rows, self.gateway.max_result_bytes)

    async def execute(
        self,
        db_path: Path,
        version: FileVersion | None,
        checked: GuardResult,
        max_rows: int,
        share: asyncio.Semaphore,
    ) -> ExecResult:
        """One statement: from the cache when this file version has its result, else in a worker."""
        if version is not None and checked.normalized is not None:
            cached = self.cache.get(self.key(version, checked.normalized, max_rows))
            self.metrics.exec_cache.labels("hit" if cached else "miss").inc()
            if cached is not None:
                return cached
        gateway = self.gateway
        async with share:
            return await self.executor.run(
                db_path,
                checked.sql,
                timeout_s=gateway.sql_timeout_s,
                max_rows=max_rows,
                max_result_bytes=gateway.max_result_bytes,
                checked=checked,
            )

    def remember(
        self, db_path: Path, version: FileVersion | None, results: dict[str, ExecResult], max_rows: int
    ) -> None:
        """Keep the request's results, only when the file is still in the state it was in before the
        first of them ran (the cache keeps only those that succeeded)."""
        if version is None or not results or self.cache.version(db_path) != version:
            return
        for normalized, result in results.items():
            self.cache.put(self.key(version, normalized, max_rows), result)
