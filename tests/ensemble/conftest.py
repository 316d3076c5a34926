"""Fixtures for the gateway tests: real SQLite databases built from SQL text, generators scripted
through ``httpx.MockTransport`` (exact OpenAI chat-completion bodies), and the app driven in-process
through ``httpx.ASGITransport`` with its lifespan running.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from fastapi import FastAPI

from sqlensemble.ensemble.app import build_app
from sqlensemble.stack import StackConfig, parse_stack

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DATABASES = {"schools": "gateway_schools.sql", "shop": "gateway_shop.sql"}

Failure = Literal[
    "http_500",
    "timeout",
    "connect",
    "bad_json",
    "no_choices",
    "trickle",
    "huge",
    "leaky_500",
    "nested_json",
    "huge_chunked",
    "gzip_bomb",
    "surrogate",
]
# What a hostile or broken backend sends for the failures above that are about size and time.
TRICKLE_INTERVAL_S = 0.05  # "trickle": headers at once, then one byte per interval, 200 bytes (10 s)
HUGE_TEXT_CHARS = 3_000_000  # "huge": one sample this long
SECRET = "sk-live-0123456789abcdef"
LEAKY_BODY = (  # "leaky_500": an HTML error page echoing the request's credentials, control bytes and all
    "<html><body><h1>500 Internal Server Error</h1>\x1b[31m<pre>Traceback (most recent call last):\n"
    f"  headers: Authorization: Bearer {SECRET}\r\n\x00\x07" + "frame " * 4000 + "</pre></body></html>"
)


GZIP_BOMB = gzip.compress(b" " * 100_000_000, compresslevel=9)


async def chunks(chunk: bytes, count: int) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield chunk


async def trickle() -> AsyncIterator[bytes]:
    for _ in range(200):
        await asyncio.sleep(TRICKLE_INTERVAL_S)
        yield b" "


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No SQLENSEMBLE_* variable from the developer's shell leaks into a stack under test."""
    for name in list(os.environ):
        if name.upper().startswith("SQLENSEMBLE_"):
            monkeypatch.delenv(name)
    yield


@pytest.fixture(scope="session")
def db_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<root>/<db_id>/<db_id>.sqlite`` for each gateway fixture database."""
    root = tmp_path_factory.mktemp("gateway_dbs")
    for db_id, sql_file in DATABASES.items():
        folder = root / db_id
        folder.mkdir()
        conn = sqlite3.connect(folder / f"{db_id}.sqlite")
        try:
            conn.executescript((FIXTURES / sql_file).read_text(encoding="utf-8"))
            conn.commit()
        finally:
            conn.close()
    return root


@dataclass
class Backend:
    """One scripted OpenAI-compatible server: answers ``n`` choices cycling through ``texts``."""

    texts: list[str] = field(default_factory=list)
    fail: Failure | None = None
    down: bool = False  # GET /models fails
    calls: list[dict[str, Any]] = field(default_factory=list)

    def complete(self, request: httpx.Request, model: str) -> httpx.Response:
        body = json.loads(request.content)
        self.calls.append(body)
        if self.fail == "timeout":
            raise httpx.ReadTimeout("scripted timeout", request=request)
        if self.fail == "connect":
            raise httpx.ConnectError("scripted refusal", request=request)
        if self.fail == "http_500":
            return httpx.Response(500, json={"error": {"message": "engine exploded", "type": "internal"}})
        if self.fail == "bad_json":
            return httpx.Response(200, text="<html>not json</html>")
        if self.fail == "no_choices":
            return httpx.Response(200, json={"id": "x", "object": "chat.completion", "choices": []})
        if self.fail == "trickle":
            return httpx.Response(200, headers={"content-type": "application/json"}, content=trickle())
        if self.fail == "leaky_500":
            return httpx.Response(500, text=LEAKY_BODY)
        if self.fail == "nested_json":
            return httpx.Response(200, text="[" * 200_000)
        if self.fail == "huge":
            self.texts = ["SELECT 1 -- " + "x" * HUGE_TEXT_CHARS]
        if self.fail == "huge_chunked":  # no Content-Length: the cap has to count
            return httpx.Response(200, content=chunks(b"x" * 65536, HUGE_TEXT_CHARS // 65536))
        if self.fail == "gzip_bomb":  # 100 kB on the wire, 100 MB once decompressed
            return httpx.Response(200, headers={"content-encoding": "gzip"}, content=GZIP_BOMB)
        if self.fail == "surrogate":  # the JSON escape of a lone surrogate inside a completion
            choice = '{"index": 0, "message": {"role": "assistant", "content": "SELECT 1 -- \\udfff"}}'
            return httpx.Response(200, text='{"choices": [' + choice + "]}")
        count = 5000 if self.fail == "too_many_choices" else body.get("n", 1)
        texts = [self.texts[i % len(self.texts)] for i in range(count)]
        prompt_tokens = len(body["messages"][0]["content"].split())
        completion_tokens = [len(t.split()) for t in texts]
        return httpx.Response(
            200,
            json={
                "id": "chatcmpl-scripted",
                "object": "chat.completion",
                "created": 1700000000,
                "model": model,
                "choices": [
                    {
                        "index": i,
                        "message": {"role": "assistant", "content": text},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                    for i, text in enumerate(texts)
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": sum(completion_tokens),
                    "total_tokens": prompt_tokens + sum(completion_tokens),
                },
            },
        )


class Backends:
    """Every scripted generator, reachable at ``http://<name>.test/v1`` and serving model ``<name>-m``."""

    def __init__(self, **backends: Backend) -> None:
        self.by_name = backends

    def __getitem__(self, name: str) -> Backend:
        return self.by_name[name]

    def handler(self, request: httpx.Request) -> httpx.Response:
        name = request.url.host.removesuffix(".test")
        backend = self.by_name[name]
        if request.method == "GET" and request.url.path == "/v1/models":
            if backend.down:
                raise httpx.ConnectError("scripted: engine not up", request=request)
            models = [{"id": f"{name}-m", "object": "model"}]
            return httpx.Response(200, json={"object": "list", "data": models})
        assert request.method == "POST" and request.url.path == "/v1/chat/completions", request.url
        return backend.complete(request, f"{name}-m")

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)


def make_stack(
    db_root: Path,
    generators: dict[str, dict[str, Any]],
    *,
    selection: dict[str, Any] | None = None,
    **gateway: Any,
) -> StackConfig:
    """A stack with one entry per generator (``priority`` defaults to its position, 1 first) and, when
    given, a ``selection`` section."""
    entries = []
    for position, (name, spec) in enumerate(generators.items(), start=1):
        spec = dict(spec)
        sampling = {"n": spec.pop("n", 2), "temperature": 0.7, "max_tokens": 64}
        entries.append(
            {
                "name": name,
                "base_url": f"http://{name}.test/v1",
                "model": f"{name}-m",
                "priority": spec.pop("priority", position),
                "sampling": sampling,
                "timeout_s": 5,
                **spec,
            }
        )
    data = {"databases": {"root": str(db_root)}, "generators": entries, "gateway": gateway}
    return parse_stack({**data, **({"selection": selection} if selection is not None else {})})


@asynccontextmanager
async def running(app: FastAPI, *, raise_app_exceptions: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running, and a client that calls it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield client


@asynccontextmanager
async def gateway(
    stack: StackConfig, backends: Backends, *, raise_app_exceptions: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(stack, transport=backends.transport())
    async with running(app, raise_app_exceptions=raise_app_exceptions) as client:
        yield client


# SQL the scripted generators answer with, and what each returns on gateway_schools.sql.
OSLO_COUNT = "SELECT count(*) FROM schools WHERE city = 'Oslo'"  # 2
OSLO_COUNT_ALT = "SELECT COUNT(id) FROM schools WHERE city='Oslo'"  # 2, other text
ALL_COUNT = "SELECT count(*) FROM schools"  # 4
NONE_BIG = "SELECT name FROM schools WHERE students > 1000"  # no rows
BROKEN = "SELECT nope FROM schools"  # error
DENIED = "SELECT load_extension('evil.so')"  # refused by the guard
PROSE = "I am not sure how to answer that."  # no SQL
SQL_TEXTS = {
    "OSLO_COUNT": OSLO_COUNT,
    "OSLO_COUNT_ALT": OSLO_COUNT_ALT,
    "ALL_COUNT": ALL_COUNT,
    "NONE_BIG": NONE_BIG,
    "BROKEN": BROKEN,
    "DENIED": DENIED,
    "PROSE": PROSE,
}


@pytest.fixture
def two_generators(db_root: Path) -> tuple[StackConfig, Backends]:
    """g1 (priority 1) and g2 (priority 2), two samples each, agreeing on the Oslo count."""
    backends = Backends(
        g1=Backend([f"{OSLO_COUNT}\n```", ALL_COUNT]),
        g2=Backend([f"```sql\n{OSLO_COUNT_ALT};\n```\nCounts Oslo schools.", OSLO_COUNT]),
    )
    return make_stack(db_root, {"g1": {}, "g2": {}}), backends
