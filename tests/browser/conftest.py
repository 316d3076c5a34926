"""Fixtures for the real-browser tests: the system's Chromium driven by Playwright, and the real gateway
served by uvicorn on a free loopback port with its generators scripted through ``httpx.MockTransport``.

Chromium comes from the operating system's packages (``make browser``, which ``make setup`` runs);
Playwright's own browser download is never used. Without a browser the tests are skipped locally and fail
under CI. Screenshots land in ``test-artifacts/browser/`` (gitignored).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from sqlensemble.ensemble.app import build_app
from sqlensemble.stack import StackConfig, parse_stack

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
ARTIFACTS = REPO / "test-artifacts" / "browser"
DATABASES = {"schools": "gateway_schools.sql", "shop": "gateway_shop.sql"}
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
KEYS_ENV = "SQLENSEMBLE_PLAYGROUND_TEST_KEYS"


def find_browser() -> str | None:
    """The system browser: ``$CHROMIUM_PATH`` or the first Chromium on PATH."""
    override = os.environ.get("CHROMIUM_PATH")
    if override:
        return override
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module. Not for the session: Playwright's sync API keeps an event loop
    running on the main thread while it is open, which would stop every later async test."""
    path = find_browser()
    if path is None:
        message = "no Chromium on PATH: run `make browser` (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def db_root(tmp_path: Path) -> Path:
    """``<root>/<db_id>/<db_id>.sqlite`` for each gateway fixture database, fresh for each test."""
    root = tmp_path / "dbs"
    for db_id, sql_file in DATABASES.items():
        folder = root / db_id
        folder.mkdir(parents=True)
        conn = sqlite3.connect(folder / f"{db_id}.sqlite")
        try:
            conn.executescript((FIXTURES / sql_file).read_text(encoding="utf-8"))
            conn.commit()
        finally:
            conn.close()
    return root


@dataclass
class Script:
    """What each scripted generator answers: its texts cycled over the ``n`` samples asked, or an HTTP
    500 when it has none. A prompt holding one of the ``markers`` gets that marker's replies instead.
    ``asked`` records every chat request body the gateway sent."""

    replies: dict[str, list[str]]
    markers: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    asked: list[dict[str, Any]] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        name = request.url.host.removesuffix(".test")
        if request.method == "GET":
            return httpx.Response(200, json={"object": "list", "data": [{"id": f"{name}-m"}]})
        body = json.loads(request.content)
        self.asked.append(body)
        prompt = " ".join(str(m.get("content", "")) for m in body["messages"])
        marked = [replies for marker, replies in self.markers.items() if marker in prompt]
        texts = (marked[0] if marked else self.replies)[name]
        if not texts:
            return httpx.Response(500, json={"error": {"message": "engine exploded"}})
        choices = [
            {"index": i, "message": {"role": "assistant", "content": texts[i % len(texts)]}}
            for i in range(body.get("n", 1))
        ]
        for choice in choices:
            choice["finish_reason"] = "stop"
        usage = {
            "prompt_tokens": 40,
            "completion_tokens": 8 * len(choices),
            "total_tokens": 40 + 8 * len(choices),
        }
        return httpx.Response(
            200, json={"id": "c", "object": "chat.completion", "choices": choices, "usage": usage}
        )


def make_stack(db_root: Path, generators: list[str], *, keys: bool = False) -> StackConfig:
    """Two samples per generator, priorities in list order (1 first)."""
    entries = [
        {
            "name": name,
            "base_url": f"http://{name}.test/v1",
            "model": f"{name}-m",
            "priority": priority,
            "sampling": {"n": 2, "temperature": 0.7, "max_tokens": 64},
            "timeout_s": 10,
        }
        for priority, name in enumerate(generators, start=1)
    ]
    gateway = {"api_keys_env": KEYS_ENV if keys else None}
    return parse_stack({"databases": {"root": str(db_root)}, "generators": entries, "gateway": gateway})


@contextmanager
def serve(stack: StackConfig, script: Script) -> Iterator[str]:
    """The gateway served by uvicorn in a thread on 127.0.0.1:<free port>; yields its root URL."""
    app = build_app(stack, transport=httpx.MockTransport(script.handle))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, name="gateway", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the gateway did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
