"""The limits that protect the gateway: request body size (an ASGI middleware, before any parsing)
and the per-request checks on question length and sample counts (pure functions the service calls).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sqlensemble.ensemble.errors import InvalidRequestError, PayloadTooLargeError, error_body
from sqlensemble.stack import GatewayConfig


class BodyLimitMiddleware:
    """Refuse bodies above ``max_bytes`` with 413 in the error shape.

    A declared ``Content-Length`` above the limit is refused before reading; otherwise the body is read
    (counting, so a chunked body cannot slip past) and replayed to the app.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([body], receive), send)

    async def _refuse(self, send: Send) -> None:
        error = PayloadTooLargeError(f"request body exceeds {self.max_bytes} bytes", code="body_too_large")
        payload = json.dumps(error_body(error)).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


def check_question(question: str, gateway: GatewayConfig) -> None:
    if len(question) > gateway.max_question_chars:
        raise InvalidRequestError(
            f"question has {len(question)} characters; the limit is {gateway.max_question_chars}",
            param="question",
            code="question_too_long",
        )


def check_samples(n: int | None, per_generator: list[int], gateway: GatewayConfig) -> None:
    """``n`` (an override, or each generator's own count) within ``max_n`` and the total within
    ``max_candidates``."""
    if n is not None and n > gateway.max_n:
        raise InvalidRequestError(
            f"n={n} is above the limit of {gateway.max_n} samples per generator",
            param="n",
            code="n_too_large",
        )
    total = sum(per_generator)
    if total > gateway.max_candidates:
        raise InvalidRequestError(
            f"the request would draw {total} candidates; the limit is {gateway.max_candidates}",
            param="n",
            code="too_many_candidates",
        )


def check_max_rows(max_rows: int | None, gateway: GatewayConfig) -> int:
    """The row cap for this request: the override, which may lower but never raise the setting."""
    if max_rows is None:
        return gateway.max_rows
    if max_rows > gateway.max_rows:
        raise InvalidRequestError(
            f"max_rows={max_rows} is above the limit of {gateway.max_rows}",
            param="max_rows",
            code="max_rows_too_large",
        )
    return max_rows
