"""The HTTP routes: thin functions that find the service on ``app.state`` and call it.

    POST /v1/sql               the gateway's own API (SqlRequest -> SqlResponse)
    POST /v1/chat/completions  OpenAI chat completions, optionally streamed as SSE
    GET  /v1/models            "ensemble" and every generator
    GET  /v1/databases         the database ids and their tables
    GET  /v1/databases/{db_id}/schema  one database's tables, columns and foreign keys
    GET  /health               the process is alive
    GET  /ready                every generator (and the selector) serving, databases present (else 503)
    GET  /metrics              Prometheus text format

The ``/v1`` routes need a Bearer key when keys are configured; the probes and metrics do not.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST

from sqlensemble.ensemble.chat import stream_events, to_chat_response, to_sql_request
from sqlensemble.ensemble.errors import ServiceUnavailableError, error_body
from sqlensemble.ensemble.metrics import GatewayMetrics
from sqlensemble.ensemble.openapi import ALWAYS, COMPLETIONS, V1, error_responses
from sqlensemble.ensemble.protocol import (
    ChatCompletionRequest,
    ChatCompletionResponse,
    DatabaseCard,
    DatabaseList,
    HealthResponse,
    ModelCard,
    ModelList,
    ReadyResponse,
    SchemaResponse,
    SqlRequest,
    SqlResponse,
    schema_response,
)
from sqlensemble.ensemble.service import EnsembleService
from sqlensemble.stack import ENSEMBLE_MODEL

api = APIRouter(prefix="/v1")  # the Bearer key is checked in front of it (auth.ApiKeyMiddleware)
probes = APIRouter()


class PrometheusResponse(PlainTextResponse):
    media_type = CONTENT_TYPE_LATEST


CHAT_200 = {
    "model": ChatCompletionResponse,
    "description": "The chat completion; with stream=true, server-sent events ending in [DONE]",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}


def service_of(request: Request) -> EnsembleService:
    service: EnsembleService = request.app.state.service
    return service


@api.post("/sql", response_model=SqlResponse, responses=error_responses(*COMPLETIONS))
async def create_sql(body: SqlRequest, request: Request) -> SqlResponse:
    return await service_of(request).complete(body)


@api.post(
    "/chat/completions", response_model=None, responses={200: CHAT_200, **error_responses(*COMPLETIONS)}
)
async def create_chat_completion(
    body: ChatCompletionRequest, request: Request
) -> ChatCompletionResponse | StreamingResponse:
    answer = await service_of(request).complete(to_sql_request(body))
    if body.stream:
        return StreamingResponse(
            stream_events(answer),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    return to_chat_response(answer)


@api.get("/models", response_model=ModelList, responses=error_responses(*V1))
async def list_models(request: Request) -> ModelList:
    service = service_of(request)
    created = int(request.app.state.started_at)
    names = [ENSEMBLE_MODEL, *(g.name for g in service.stack.generators)]
    return ModelList(data=[ModelCard(id=name, created=created) for name in names])


@api.get("/databases", response_model=DatabaseList, responses=error_responses(*V1))
async def list_databases(request: Request) -> DatabaseList:
    catalog = service_of(request).catalog

    def cards() -> list[DatabaseCard]:
        return [DatabaseCard(id=db_id, tables=catalog.tables(db_id)) for db_id in catalog.db_ids()]

    return DatabaseList(data=await asyncio.to_thread(cards))


@api.get("/databases/{db_id}/schema", response_model=SchemaResponse, responses=error_responses(*V1, 404, 422))
async def get_database_schema(db_id: str, request: Request) -> SchemaResponse:
    catalog = service_of(request).catalog
    return schema_response(await asyncio.to_thread(catalog.schema, db_id))


@probes.get("/health", response_model=HealthResponse, responses=error_responses(*ALWAYS))
async def health(request: Request) -> HealthResponse:
    return HealthResponse(uptime_s=round(time.time() - request.app.state.started_at, 3))


READY_503 = {"model": ReadyResponse, "description": "Not ready: the same report, with an error saying why"}


@probes.get("/ready", response_model=ReadyResponse, responses={503: READY_503, **error_responses(*ALWAYS)})
async def ready(request: Request) -> JSONResponse:
    ok, report = await service_of(request).readiness()
    if ok:
        return JSONResponse(report)
    down = [name for name, g in report["generators"].items() if not g["ready"]]
    reasons = [f"generators not ready: {', '.join(down)}"] if down else []
    selector = report.get("selector")
    if selector is not None and not selector["ready"]:
        reasons.append(f"selector not ready: {selector['model']}")
    if not report["databases"]["ready"]:
        reasons.append("no databases under the root")
    error = ServiceUnavailableError("; ".join(reasons), code="not_ready")
    return JSONResponse({**report, **error_body(error)}, status_code=error.status_code)


@probes.get("/metrics", response_class=PrometheusResponse, responses=error_responses(*ALWAYS))
async def metrics(request: Request) -> PrometheusResponse:
    """Prometheus text exposition format."""
    registry: GatewayMetrics = request.app.state.metrics
    return PrometheusResponse(registry.render())
