"""What ``/openapi.json`` promises: every status a route can answer, with the one error model, and the
Bearer scheme on ``/v1`` when keys are configured. The tables here are data the routers pass to FastAPI;
``tests/ensemble/test_openapi.py`` fuzzes the published schema against the running app.

    every route       413 (body above gateway.max_body_bytes), 500 (internal error)
    /v1/*             + 401 (missing or wrong key; only when keys are configured)
    /v1/sql, chat     + 400 (a limit, bad JSON), 404 (model, db_id), 422 (schema), 503 (generators)
    /ready            + 503 (not ready: the readiness report with an ``error``)
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from sqlensemble.ensemble.protocol import ErrorResponse

WHY: dict[int, str] = {
    400: "A limit was passed (question length, n, candidates, max_rows) or the body is not JSON",
    401: "Missing or invalid API key (only when the gateway has keys configured)",
    404: "Unknown model, database or route",
    413: "The request body is above gateway.max_body_bytes",
    422: "The body does not match the schema (including text that is not valid Unicode)",
    500: "Internal error; the message carries no detail",
    503: "Every generator failed; the message says why, each reason short and redacted",
}

ALWAYS = (413, 500)
V1 = (*ALWAYS, 401)
COMPLETIONS = (*V1, 400, 404, 422, 503)


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """FastAPI's ``responses=`` for ``codes``, each with the error model.

    >>> sorted(error_responses(404, 400))
    [400, 404]
    """
    return {code: {"model": ErrorResponse, "description": WHY[code]} for code in sorted(codes)}


BEARER = {"bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer KEY"}}


def install_openapi(app: FastAPI, *, secured: bool) -> None:
    """Build the schema once, on first request, adding the Bearer scheme to ``/v1`` when ``secured``."""

    def schema() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        if secured:
            document.setdefault("components", {})["securitySchemes"] = BEARER
            for path, operations in document.get("paths", {}).items():
                if path.startswith("/v1/"):
                    for operation in operations.values():
                        operation["security"] = [{"bearer": []}]
        else:  # an open gateway never answers 401
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("401", None)
        app.openapi_schema = document
        return document

    app.openapi = schema  # type: ignore[method-assign]
