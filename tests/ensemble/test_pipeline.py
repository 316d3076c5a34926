"""Pipelining and the execution cache, through /v1/sql: scripted generators, real SQLite, real workers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from sqlensemble.ensemble.app import build_app

from .conftest import ALL_COUNT, BROKEN, FIXTURES, OSLO_COUNT, Backend, Backends, make_stack, running

pytestmark = pytest.mark.anyio

QUESTION = {"question": "How many schools?", "db_id": "schools"}
SLOW_WAIT_S = 10.0  # the slow generator answers by then at the latest


def record_executions(app: Any, monkeypatch: pytest.MonkeyPatch, events: list[str]) -> asyncio.Event:
    """Wraps the running app's executor: each finished query appends ``executed <sql>`` to ``events``;
    the event returned is set once ``ALL_COUNT`` has finished."""
    executor = app.state.service.pipeline.executor
    real = executor.run
    fast_done = asyncio.Event()

    async def recording(db_path: Any, sql: str, **kwargs: Any) -> Any:
        result = await real(db_path, sql, **kwargs)
        events.append(f"executed {sql}")
        if sql == ALL_COUNT:
            fast_done.set()
        return result

    monkeypatch.setattr(executor, "run", recording)
    return fast_done


async def test_a_fast_generators_candidates_execute_before_the_slow_one_answers(
    db_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backends = Backends(fast=Backend([ALL_COUNT]), slow=Backend([OSLO_COUNT]))
    events: list[str] = []
    gate: dict[str, asyncio.Event] = {}

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "slow.test" and request.method == "POST":
            # Answers as soon as the fast generator's SQL has executed: never, when execution waits
            # for the slowest generator (then it answers after SLOW_WAIT_S, and the order shows it).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(gate["fast_done"].wait(), SLOW_WAIT_S)
            events.append("slow answers")
        return backends.handler(request)

    stack = make_stack(db_root, {"fast": {"n": 1}, "slow": {"n": 1, "timeout_s": 30}}, exec_cache_entries=0)
    app = build_app(stack, transport=httpx.MockTransport(handler))
    async with running(app) as client:
        gate["fast_done"] = record_executions(app, monkeypatch, events)
        response = await client.post("/v1/sql", json=QUESTION)

    assert response.status_code == 200, response.text
    body = response.json()
    assert [c["status"] for c in body["candidates"]] == ["ok", "ok"]
    assert events == [f"executed {ALL_COUNT}", "slow answers", f"executed {OSLO_COUNT}"]
    # Only what is left after the slowest generator counts as execution time.
    assert body["timings"]["generation_ms"]["slow"] < SLOW_WAIT_S * 1000
    assert body["timings"]["total_ms"] >= body["timings"]["execution_ms"] >= 0


@pytest.fixture
def own_db(tmp_path: Path) -> Path:
    """A root with one database of its own (tests here write to it)."""
    folder = tmp_path / "schools"
    folder.mkdir()
    conn = sqlite3.connect(folder / "schools.sqlite")
    try:
        conn.executescript((FIXTURES / "gateway_schools.sql").read_text(encoding="utf-8"))
        conn.commit()
    finally:
        conn.close()
    return tmp_path


def cache_count(text: str, outcome: str) -> float:
    for line in text.splitlines():
        if line.startswith(f'sqlensemble_exec_cache_total{{outcome="{outcome}"}}'):
            return float(line.split()[-1])
    return 0.0


async def test_cache_hits_and_a_changed_file_is_never_stale(
    own_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = own_db / "schools" / "schools.sqlite"
    backends = Backends(g1=Backend([ALL_COUNT]))
    stack = make_stack(own_db, {"g1": {"n": 1}}, exec_cache_racy_s=0)
    app = build_app(stack, transport=backends.transport())
    events: list[str] = []
    async with running(app) as client:
        record_executions(app, monkeypatch, events)
        first = (await client.post("/v1/sql", json=QUESTION)).json()
        second = (await client.post("/v1/sql", json=QUESTION)).json()
        metrics = (await client.get("/metrics")).text
        assert first["result"]["rows"] == second["result"]["rows"] == [[4]]
        assert events == [f"executed {ALL_COUNT}"]  # the second request was served from the cache
        assert cache_count(metrics, "hit") == 1 and cache_count(metrics, "miss") == 1

        # A write that keeps the size, with the modification time set back to what it was.
        before = path.stat()
        conn = sqlite3.connect(path)
        conn.execute("DELETE FROM teachers WHERE id = 1")
        conn.execute("INSERT INTO schools VALUES (5, 'Nyby', 'Oslo', 10)")
        conn.commit()
        conn.close()
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
        third = (await client.post("/v1/sql", json=QUESTION)).json()
        assert third["result"]["rows"] == [[5]]
        assert events == [f"executed {ALL_COUNT}"] * 2


async def test_a_recently_modified_file_is_not_cached(own_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backends = Backends(g1=Backend([ALL_COUNT]))
    stack = make_stack(own_db, {"g1": {"n": 1}}, exec_cache_racy_s=3600)  # the file was written just now
    app = build_app(stack, transport=backends.transport())
    events: list[str] = []
    async with running(app) as client:
        record_executions(app, monkeypatch, events)
        for _ in range(2):
            assert (await client.post("/v1/sql", json=QUESTION)).status_code == 200
    assert events == [f"executed {ALL_COUNT}"] * 2


async def test_errors_are_not_cached(own_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backends = Backends(g1=Backend([BROKEN]), g2=Backend([ALL_COUNT]))
    stack = make_stack(own_db, {"g1": {"n": 1}, "g2": {"n": 1}}, exec_cache_racy_s=0)
    app = build_app(stack, transport=backends.transport())
    events: list[str] = []
    async with running(app) as client:
        record_executions(app, monkeypatch, events)
        for _ in range(2):
            body = (await client.post("/v1/sql", json=QUESTION)).json()
            assert [c["status"] for c in body["candidates"]] == ["error", "ok"]
    assert sorted(events) == sorted([f"executed {BROKEN}"] * 2 + [f"executed {ALL_COUNT}"])
