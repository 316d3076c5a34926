"""Prometheus metrics of one gateway app, in the app's own registry (two apps in one process, as in the
tests, never share counters).

With ``gateway.workers`` above 1 the gateway runs in several processes, and ``sqlensemble gateway``
sets ``PROMETHEUS_MULTIPROC_DIR`` (a fresh folder per start) before any of them imports
``prometheus_client``: every process then writes its values there, and ``/metrics``, whichever process
answers it, renders all of them through a ``MultiProcessCollector`` (counters and histograms summed,
the gauges by their ``multiprocess_mode``: ``livesum`` over the processes alive).

    sqlensemble_requests_total{endpoint, status}        every HTTP request, by route template and code
    sqlensemble_request_seconds{endpoint}               latency of every HTTP request
    sqlensemble_stage_seconds{stage}                    generation (slowest generator), execution, voting
    sqlensemble_generator_seconds{generator}            each generator's call
    sqlensemble_candidates_total{generator, status}     candidate outcomes (ok, empty, error, timeout, ...)
    sqlensemble_vote_agreement                          the winning cluster's share of the vote weight
    sqlensemble_backend_errors_total{generator, kind}   failed generator calls (timeout, connect, ...)
    sqlensemble_exec_cache_total{outcome}               execution-cache lookups: hit, miss
    sqlensemble_gateway_workers                         gateway processes alive (1 unless gateway.workers)
    sqlensemble_sql_workers                             SQL worker processes alive now
    sqlensemble_sql_workers_replaced                    SQL workers killed at a deadline or found dead
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess() -> bool:
    """Whether this process writes its metrics to the shared folder (several gateway workers)."""
    return bool(os.environ.get(MULTIPROC_ENV))


LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
AGREEMENT_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


@dataclass(frozen=True)
class GatewayMetrics:
    registry: CollectorRegistry
    requests: Counter
    request_seconds: Histogram
    stage_seconds: Histogram
    generator_seconds: Histogram
    candidates: Counter
    vote_agreement: Histogram
    backend_errors: Counter
    exec_cache: Counter
    selection: Counter
    gateway_workers: Gauge
    sql_workers: Gauge
    sql_workers_replaced: Gauge

    def render(self) -> bytes:
        if multiprocess():
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


def make_metrics() -> GatewayMetrics:
    registry = CollectorRegistry()
    return GatewayMetrics(
        registry=registry,
        requests=Counter(
            "sqlensemble_requests", "HTTP requests", ["endpoint", "status"], registry=registry
        ),
        request_seconds=Histogram(
            "sqlensemble_request_seconds", "HTTP request latency", ["endpoint"],
            buckets=LATENCY_BUCKETS, registry=registry,
        ),
        stage_seconds=Histogram(
            "sqlensemble_stage_seconds", "latency per pipeline stage", ["stage"],
            buckets=LATENCY_BUCKETS, registry=registry,
        ),
        generator_seconds=Histogram(
            "sqlensemble_generator_seconds", "latency per generator call", ["generator"],
            buckets=LATENCY_BUCKETS, registry=registry,
        ),
        candidates=Counter(
            "sqlensemble_candidates", "candidates by outcome", ["generator", "status"], registry=registry
        ),
        vote_agreement=Histogram(
            "sqlensemble_vote_agreement", "winning cluster's share of the vote weight",
            buckets=AGREEMENT_BUCKETS, registry=registry,
        ),
        backend_errors=Counter(
            "sqlensemble_backend_errors", "failed generator calls", ["generator", "kind"], registry=registry
        ),
        exec_cache=Counter(
            "sqlensemble_exec_cache", "execution-cache lookups", ["outcome"], registry=registry
        ),
        selection=Counter(
            "sqlensemble_selection", "answers by who chose them (not_consulted, agreed, overruled, "
            "fell_back)", ["outcome"], registry=registry,
        ),
        gateway_workers=Gauge(
            "sqlensemble_gateway_workers", "gateway processes alive", registry=registry,
            multiprocess_mode="livesum",
        ),
        sql_workers=Gauge(
            "sqlensemble_sql_workers", "SQL worker processes alive", registry=registry,
            multiprocess_mode="livesum",
        ),
        sql_workers_replaced=Gauge(
            "sqlensemble_sql_workers_replaced", "SQL workers killed at a deadline or found dead",
            registry=registry, multiprocess_mode="livesum",
        ),
    )  # fmt: skip


class RequestMetricsMiddleware:
    """Counts every request and its latency under the matched route's template (``unmatched`` for
    unknown paths, so a scan cannot blow up the label set)."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(endpoint, str(status)).inc()
            self.metrics.request_seconds.labels(endpoint).observe(time.perf_counter() - start)
