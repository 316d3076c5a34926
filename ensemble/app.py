"""The app factory. Nothing is built at import time: ``build_app(stack)`` returns a FastAPI app whose
lifespan opens the pooled backend client and the SQL executor and closes them on shutdown.

    from sqlensemble.stack import load_stack
    app = build_app(load_stack("configs/stack.cpu.yaml"))

``transport`` is the seam for tests: an ``httpx.MockTransport`` that scripts the generators' answers,
or ``None`` for real HTTP to the configured ``base_url``s, through aiohttp's connection pool
(``httpx_aiohttp``): httpcore's pool rescans every connection, and polls each idle socket, whenever a
request starts or ends, which at 64 backend calls in flight cost the gateway most of its CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from httpx_aiohttp import AiohttpTransport

from sqlensemble import __version__
from sqlensemble.catalog import Catalog
from sqlensemble.ensemble.auth import ApiKeyMiddleware
from sqlensemble.ensemble.errors import install_error_handlers
from sqlensemble.ensemble.limits import BodyLimitMiddleware
from sqlensemble.ensemble.metrics import RequestMetricsMiddleware, make_metrics, multiprocess
from sqlensemble.ensemble.openapi import install_openapi
from sqlensemble.ensemble.pipeline import Pipeline
from sqlensemble.ensemble.playground import playground
from sqlensemble.ensemble.routers import api, probes
from sqlensemble.ensemble.service import EnsembleService
from sqlensemble.result_cache import ResultCache
from sqlensemble.stack import StackConfig
from sqlensemble.workers import Executor

# Connections kept to the generators: every generator gets one request per gateway request.
MAX_CONNECTIONS = 256
MAX_KEEPALIVE = 64
STACK_ENV = "SQLENSEMBLE_GATEWAY_STACK_FILE"  # the stack file each of several gateway workers loads
GAUGE_REFRESH_S = 1.0  # how often a worker writes its gauges when metrics are shared between workers


async def _every(seconds: float, update: Callable[[], None]) -> None:
    while True:
        update()
        await asyncio.sleep(seconds)


def app_from_env() -> FastAPI:
    """The app factory uvicorn's worker processes call (``gateway.workers`` > 1): the stack file named
    by :data:`STACK_ENV`, with the same environment overrides as the parent."""
    from sqlensemble.stack import load_stack

    return build_app(load_stack(os.environ[STACK_ENV]))


def build_app(settings: StackConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """A gateway app for ``settings`` (already validated by ``load_stack``)."""
    metrics = make_metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        longest = max(g.timeout_s for g in settings.generators)
        limits = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_KEEPALIVE)
        client = httpx.AsyncClient(
            transport=transport or AiohttpTransport(limits=limits),
            timeout=httpx.Timeout(longest),
            limits=limits,
        )
        gateway = settings.gateway
        executor = Executor(
            gateway.executor_workers,
            max_workers=gateway.max_workers(),
            memory_bytes=gateway.sql_worker_memory_bytes,
        )
        metrics.gateway_workers.set(1)
        shared = multiprocess()
        refresher: asyncio.Task[None] | None = None
        if shared:  # callbacks are not seen by the other workers: write the values, every second

            def refresh() -> None:
                metrics.sql_workers.set(len(executor.pool.pids()))
                metrics.sql_workers_replaced.set(executor.pool.replaced)

            refresher = asyncio.create_task(_every(GAUGE_REFRESH_S, refresh))
        else:
            metrics.sql_workers.set_function(lambda: len(executor.pool.pids()))
            metrics.sql_workers_replaced.set_function(lambda: executor.pool.replaced)
        cache = ResultCache(
            gateway.exec_cache_entries, gateway.exec_cache_bytes, racy_s=gateway.exec_cache_racy_s
        )
        app.state.service = EnsembleService(
            stack=settings,
            catalog=Catalog(settings.databases.root),
            client=client,
            executor=executor,
            metrics=metrics,
            pipeline=Pipeline(client, executor, cache, gateway, metrics),
        )
        try:
            yield
        finally:
            if refresher is not None:
                refresher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await refresher
            await client.aclose()
            executor.close()
            if shared:
                from prometheus_client.multiprocess import mark_process_dead

                mark_process_dead(os.getpid())  # this worker's live gauges leave the sums

    app = FastAPI(
        title="sqlensemble gateway",
        version=__version__,
        description="Samples SQL from several generators, executes the candidates read-only and votes.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.api_keys = settings.gateway.api_keys()
    app.state.started_at = time.time()
    install_error_handlers(app)
    install_openapi(app, secured=bool(app.state.api_keys))
    app.include_router(api)
    app.include_router(probes)
    app.include_router(playground)
    # Added last = outermost: the key is checked before the body is read, the body limit refuses before
    # anything is parsed; metrics see every reply.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.gateway.max_body_bytes)
    app.add_middleware(ApiKeyMiddleware, keys=app.state.api_keys)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    return app
