"""Hostile candidates through POST /v1/sql: each stays in its own candidate, the request answers from the
rest, bombs hold no worker past their deadline, results and responses are capped in bytes, and reading
a WAL database leaves no file behind."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import ALL_COUNT, OSLO_COUNT, Backend, Backends, gateway, make_stack

pytestmark = pytest.mark.anyio

QUESTION = {"question": "How many schools are in Oslo?", "db_id": "schools"}
DEEP = "SELECT " + "(" * 60 + "1" + ")" * 60
WIDTH_BOMB = "SELECT printf('%.*c', 2000000000, 'x') FROM schools"
REPLACE_BOMB = (
    "SELECT length(replace(hex(zeroblob(4000000)), hex(zeroblob(1000000)) || 'x', '')) FROM schools"
)


def by_generator(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["generator"]: c for c in body["candidates"]}


@pytest.mark.parametrize(
    ("hostile", "status", "reason"),
    [
        (DEEP, "refused", "nested too deeply"),
        (f"```sql\n{DEEP}\n```", "refused", "nested too deeply"),
        ("SELECT 1; DROP TABLE schools", "refused", "expected exactly one statement"),
        ("SELECT count(*) FROM schools;\nDELETE FROM schools;", "refused", "expected exactly one statement"),
        ("SELECT 1 WHERE " + "NOT " * 3000 + "1", "refused", "nested too deeply"),
    ],
    ids=["deep_bare", "deep_fenced", "second_statement", "second_statement_next_line", "deep_not"],
)
async def test_a_hostile_candidate_stays_in_its_candidate(
    db_root: Path, hostile: str, status: str, reason: str
) -> None:
    backends = Backends(g1=Backend([OSLO_COUNT]), g2=Backend([hostile]))
    stack = make_stack(db_root, {"g1": {"n": 1}, "g2": {"n": 1}})
    async with gateway(stack, backends) as client:
        response = await client.post("/v1/sql", json=QUESTION)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok" and body["sql"] == OSLO_COUNT
    bad = by_generator(body)["g2"]
    assert bad["status"] == status and reason in bad["error"]


async def test_result_bytes_are_capped_per_candidate(db_root: Path) -> None:
    blob = "SELECT randomblob(15000000) FROM schools LIMIT 16"
    backends = Backends(g1=Backend([ALL_COUNT]), g2=Backend([blob]))
    stack = make_stack(db_root, {"g1": {"n": 1}, "g2": {"n": 1}}, max_result_bytes=4 * 2**20)
    async with gateway(stack, backends) as client:
        response = await client.post("/v1/sql", json=QUESTION)
    assert response.status_code == 200
    assert len(response.content) < 100_000
    heavy = by_generator(response.json())["g2"]
    assert heavy["status"] == "error" and heavy["error"] == f"result exceeds {4 * 2**20} bytes"


async def test_rows_past_the_response_cap_are_cut_and_marked(db_root: Path) -> None:
    rows = "SELECT n, printf('%.*c', 1000, 'x') FROM numbers ORDER BY n"
    backends = Backends(g1=Backend([rows]))
    stack = make_stack(db_root, {"g1": {"n": 1}}, max_response_bytes=10_000)
    async with gateway(stack, backends) as client:
        response = await client.post("/v1/sql", json={"question": "numbers", "db_id": "shop"})
    result = response.json()["result"]
    assert result["truncated"] is True and result["truncated_by"] == "max_response_bytes"
    assert 0 < len(result["rows"]) < 10 and result["row_count"] == 50
    assert [r[0] for r in result["rows"]] == list(range(1, len(result["rows"]) + 1))
    assert len(json.dumps(result["rows"])) <= 10_000


async def test_cheap_requests_keep_their_latency_while_a_bomb_request_runs(db_root: Path) -> None:
    backends = Backends(
        g1=Backend([WIDTH_BOMB, REPLACE_BOMB, f"{WIDTH_BOMB} LIMIT 1", f"{REPLACE_BOMB} LIMIT 1"])
    )
    cheap_backends = {"g2": Backend([ALL_COUNT])}
    backends.by_name.update(cheap_backends)
    # 1 s: the width bomb's one printf call takes about 3 s on this project's machines (13 s on others),
    # so at a 3 s deadline it sometimes finished first and answered NULL rows
    stack = make_stack(db_root, {"g1": {"n": 4}, "g2": {"n": 1}}, sql_timeout_s=1, executor_workers=4)
    finished: list[str] = []
    async with gateway(stack, backends) as client:

        async def ask(model: str) -> dict[str, Any]:
            response = await client.post("/v1/sql", json={**QUESTION, "model": model})
            finished.append(model)
            return dict(response.json())

        bombs = asyncio.create_task(ask("g1"))
        await asyncio.sleep(0.5)
        start = time.monotonic()
        cheap = [await ask("g2") for _ in range(3)]
        cheap_s = time.monotonic() - start
        bombed = await bombs
        metrics = (await client.get("/metrics")).text
    # Every bomb ended at its deadline: in the worker (SQLite's interrupt) or by killing the worker, when
    # the query sits in one function call the interrupt cannot reach; which one depends on timing.
    assert [c["status"] for c in bombed["candidates"]] == ["timeout"] * 4
    replaced = re.search(r"^sqlensemble_sql_workers_replaced (\d+)\.0$", metrics, re.M)
    assert replaced is not None and 1 <= int(replaced.group(1)) <= 4
    # the cheap requests came and went while the bomb request still held its two workers
    assert finished == ["g2", "g2", "g2", "g1"]
    assert all(c["status"] == "ok" and c["result"]["rows"] == [[4]] for c in cheap)
    assert cheap_s < 3.0
    assert {c["status"] for c in bombed["candidates"]} == {"timeout"}
    # each bomb answered by its deadline (1 s) plus at most one second after a worker took it
    assert all(c["exec_ms"] < (1 + 1) * 1000 for c in bombed["candidates"]), bombed["candidates"]


async def test_a_wal_database_gains_no_file(tmp_path: Path) -> None:
    folder = tmp_path / "walled"
    folder.mkdir()
    conn = sqlite3.connect(folder / "walled.sqlite")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(
        "CREATE TABLE schools (id INTEGER PRIMARY KEY, city TEXT); INSERT INTO schools VALUES (1, 'Oslo');"
    )
    conn.close()
    backends = Backends(g1=Backend([ALL_COUNT]))
    stack = make_stack(tmp_path, {"g1": {"n": 1}})
    async with gateway(stack, backends) as client:
        listing = await client.get("/v1/databases")
        answer = await client.post("/v1/sql", json={"question": "How many?", "db_id": "walled"})
    assert listing.json()["data"] == [{"id": "walled", "object": "database", "tables": ["schools"]}]
    assert answer.json()["result"]["rows"] == [[1]]
    assert sorted(p.name for p in folder.iterdir()) == ["walled.sqlite"]
