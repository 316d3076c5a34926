"""SQL worker processes: a hard deadline for queries the progress handler cannot stop, a worker killed
at the deadline is replaced, memory limits per worker, and every executor defence still in place.

The bombs below run for seconds to minutes inside one SQLite function call (in this process
``execute_readonly`` returns only when the call ends: 13 s for the width bomb, minutes for the others).
The bound asserted is the requirement itself: the deadline plus one second.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sqlensemble.errors import CatalogError
from sqlensemble.executor import ExecResult
from sqlensemble.workers import KILL_GRACE_S, Executor, WorkerPool

from .fixtures_exec import build_exec_db, sha256

DEADLINE_S = 1.0
# (id, SQL that spends its time inside one function call)
BOMBS: list[tuple[str, str]] = [
    ("printf_width", "SELECT printf('%.*c', 2000000000, 'x')"),
    (
        "replace_quadratic",
        "SELECT length(replace(hex(zeroblob(4000000)), hex(zeroblob(1000000)) || 'x', ''))",
    ),
    ("instr_quadratic", "SELECT instr(hex(zeroblob(5000000)) || 'x', hex(zeroblob(2500000)) || 'x')"),
    (
        "replace_on_text",
        "SELECT length(replace(printf('%.*c', 8000000, 'a'), printf('%.*c', 4000000, 'a') || 'b', ''))",
    ),
]
CHEAP = "SELECT count(*) FROM singer"
# Bombs that outlast a deadline of a few seconds on any machine: printf_width can end early (NULL after
# about 3 s) where the worker's memory cap stops it first, so the long-deadline tests leave it out.
LONG_BOMBS = BOMBS[1:3]


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    return build_exec_db(tmp_path)


@pytest.fixture(scope="module")
def pool() -> WorkerPool:
    with WorkerPool(2) as workers:
        yield workers


def test_results_come_back_as_in_process(db: Path, pool: WorkerPool) -> None:
    result = pool.execute(db, "SELECT name, age FROM singer WHERE country = 'France' ORDER BY name")
    assert result.status == "ok"
    assert result.columns == ("name", "age")
    assert result.rows == (("Justin Brown", 29), ("Rose White", 41), ("Élodie Noël", 29))
    assert pool.execute(db, "DELETE FROM singer").status == "refused"
    assert pool.execute(db, "SELECT n FROM numbers", max_rows=3).truncated


@pytest.mark.parametrize("sql", [sql for _, sql in BOMBS], ids=[name for name, _ in BOMBS])
def test_a_bomb_answers_by_the_deadline_and_its_worker_is_replaced(
    db: Path, pool: WorkerPool, sql: str
) -> None:
    before = pool.replaced
    start = time.monotonic()
    result = pool.execute(db, sql, timeout_s=DEADLINE_S)
    elapsed = time.monotonic() - start
    assert result.status == "timeout", result
    assert result.error is not None and "time limit" in result.error
    assert elapsed < DEADLINE_S + 1.0
    assert pool.replaced == before + 1
    # the pool is whole again: a plain query runs, on a worker that is not the killed one
    assert pool.execute(db, CHEAP).rows == ((5,),)
    assert pool.wait_whole(timeout_s=30.0)
    assert len(pool.pids()) == pool.workers


def test_a_query_past_its_deadline_holds_no_worker(db: Path) -> None:
    with WorkerPool(1) as single:
        first = single.pids()
        bomb = single.execute(db, BOMBS[0][1], timeout_s=0.3)
        start = time.monotonic()
        cheap = single.execute(db, CHEAP, timeout_s=5.0)
        waited = time.monotonic() - start
        assert bomb.status == "timeout" and cheap.rows == ((5,),)
        assert single.pids() != first
    # the killed query would still be running (13 s); the replacement answered long before that
    assert waited < 5.0


def test_the_progress_handler_still_answers_first(db: Path, pool: WorkerPool) -> None:
    never_ends = "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT max(x) FROM r"
    before = pool.replaced
    result = pool.execute(db, never_ends, timeout_s=0.2)
    assert result.status == "timeout"
    assert pool.replaced == before  # stopped inside the worker; nothing was killed
    assert result.elapsed_ms < (0.2 + KILL_GRACE_S) * 1000


def test_other_queries_keep_their_latency_while_bombs_run(db: Path) -> None:
    async def scenario(executor: Executor) -> tuple[list[ExecResult], list[float]]:
        bombs = [asyncio.create_task(executor.run(db, sql, timeout_s=4.0)) for _, sql in LONG_BOMBS]
        await asyncio.sleep(0.2)
        latencies = []
        for _ in range(5):
            start = time.monotonic()
            assert (await executor.run(db, CHEAP, timeout_s=4.0)).rows == ((5,),)
            latencies.append(time.monotonic() - start)
        return await asyncio.gather(*bombs), latencies

    with Executor(3) as executor:
        bombs, latencies = asyncio.run(scenario(executor))
    assert [b.status for b in bombs] == ["timeout", "timeout"]
    # every cheap query was answered while both bombs still held their workers
    assert sum(latencies) < 4.0


def test_memory_limit_is_per_worker(db: Path) -> None:
    heavy = "SELECT randomblob(10000000) FROM numbers"

    async def both(executor: Executor) -> list[ExecResult]:
        return await asyncio.gather(
            executor.run(db, heavy, timeout_s=30.0, max_result_bytes=2**34),
            executor.run(db, "SELECT sum(n) FROM numbers", timeout_s=30.0),
        )

    with Executor(2, memory_bytes=256 * 2**20) as executor:
        heavy_result, plain = asyncio.run(both(executor))
        assert heavy_result.status == "error" and "memory" in (heavy_result.error or "")
        assert plain.status == "ok" and plain.rows == ((4501500,),)
        assert asyncio.run(executor.run(db, CHEAP)).rows == ((5,),)


def test_result_byte_cap_holds_in_the_worker(db: Path, pool: WorkerPool) -> None:
    result = pool.execute(db, "SELECT randomblob(15000000) FROM numbers LIMIT 16", max_result_bytes=8 * 2**20)
    assert result.status == "error" and result.error == f"result exceeds {8 * 2**20} bytes"


def test_unusable_database_raises_in_the_caller(tmp_path: Path, pool: WorkerPool) -> None:
    with pytest.raises(CatalogError, match="not found"):
        pool.execute(tmp_path / "missing.sqlite", CHEAP)
    assert pool.execute(build_exec_db(tmp_path), CHEAP).rows == ((5,),)


def test_bad_limits_are_refused_before_a_worker_is_asked(db: Path, pool: WorkerPool) -> None:
    for kwargs in ({"timeout_s": 0}, {"max_rows": 0}, {"max_result_bytes": 0}):
        with pytest.raises(ValueError):
            pool.execute(db, CHEAP, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        WorkerPool(0)
    with pytest.raises(ValueError):
        WorkerPool(1, memory_bytes=2**20)


def test_a_closed_pool_stops_its_workers(db: Path) -> None:
    workers = WorkerPool(2)
    pids = workers.pids()
    workers.close()
    assert workers.pids() == [] and len(pids) == 2
    with pytest.raises(RuntimeError):
        workers.execute(db, CHEAP)


def test_no_file_changes_or_appears(db: Path, pool: WorkerPool) -> None:
    before = sha256(db)
    for _, sql in BOMBS[:1]:
        pool.execute(db, sql, timeout_s=0.3)
    for sql in ["SELECT * FROM singer", "DROP TABLE singer", "PRAGMA query_only = 0"]:
        pool.execute(db, sql)
    assert sha256(db) == before
    assert sorted(p.name for p in db.parent.iterdir()) == ["exec.sqlite"]


@pytest.mark.skipif(not Path("/proc/self/limits").exists(), reason="reads the worker's limits from /proc")
def test_each_worker_limits_itself_before_its_first_query() -> None:
    with WorkerPool(2, memory_bytes=512 * 2**20) as workers:
        for pid in workers.pids():
            limits = Path(f"/proc/{pid}/limits").read_text()
            address_space = next(line for line in limits.splitlines() if line.startswith("Max address space"))
            assert address_space.split()[3:5] == [str(512 * 2**20)] * 2
            assert Path(f"/proc/{pid}/oom_score_adj").read_text().strip() == "1000"


def test_the_pool_grows_while_every_worker_is_busy_and_shrinks_after(db: Path) -> None:
    with WorkerPool(1, max_workers=3, surplus_idle_s=0.5) as workers, ThreadPoolExecutor(2) as threads:
        bombs = [threads.submit(workers.execute, db, sql, timeout_s=3.0) for _, sql in LONG_BOMBS]
        time.sleep(0.3)  # both bombs hold a worker now: the kept one and one extra
        start = time.monotonic()
        cheap = workers.execute(db, CHEAP, timeout_s=3.0)
        waited = time.monotonic() - start
        assert all(not b.done() for b in bombs)  # answered while both bombs still ran
        assert cheap.rows == ((5,),) and waited < 3.0
        assert [b.result().status for b in bombs] == ["timeout", "timeout"]
        assert workers.wait_whole(timeout_s=30.0)
        assert workers.wait_shrunk(timeout_s=30.0)  # the extra worker stopped once idle
        assert len(workers.pids()) == 1
    with pytest.raises(ValueError):
        WorkerPool(2, max_workers=1)
