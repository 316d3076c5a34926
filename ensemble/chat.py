"""``/v1/chat/completions`` on top of the SQL service: the OpenAI shape in, the same shape out.

The question is the last user message; ``db_id`` and ``evidence`` come from top-level fields (the SDK's
``extra_body``) or from ``metadata``. The answer's content is the chosen SQL and the whole ``/v1/sql``
response rides along under ``sqlensemble``. With ``stream: true`` the answer is sent as server-sent
events: a role chunk, a content chunk, a finish chunk (carrying ``sqlensemble``), then ``[DONE]``.
The vote needs every candidate, so the stream starts once the answer is known; errors before that
leave as ordinary JSON errors.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from sqlensemble.ensemble.errors import InvalidRequestError, from_errors
from sqlensemble.ensemble.protocol import (
    ChatChoice,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatMessage,
    SqlRequest,
    SqlResponse,
)


def _field(request: ChatCompletionRequest, name: str) -> Any:
    value = getattr(request, name)
    if value is None and request.metadata:
        value = request.metadata.get(name)
    return value


def to_sql_request(request: ChatCompletionRequest) -> SqlRequest:
    """The ``/v1/sql`` request a chat request stands for; 400 when the question or db_id is missing."""
    users = [m for m in request.messages if m.role == "user"]
    question = users[-1].text().strip() if users else ""
    if not question:
        raise InvalidRequestError(
            "no user message with text to answer", param="messages", code="missing_question"
        )
    db_id = _field(request, "db_id")
    if not isinstance(db_id, str) or not db_id:
        raise InvalidRequestError(
            "db_id is required: send it as a top-level field or in metadata",
            param="db_id",
            code="missing_db_id",
        )
    evidence = _field(request, "evidence") or ""
    if not isinstance(evidence, str):
        raise InvalidRequestError("evidence must be a string", param="evidence", code="invalid_value")
    try:
        return SqlRequest(
            model=request.model,
            question=question,
            db_id=db_id,
            evidence=evidence,
            n=request.n,
            temperature=request.temperature,
        )
    except ValidationError as e:  # a value that passed the chat schema but not /v1/sql's (422)
        raise from_errors(list(e.errors(include_url=False))) from e


def chat_id(sql_response: SqlResponse) -> str:
    return "chatcmpl-" + sql_response.id.removeprefix("sql-")


def to_chat_response(sql_response: SqlResponse) -> ChatCompletionResponse:
    return ChatCompletionResponse(
        id=chat_id(sql_response),
        created=sql_response.created,
        model=sql_response.model,
        choices=[ChatChoice(index=0, message=ChatMessage(role="assistant", content=sql_response.sql or ""))],
        usage=sql_response.usage,
        sqlensemble=sql_response,
    )


def _event(payload: dict[str, Any] | str) -> str:
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {data}\n\n"


def stream_events(sql_response: SqlResponse) -> Iterator[str]:
    """The SSE frames of one answer: role, content, finish (with ``usage`` and ``sqlensemble``), [DONE].

    >>> from sqlensemble.ensemble.protocol import Timings, Usage
    >>> timings = Timings(generation_ms={}, execution_ms=0, voting_ms=0, total_ms=0)
    >>> r = SqlResponse(id="sql-1", created=0, model="ensemble", sql="SELECT 1", status="ok",
    ...                 confidence=1.0, result=None, candidates=[], clusters=[], failed_generators=[],
    ...                 usage=Usage(), timings=timings)
    >>> [json.loads(f[6:])["choices"][0]["delta"] for f in list(stream_events(r))[:3]]
    [{'role': 'assistant', 'content': ''}, {'content': 'SELECT 1'}, {}]
    >>> list(stream_events(r))[-1]
    'data: [DONE]\\n\\n'
    """
    base = {"id": chat_id(sql_response), "object": "chat.completion.chunk", "created": sql_response.created}
    base["model"] = sql_response.model

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}

    yield _event(chunk({"role": "assistant", "content": ""}))
    if sql_response.sql:
        yield _event(chunk({"content": sql_response.sql}))
    yield _event(
        chunk(
            {},
            "stop",
            usage=sql_response.usage.model_dump(),
            sqlensemble=sql_response.model_dump(mode="json"),
        )
    )
    yield _event("[DONE]")
