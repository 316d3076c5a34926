"""POST /v1/chat/completions: the OpenAI shape, db_id from extra fields or metadata, and SSE framing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import OSLO_COUNT, gateway

pytestmark = pytest.mark.anyio

MESSAGES = [
    {"role": "system", "content": "You write SQL."},
    {"role": "user", "content": "How many schools are there?"},
    {"role": "assistant", "content": "SELECT 1"},
    {"role": "user", "content": [{"type": "text", "text": "How many schools are in Oslo?"}]},
]


def parse_sse(text: str) -> list[str]:
    """The ``data:`` payloads of an SSE body, checking the framing line by line as a client would."""
    assert text.endswith("\n\n"), "the stream must end with a blank line"
    payloads = []
    for block in text.split("\n\n")[:-1]:
        lines = block.split("\n")
        assert len(lines) == 1 and lines[0].startswith("data: "), block
        payloads.append(lines[0].removeprefix("data: "))
    return payloads


@pytest.mark.parametrize(
    "where",
    [
        {"db_id": "schools", "evidence": "Oslo is a city."},
        {"metadata": {"db_id": "schools", "evidence": "Oslo is a city."}},
    ],
    ids=["top_level", "metadata"],
)
async def test_chat_completion(where: dict[str, Any], two_generators: Any) -> None:
    stack, backends = two_generators
    request = {"model": "ensemble", "messages": MESSAGES, "temperature": 0.1, "max_tokens": 99, **where}
    async with gateway(stack, backends) as client:
        response = await client.post("/v1/chat/completions", json=request)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"].startswith("chatcmpl-") and body["object"] == "chat.completion"
    assert body["model"] == "ensemble"
    assert body["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": OSLO_COUNT}, "finish_reason": "stop"}
    ]
    assert body["usage"] == body["sqlensemble"]["usage"]
    assert body["sqlensemble"]["object"] == "sql.completion"
    assert body["sqlensemble"]["sql"] == OSLO_COUNT and len(body["sqlensemble"]["candidates"]) == 4
    # The last user message is the question; the evidence reaches the prompt; temperature is passed on.
    prompt = backends["g1"].calls[0]["messages"][0]["content"]
    assert "How many schools are in Oslo?" in prompt and "How many schools are there?" not in prompt
    assert "Oslo is a city." in prompt
    assert backends["g1"].calls[0]["temperature"] == 0.1


async def test_chat_completion_stream(two_generators: Any) -> None:
    stack, backends = two_generators
    request = {"model": "g1", "messages": MESSAGES, "db_id": "schools", "stream": True}
    async with (
        gateway(stack, backends) as client,
        client.stream("POST", "/v1/chat/completions", json=request) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join([chunk async for chunk in response.aiter_text()])

    payloads = parse_sse(text)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert len(chunks) == 3
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("chatcmpl-")
    assert {c["model"] for c in chunks} == {"g1"}
    deltas = [c["choices"][0]["delta"] for c in chunks]
    finishes = [c["choices"][0]["finish_reason"] for c in chunks]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert "".join(d.get("content", "") for d in deltas) == OSLO_COUNT
    assert finishes == [None, None, "stop"]
    assert chunks[-1]["sqlensemble"]["sql"] == OSLO_COUNT
    assert chunks[-1]["usage"]["total_tokens"] > 0
    assert backends["g2"].calls == []
