"""What a worker process costs per query, against running the query in this process.

    python bench/executor_overhead.py --queries 300 --workers 4 --concurrency 4

Builds a small SQLite file (a 3,000-row table), then runs the same read queries three ways and prints
the per-query latency (p50, p95, mean, ms) and throughput of each:

- ``in_process``: ``execute_readonly`` in this process (the guard and the connection, no worker): the
  executor as it was before worker processes;
- ``pool``: ``WorkerPool.execute``, one query at a time (the pipe round trip on top of the above);
- ``threads``: ``execute_readonly`` on a thread pool with ``--concurrency`` queries in flight: the
  gateway's executor before worker processes;
- ``executor``: the gateway's ``Executor.run`` (worker processes) with ``--concurrency`` queries in flight.

Also prints how long starting the pool took and how long a killed worker took to be replaced. The
loops are bounded by ``--queries``; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

MAX_QUERIES = 100_000
QUERIES = (
    "SELECT count(*) FROM items",
    "SELECT category, count(*), avg(price) FROM items GROUP BY category ORDER BY category",
    "SELECT name FROM items WHERE price > 50 ORDER BY price DESC LIMIT 10",
    "SELECT a.id FROM items a JOIN items b ON a.id = b.id + 1 WHERE a.price < 20 LIMIT 100",
)
BOMB = "SELECT printf('%.*c', 2000000000, 'x')"


def build_database(path: Path, rows: int = 3000) -> Path:
    conn = sqlite3.connect(path)
    try:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, category TEXT, price REAL)")
        conn.executemany(
            "INSERT INTO items VALUES (?, ?, ?, ?)",
            ((i, f"item {i}", f"cat {i % 12}", (i * 37) % 100 + 0.5) for i in range(rows)),
        )
        conn.commit()
    finally:
        conn.close()
    return path


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of a non-empty list.

    >>> percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50), percentile([5.0, 1.0, 3.0, 2.0, 4.0], 95)
    (3.0, 5.0)
    """
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def timed(call: Callable[[str], object], count: int) -> list[float]:
    """Milliseconds per call, cycling through :data:`QUERIES`."""
    latencies = []
    for i in range(count):
        start = time.perf_counter()
        call(QUERIES[i % len(QUERIES)])
        latencies.append((time.perf_counter() - start) * 1000)
    return latencies


async def timed_concurrently(
    run: Callable[[str], object], count: int, concurrency: int
) -> tuple[list[float], float]:
    latencies: list[float] = []
    semaphore = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with semaphore:
            start = time.perf_counter()
            await run(QUERIES[i % len(QUERIES)])  # type: ignore[misc]
            latencies.append((time.perf_counter() - start) * 1000)

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return latencies, time.perf_counter() - start


def row(name: str, latencies: list[float], seconds: float) -> str:
    return (
        f"{name:<11} {percentile(latencies, 50):>8.2f} {percentile(latencies, 95):>8.2f} "
        f"{statistics.fmean(latencies):>8.2f} {len(latencies) / seconds:>10.0f}"
    )


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=300, help="queries per way (default: 300)")
    parser.add_argument("--workers", type=int, default=4, help="worker processes (default: 4)")
    parser.add_argument(
        "--concurrency", type=int, default=4, help="queries in flight for executor (default: 4)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    if not 1 <= args.queries <= MAX_QUERIES or args.workers < 1 or args.concurrency < 1:
        print(f"--queries must be in 1..{MAX_QUERIES}; --workers and --concurrency >= 1", file=sys.stderr)
        return 2

    from sqlensemble.executor import execute_readonly
    from sqlensemble.workers import Executor, WorkerPool

    with tempfile.TemporaryDirectory() as tmp:
        db = build_database(Path(tmp) / "bench.sqlite")
        print(f"{'way':<11} {'p50_ms':>8} {'p95_ms':>8} {'mean_ms':>8} {'queries/s':>10}")
        start = time.perf_counter()
        latencies = timed(lambda sql: execute_readonly(db, sql, timeout_s=10.0), args.queries)
        print(row("in_process", latencies, time.perf_counter() - start))

        start = time.perf_counter()
        with WorkerPool(args.workers) as pool:
            started_s = time.perf_counter() - start
            start = time.perf_counter()
            latencies = timed(lambda sql: pool.execute(db, sql, timeout_s=10.0), args.queries)
            print(row("pool", latencies, time.perf_counter() - start))
            start = time.perf_counter()
            pool.execute(db, BOMB, timeout_s=0.2)
            killed_s = time.perf_counter() - start
            pool.wait_whole(timeout_s=30.0)
            replaced_s = time.perf_counter() - start - killed_s

        with ThreadPoolExecutor(args.workers) as threads:

            async def in_thread(sql: str) -> object:
                call = functools.partial(execute_readonly, db, sql, timeout_s=10.0)
                return await asyncio.get_running_loop().run_in_executor(threads, call)

            latencies, seconds = asyncio.run(timed_concurrently(in_thread, args.queries, args.concurrency))
            print(row("threads", latencies, seconds))

        with Executor(args.workers) as executor:

            async def run(sql: str) -> object:
                return await executor.run(db, sql, timeout_s=10.0)

            latencies, seconds = asyncio.run(timed_concurrently(run, args.queries, args.concurrency))
            print(row("executor", latencies, seconds))
        print(f"pool start ({args.workers} workers): {started_s * 1000:.0f} ms")
        print(f"width bomb with a 0.2 s deadline answered after {killed_s * 1000:.0f} ms")
        print(f"its worker replaced {replaced_s * 1000:.0f} ms later")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
