"""Hostile or broken generators: a backend is untrusted, so every call is bounded in time (one deadline
for the whole call) and in size (bytes read, characters kept per sample), and what it says about its
own failure reaches a client only short, printable and without secrets."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .conftest import (
    ALL_COUNT,
    LEAKY_BODY,
    OSLO_COUNT,
    SECRET,
    Backend,
    Backends,
    gateway,
    make_stack,
)

pytestmark = pytest.mark.anyio

ASK = {"question": "How many schools in Oslo?", "db_id": "schools"}


async def test_trickling_backend_is_cut_at_its_deadline(db_root: Path) -> None:
    """Headers at once, then one byte every 50 ms for 10 s: a per-read timeout never fires; the call's
    deadline (0.5 s) does, and the request answers from the other generator."""
    backends = Backends(slow=Backend(fail="trickle"), good=Backend([OSLO_COUNT]))
    stack = make_stack(db_root, {"slow": {"timeout_s": 0.5}, "good": {}})
    async with gateway(stack, backends) as client:
        start = time.perf_counter()
        response = await client.post("/v1/sql", json=ASK)
        elapsed = time.perf_counter() - start
    assert response.status_code == 200, response.text
    body = response.json()
    assert elapsed < 2.5, elapsed
    assert body["sql"] == OSLO_COUNT and body["failed_generators"] == ["slow"]
    slow = [c for c in body["candidates"] if c["generator"] == "slow"]
    assert {c["status"] for c in slow} == {"backend_error"}
    assert "no answer within 0.5 s" in slow[0]["error"]


async def test_trickling_backend_alone_is_a_prompt_503(db_root: Path) -> None:
    stack = make_stack(db_root, {"slow": {"timeout_s": 0.3}})
    async with gateway(stack, Backends(slow=Backend(fail="trickle"))) as client:
        start = time.perf_counter()
        response = await client.post("/v1/sql", json=ASK)
        elapsed = time.perf_counter() - start
    assert response.status_code == 503 and elapsed < 2.0, (response.status_code, elapsed)
    assert response.json()["error"]["code"] == "all_generators_failed"


async def test_answer_above_the_byte_cap_is_dropped(db_root: Path) -> None:
    backends = Backends(big=Backend(fail="huge"), good=Backend([OSLO_COUNT]))
    stack = make_stack(db_root, {"big": {}, "good": {}}, max_backend_bytes=1_000_000)
    async with gateway(stack, backends) as client:
        response = await client.post("/v1/sql", json=ASK)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["failed_generators"] == ["big"] and body["sql"] == OSLO_COUNT
    assert len(response.content) < 50_000
    error = next(c["error"] for c in body["candidates"] if c["generator"] == "big")
    assert "above the 1000000-byte cap" in error


async def test_each_sample_is_clipped_before_it_is_echoed(db_root: Path) -> None:
    """A 3 MB completion under the byte cap: each sample's raw text is cut to max_completion_chars, so
    the response does not repeat it once per sample, and the SQL at its start still counts."""
    backends = Backends(big=Backend(fail="huge"))
    stack = make_stack(db_root, {"big": {"n": 4}}, max_backend_bytes=16_000_000, max_completion_chars=2000)
    async with gateway(stack, backends) as client:
        response = await client.post("/v1/sql", json=ASK)
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["candidates"]) == 4
    assert all(len(c["raw"]) == 2000 for c in body["candidates"])
    assert body["sql"].startswith("SELECT 1") and body["status"] == "ok"
    assert len(response.content) < 40_000


async def test_json_nesting_bomb_is_a_bad_response(db_root: Path) -> None:
    backends = Backends(bomb=Backend(fail="nested_json"), good=Backend([OSLO_COUNT]))
    stack = make_stack(db_root, {"bomb": {}, "good": {}})
    async with gateway(stack, backends) as client:
        response = await client.post("/v1/sql", json=ASK)
    assert response.status_code == 200, response.text
    error = next(c["error"] for c in response.json()["candidates"] if c["generator"] == "bomb")
    assert "not a chat completion" in error


async def test_503_quotes_backends_short_printable_and_redacted(db_root: Path) -> None:
    backends = Backends(g1=Backend(fail="leaky_500"), g2=Backend(fail="leaky_500"))
    stack = make_stack(db_root, {"g1": {}, "g2": {}})
    async with gateway(stack, backends) as client:
        response = await client.post("/v1/sql", json=ASK)
    assert response.status_code == 503
    message = response.json()["error"]["message"]
    assert message.startswith("every generator failed: g1: HTTP 500: 500 Internal Server Error")
    assert SECRET not in message and "Bearer" not in message and "[redacted]" in message
    assert "<" not in message and all(ch.isprintable() for ch in message)
    assert len(message) < 450 < len(LEAKY_BODY)


async def test_generators_own_key_is_never_quoted(db_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A backend that echoes the key the gateway sent it: the key is redacted wherever it appears."""
    monkeypatch.setenv("SQLENSEMBLE_TEST_ENGINE_KEY", "plainkey-7f3a9")
    backend = Backend([OSLO_COUNT])
    backends = Backends(g1=backend)
    stack = make_stack(db_root, {"g1": {"api_key_env": "SQLENSEMBLE_TEST_ENGINE_KEY"}})

    def echo(request, model):  # type: ignore[no-untyped-def]
        import httpx

        return httpx.Response(401, text=f"key {request.headers['authorization']} is not allowed here")

    monkeypatch.setattr(backend, "complete", echo)
    async with gateway(stack, backends) as client:
        response = await client.post("/v1/sql", json=ASK)
    assert response.status_code == 503
    assert "plainkey-7f3a9" not in response.text and "HTTP 401" in response.text


@pytest.mark.parametrize("fail", ["huge_chunked", "gzip_bomb"])
async def test_undeclared_or_compressed_size_is_counted(db_root: Path, fail: str) -> None:
    """No Content-Length, or a gzip body that expands 1000-fold: the cap counts the bytes as they come."""
    backends = Backends(big=Backend(fail=fail), good=Backend([OSLO_COUNT]))  # type: ignore[arg-type]
    stack = make_stack(db_root, {"big": {}, "good": {}}, max_backend_bytes=1_000_000)
    async with gateway(stack, backends) as client:
        response = await client.post("/v1/sql", json=ASK)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["failed_generators"] == ["big"] and body["sql"] == OSLO_COUNT
    error = next(c["error"] for c in body["candidates"] if c["generator"] == "big")
    assert "above the 1000000-byte cap (more than 1000000 bytes)" in error


async def test_a_lone_surrogate_from_a_backend_does_not_break_the_response(db_root: Path) -> None:
    backends = Backends(odd=Backend(fail="surrogate"))
    stack = make_stack(db_root, {"odd": {"n": 1}})
    async with gateway(stack, backends) as client:
        plain = await client.post("/v1/sql", json=ASK)
        chat = await client.post(
            "/v1/chat/completions",
            json={"model": "ensemble", "db_id": "schools", "messages": [{"role": "user", "content": "q"}]},
        )
    assert plain.status_code == 200 and chat.status_code == 200, (plain.text, chat.text)
    assert plain.json()["candidates"][0]["raw"] == "SELECT 1 -- ?"
    assert plain.json()["status"] == "ok"


async def test_backends_are_asked_for_uncompressed_answers(db_root: Path) -> None:
    backend = Backend([OSLO_COUNT])
    seen: list[str] = []
    original = backend.complete

    def spy(request, model):  # type: ignore[no-untyped-def]
        seen.append(request.headers.get("accept-encoding", ""))
        return original(request, model)

    backend.complete = spy  # type: ignore[method-assign]
    async with gateway(make_stack(db_root, {"g1": {}}), Backends(g1=backend)) as client:
        assert (await client.post("/v1/sql", json=ASK)).status_code == 200
    assert seen == ["identity"]


async def test_only_the_samples_asked_for_are_kept(db_root: Path) -> None:
    """A backend answering 5,000 choices to n=2 yields two candidates, not 5,000."""
    backends = Backends(many=Backend([OSLO_COUNT, ALL_COUNT], fail="too_many_choices"))
    stack = make_stack(db_root, {"many": {"n": 2}})
    async with gateway(stack, backends) as client:
        response = await client.post("/v1/sql", json=ASK)
    assert response.status_code == 200, response.text
    assert [c["index"] for c in response.json()["candidates"]] == [0, 1]
