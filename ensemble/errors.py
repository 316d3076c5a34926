"""Request-level errors of the gateway and their one wire shape.

    GatewayError                    500 internal_error
    ├── InvalidRequestError         400 invalid_request_error   (a limit, a missing db_id, bad JSON)
    │   └── PayloadTooLargeError    413 invalid_request_error   (body above gateway.max_body_bytes)
    ├── UnprocessableRequestError   422 invalid_request_error   (the body does not match the schema)
    ├── AuthenticationError         401 authentication_error
    ├── NotFoundError               404 not_found_error         (unknown model, db_id or route)
    └── ServiceUnavailableError     503 service_unavailable     (every generator failed)

``GatewayError`` is a ``SqlEnsembleError`` (the core's root). Candidates that fail are values inside a
response, never these. Everything leaves the process as

    {"error": {"message": "...", "type": "...", "param": "..." | null, "code": "..." | null}}

through the handlers that :func:`install_error_handlers` registers: ours, the core's
``UnknownDatabaseError``, FastAPI's validation errors, Starlette's HTTP errors (unknown routes, wrong
methods) and, last, any other exception, which is logged and answered with a bare 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sqlensemble.errors import SqlEnsembleError, UnknownDatabaseError, format_validation, validation_problems

log = logging.getLogger("sqlensemble.gateway")


class GatewayError(SqlEnsembleError):
    status_code = 500
    type = "internal_error"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


class InvalidRequestError(GatewayError):
    status_code = 400
    type = "invalid_request_error"


class PayloadTooLargeError(InvalidRequestError):
    status_code = 413


class UnprocessableRequestError(GatewayError):
    status_code = 422
    type = "invalid_request_error"


class AuthenticationError(GatewayError):
    status_code = 401
    type = "authentication_error"


class NotFoundError(GatewayError):
    status_code = 404
    type = "not_found_error"


class ServiceUnavailableError(GatewayError):
    status_code = 503
    type = "service_unavailable"


# Starlette status -> our class, for the errors the framework raises itself.
_HTTP_STATUS: dict[int, type[GatewayError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    404: NotFoundError,
    413: PayloadTooLargeError,
    422: UnprocessableRequestError,
    503: ServiceUnavailableError,
}


def _printable(text: str | None) -> str | None:
    """Text that always encodes: a lone surrogate echoed from a request becomes its escape.

    >>> _printable("db " + chr(0xDFFF))
    'db \\\\udfff'
    """
    return None if text is None else text.encode("utf-8", "backslashreplace").decode("utf-8")


def error_body(error: GatewayError) -> dict[str, Any]:
    return {
        "error": {
            "message": _printable(error.message),
            "type": error.type,
            "param": _printable(error.param),
            "code": error.code,
        }
    }


def error_response(error: GatewayError, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(error), status_code=error.status_code, headers=headers)


def from_validation(exc: RequestValidationError) -> GatewayError:
    """Bad JSON is a 400; a body that parses but breaks the schema is a 422 naming the first field."""
    return from_errors(list(exc.errors()))


def from_errors(errors: Sequence[Mapping[str, Any]]) -> GatewayError:
    """The error for pydantic's list of errors (a request body, or a model built from one)."""
    if any(e.get("type") == "json_invalid" for e in errors):
        return InvalidRequestError("the request body is not valid JSON", code="invalid_json")
    problems = validation_problems(errors, skip=("body",))
    param = problems[0][0] or None if problems else None
    message = format_validation(errors, limit=1, skip=("body",)) if param else "invalid request body"
    return UnprocessableRequestError(message, param=param, code="invalid_value")


def from_http(exc: StarletteHTTPException, request: Request) -> GatewayError:
    cls = _HTTP_STATUS.get(exc.status_code, GatewayError)
    if exc.status_code == 404:
        return NotFoundError(f"no route {request.method} {request.url.path}", code="unknown_route")
    if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
        return InvalidRequestError("the request body is not valid JSON in UTF-8", code="invalid_json")
    if exc.status_code == 405:
        not_allowed = InvalidRequestError(f"method {request.method} not allowed on {request.url.path}")
        not_allowed.status_code = 405
        return not_allowed
    detail = exc.detail if isinstance(exc.detail, str) else "request failed"
    error = cls(detail)
    error.status_code = exc.status_code
    return error


def install_error_handlers(app: FastAPI) -> None:
    """Register the translations above; the one place errors become HTTP responses."""

    async def on_gateway(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GatewayError)
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationError) else None
        return error_response(exc, headers)

    async def on_unknown_db(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, UnknownDatabaseError)
        return error_response(
            NotFoundError(f"unknown database {exc.db_id!r}", param="db_id", code="database_not_found")
        )

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(from_validation(exc))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return error_response(from_http(exc, request), headers=exc.headers)

    async def on_anything(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(GatewayError("internal error", code="internal_error"))

    app.add_exception_handler(GatewayError, on_gateway)
    app.add_exception_handler(UnknownDatabaseError, on_unknown_db)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_anything)
