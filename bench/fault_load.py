"""Faults and load against a real gateway process on scripted loopback backends; prints figures.

    python bench/fault_load.py                      # or: make fault-bench
    python bench/fault_load.py --clients 64 --per-client 8 --blob-bytes 15000000 --blob-rows 16

It writes a temporary stack (two SQLite databases, one in WAL mode, and four generators), starts one
scripted backend process serving the four generators on 127.0.0.1, starts ``sqlensemble gateway`` on
127.0.0.1, runs the cases below one after the other, stops both processes and deletes the folder. Every
loop is bounded (a count, or a deadline); the backends exit by themselves after ``--max-life-s``.

The generators answer what the question asks for: ``case=NAME`` picks the SQL each generator returns
(``cheap``: a count; ``bomb``: a printf width bomb, a quadratic instr, an endless recursive CTE, another
width bomb; ``blob``: randomblob rows from g1; ``deep``: 200 nested brackets from g1; ``multi``:
``SELECT 1; DROP TABLE t`` from g1; ``prose``: a statement and 3,000 lines of prose from g1; ``huge``: a
20 MB completion from g1) and ``fault=gN:MODE`` makes one generator ``hang``, answer ``http_500`` or
``trickle`` (headers, then one byte every 1.5 s).

Figures: latency of cheap requests idle and while bomb requests run, the gateway's peak memory for
the blob case, each hostile case's status and time, 64 concurrent clients (errors, p50/p95/p99, RSS and
open files before and after), one of four backends hanging / failing / trickling, and all down.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

HOST = "127.0.0.1"
GENERATORS = ("g1", "g2", "g3", "g4")
CHEAP = "SELECT count(*) FROM t"
HANG_S = 60.0  # a hanging backend answers after this (the gateway gives up long before)
TRICKLE_INTERVAL_S = 1.5
TRICKLE_BYTES = 60
GENERATOR_TIMEOUT_S = 4.0
SQL_TIMEOUT_S = 2.0
CLIENT_TIMEOUT_S = 180.0
MAX_CLIENTS = 256
MAX_PER_CLIENT = 1000


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of a non-empty list.

    >>> percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50), percentile([5.0, 1.0, 3.0, 2.0, 4.0], 99)
    (3.0, 5.0)
    """
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def scripted_sql(case: str, blob_bytes: int, blob_rows: int) -> list[str]:
    """What g1..g4 answer for ``case`` (one sample each).

    >>> scripted_sql("multi", 1, 1)[0], scripted_sql("cheap", 1, 1) == [CHEAP] * 4
    ('SELECT 1; DROP TABLE t', True)
    """
    # Built per case, not as one table: the huge case is 20 MB, and every backend call asks.
    if case == "bomb":
        return [
            "SELECT length(printf('%.*c', 2000000000, 'x'))",
            "SELECT instr(replace(hex(zeroblob(1000000)), '0', 'a'), "
            "replace(hex(zeroblob(50000)), '0', 'a') || 'b')",
            "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r",
            "SELECT length(printf('%.*c', 1999999999, 'y'))",
        ]
    first = {
        "blob": lambda: f"SELECT randomblob({blob_bytes}) FROM t LIMIT {blob_rows}",
        "deep": lambda: "SELECT " + "(" * 200 + "1" + ")" * 200,
        "multi": lambda: "SELECT 1; DROP TABLE t",
        "prose": lambda: CHEAP + "\n" + "\n".join(f"This line {i} explains the query." for i in range(3000)),
        "huge": lambda: CHEAP + "\n-- " + "x" * 20_000_000,
    }
    return [first[case]() if case in first else CHEAP, CHEAP, CHEAP, CHEAP]


# ---------------------------------------------------------------------------------------------------
# The scripted backends (a child process: python bench/fault_load.py --serve-backends PORT)


def backend_app(blob_bytes: int, blob_rows: int) -> Callable[..., Any]:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    async def models(request: Request) -> Response:
        name = request.path_params["name"]
        return JSONResponse({"object": "list", "data": [{"id": f"{name}-m", "object": "model"}]})

    async def complete(request: Request) -> Response:
        name = request.path_params["name"]
        body = await request.json()
        prompt = body["messages"][-1]["content"]
        case = m.group(1) if (m := re.search(r"case=(\w+)", prompt)) else "cheap"
        faults = dict(re.findall(r"fault=(g\d):(\w+)", prompt))
        fault = faults.get(name)
        if fault == "hang":
            await asyncio.sleep(HANG_S)
        if fault == "http_500":
            return JSONResponse({"error": {"message": "scripted engine failure", "type": "internal"}}, 500)
        if fault == "trickle":

            async def drip() -> AsyncIterator[bytes]:
                for _ in range(TRICKLE_BYTES):
                    await asyncio.sleep(TRICKLE_INTERVAL_S)
                    yield b" "

            return StreamingResponse(drip(), media_type="application/json")
        text = scripted_sql(case, blob_bytes, blob_rows)[GENERATORS.index(name)]
        choices = [
            {"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            for i in range(body.get("n", 1))
        ]
        usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        return JSONResponse({"id": "x", "object": "chat.completion", "choices": choices, "usage": usage})

    return Starlette(
        routes=[
            Route("/{name}/v1/models", models),
            Route("/{name}/v1/chat/completions", complete, methods=["POST"]),
        ]
    )


def serve_backends(port: int, max_life_s: float, blob_bytes: int, blob_rows: int) -> int:
    import uvicorn

    timer = threading.Timer(max_life_s, lambda: os.kill(os.getpid(), signal.SIGKILL))
    timer.daemon = True
    timer.start()
    uvicorn.run(backend_app(blob_bytes, blob_rows), host=HOST, port=port, log_level="error")
    return 0


# ---------------------------------------------------------------------------------------------------
# The stack, the processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def write_databases(root: Path) -> None:
    for db_id, wal in (("bench", False), ("walbench", True)):
        folder = root / db_id
        folder.mkdir(parents=True)
        conn = sqlite3.connect(folder / f"{db_id}.sqlite")
        try:
            if wal:
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
            conn.executemany("INSERT INTO t (name) VALUES (?)", [(f"row {i}",) for i in range(100)])
            conn.commit()
        finally:
            conn.close()


def write_stack(path: Path, db_root: Path, backend_port: int, gateway_port: int) -> None:
    generators = [
        {
            "name": name,
            "base_url": f"http://{HOST}:{backend_port}/{name}/v1",
            "model": f"{name}-m",
            "priority": i,
            "sampling": {"n": 1, "temperature": 0.0, "max_tokens": 64},
            "timeout_s": GENERATOR_TIMEOUT_S,
        }
        for i, name in enumerate(GENERATORS, start=1)
    ]
    stack = {
        "databases": {"root": str(db_root)},
        "generators": generators,
        "gateway": {"host": HOST, "port": gateway_port, "sql_timeout_s": SQL_TIMEOUT_S, "max_rows": 1000},
    }
    path.write_text(json.dumps(stack, indent=1), encoding="utf-8")  # JSON is YAML


def wait_healthy(url: str, process: subprocess.Popen[bytes], deadline_s: float) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url}: not up within {deadline_s:g} s")


@contextmanager
def child(argv: list[str], log: Path, env: dict[str, str]) -> Any:
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=15)


# ---------------------------------------------------------------------------------------------------
# Measuring


@dataclass(frozen=True)
class Answer:
    status: int  # 0: the client gave up or the connection failed
    ms: float
    size: int
    body: dict[str, Any] | None


async def ask(client: httpx.AsyncClient, question: str, db_id: str = "bench", retry: bool = True) -> Answer:
    """One ``/v1/sql`` call; ``retry``: once more on a dropped keep-alive connection (a gateway closes
    the connection after a 500), so one case's crash does not show up as the next case's error."""
    start = time.perf_counter()
    try:
        response = await client.post("/v1/sql", json={"question": question, "db_id": db_id})
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
        if retry:
            return await ask(client, question, db_id, retry=False)
        return Answer(0, (time.perf_counter() - start) * 1000, 0, None)
    except httpx.HTTPError:
        return Answer(0, (time.perf_counter() - start) * 1000, 0, None)
    ms = (time.perf_counter() - start) * 1000
    try:
        body = response.json()
    except ValueError:
        body = None
    return Answer(response.status_code, ms, len(response.content), body)


class PeakRss:
    """Samples a process's RSS every 20 ms in a thread; ``peak`` is the highest seen."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def mb(n: float) -> str:
    return f"{n / 2**20:.0f} MB"


def candidate(answer: Answer, generator: str) -> str:
    if answer.body is None or "candidates" not in answer.body:
        code = (answer.body or {}).get("error", {}).get("code") if answer.body else None
        return f"HTTP {answer.status}" + (f" ({code})" if code else "")
    found = [c for c in answer.body["candidates"] if c["generator"] == generator]
    if not found:
        return "no candidate"
    c = found[0]
    error = f": {c['error'][:80]}" if c.get("error") else ""
    return f"{c['status']}{error}"


def line(label: str, text: str) -> None:
    print(f"{label:<46} {text}", flush=True)


async def run_cases(
    gateway: str, pid: int, args: argparse.Namespace, backend: subprocess.Popen[bytes], db_root: Path
) -> None:
    gw = psutil.Process(pid)
    timeout = httpx.Timeout(CLIENT_TIMEOUT_S)
    limits = httpx.Limits(max_connections=MAX_CLIENTS + 8, max_keepalive_connections=MAX_CLIENTS + 8)
    async with httpx.AsyncClient(base_url=gateway, timeout=timeout, limits=limits) as client:
        idle = [await ask(client, "case=cheap idle") for _ in range(20)]
        ok = [a.ms for a in idle if a.status == 200]
        inside = [a.body["timings"] for a in idle if a.status == 200 and a.body]
        line(
            "cheap request, idle (20)",
            f"p50 {percentile(ok, 50):.0f} ms, p95 {percentile(ok, 95):.0f} ms" if ok else "no answer",
        )
        if inside:
            generation = [max(t["generation_ms"].values()) for t in inside]
            execution = [t["execution_ms"] for t in inside]
            line(
                "  of which generation / execution (p50)",
                f"{percentile(generation, 50):.0f} ms / {percentile(execution, 50):.0f} ms",
            )

        bombs = [asyncio.create_task(ask(client, f"case=bomb request {i}")) for i in range(args.bombs)]
        await asyncio.sleep(1.0)
        during = [await ask(client, "case=cheap during bombs") for _ in range(5)]
        finished = await asyncio.gather(*bombs)
        times = ", ".join(f"{a.ms / 1000:.1f} s" for a in during)
        line(f"cheap request while {args.bombs} bomb requests run", f"{times} (HTTP {during[0].status})")
        line("bomb requests", ", ".join(f"HTTP {a.status} in {a.ms / 1000:.1f} s" for a in finished))
        if finished and finished[0].body and "candidates" in finished[0].body:
            statuses = [c["status"] for c in finished[0].body["candidates"]]
            line("bomb candidates", ", ".join(statuses))

        rss_before = gw.memory_info().rss
        with PeakRss(pid) as peak:
            blob = await ask(client, "case=blob")
        size = f"{args.blob_rows} x {args.blob_bytes} bytes"
        outcome = f"HTTP {blob.status} in {blob.ms / 1000:.1f} s, response {mb(blob.size)}"
        line(f"randomblob ({size})", f"{outcome}, g1 {candidate(blob, 'g1')}")
        line(
            "gateway RSS for the blob case",
            f"{mb(rss_before)} before, peak {mb(peak.peak)}, {mb(gw.memory_info().rss)} after",
        )

        for case, label in (
            ("deep", "200 nested brackets from g1"),
            ("multi", "SELECT 1; DROP TABLE t from g1"),
            ("prose", "a statement + 3,000 lines of prose from g1"),
            ("huge", "a 20 MB completion from g1"),
        ):
            answer = await ask(client, f"case={case}")
            line(
                label,
                f"HTTP {answer.status} in {answer.ms / 1000:.2f} s, response {answer.size} bytes, "
                f"g1 {candidate(answer, 'g1')}",
            )

        wal_folder = db_root / "walbench"
        files_before = sorted(p.name for p in wal_folder.iterdir())
        wal = await ask(client, "case=cheap on WAL", db_id="walbench")
        await client.get("/v1/databases")
        files_after = sorted(p.name for p in wal_folder.iterdir())
        new = sorted(set(files_after) - set(files_before))
        line("WAL database: files created by reading", f"{', '.join(new) or 'none'} (HTTP {wal.status})")

        rss0, fds0 = gw.memory_info().rss, gw.num_fds()

        async def one_client(load: httpx.AsyncClient, i: int) -> list[Answer]:
            questions = [f"case=cheap client {i} request {k}" for k in range(args.per_client)]
            return [await ask(load, q, retry=False) for q in questions]

        # Its own client, closed before "after" is measured: the open files left are the gateway's.
        async with httpx.AsyncClient(base_url=gateway, timeout=timeout, limits=limits) as load:
            start = time.perf_counter()
            batches = await asyncio.gather(*(one_client(load, i) for i in range(args.clients)))
            wall = time.perf_counter() - start
        answers = [a for batch in batches for a in batch]
        good = [a.ms for a in answers if a.status == 200]
        errors = len(answers) - len(good)
        await asyncio.sleep(1.0)
        rss1, fds1 = gw.memory_info().rss, gw.num_fds()
        figures = f"{len(answers)} requests in {wall:.1f} s, {errors} errors, " + (
            f"p50 {percentile(good, 50):.0f} / p95 {percentile(good, 95):.0f} / "
            f"p99 {percentile(good, 99):.0f} ms"
            if good
            else "no answers"
        )
        line(f"{args.clients} concurrent clients", figures)
        statuses = sorted({a.status for a in answers})
        counts = ", ".join(f"HTTP {st}: {sum(a.status == st for a in answers)}" for st in statuses)
        failed: dict[str, int] = {}
        for a in answers:
            for name in (a.body or {}).get("failed_generators", []):
                failed[name] = failed.get(name, 0) + 1
        line("  answers by status; generators that failed", f"{counts}; {failed or 'none'}")
        line(
            "gateway RSS / open files, before -> after",
            f"{mb(rss0)} -> {mb(rss1)}, {fds0} -> {fds1} (with up to 64 keep-alive backend connections)",
        )

        for mode in ("hang", "http_500", "trickle"):
            answer = await ask(client, f"case=cheap fault=g2:{mode}")
            failed = (answer.body or {}).get("failed_generators")
            line(f"g2 of 4 {mode}", f"HTTP {answer.status} in {answer.ms / 1000:.2f} s, failed {failed}")

        backend.kill()  # a crash: the hanging and trickling calls still held by it die with it
        backend.wait(timeout=15)
        down = await ask(client, "case=cheap all down")
        ready = await client.get("/ready")
        message = ((down.body or {}).get("error") or {}).get("message", "")
        line(
            "all four down", f"HTTP {down.status} in {down.ms / 1000:.2f} s; /ready HTTP {ready.status_code}"
        )
        line("  503 message", f"{len(message)} chars: {message[:100]}")
        line(
            "gateway open files at the end", f"{gw.num_fds()} (the keep-alive pool closed with the backends)"
        )


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients in the load case")
    parser.add_argument("--per-client", type=int, default=8, help="requests each client sends, in turn")
    parser.add_argument("--bombs", type=int, default=2, help="bomb requests running during the cheap ones")
    parser.add_argument("--blob-bytes", type=int, default=15_000_000, help="randomblob size per row")
    parser.add_argument("--blob-rows", type=int, default=16, help="randomblob rows")
    parser.add_argument("--max-life-s", type=float, default=900.0, help="the backends exit after this")
    parser.add_argument("--serve-backends", type=int, metavar="PORT", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    if args.serve_backends is not None:
        return serve_backends(args.serve_backends, args.max_life_s, args.blob_bytes, args.blob_rows)
    if not (1 <= args.clients <= MAX_CLIENTS and 1 <= args.per_client <= MAX_PER_CLIENT):
        print(f"--clients must be 1..{MAX_CLIENTS} and --per-client 1..{MAX_PER_CLIENT}", file=sys.stderr)
        return 2
    if not (0 <= args.bombs <= 8 and 1 <= args.blob_rows <= 64 and 1 <= args.blob_bytes <= 100_000_000):
        print("--bombs must be 0..8, --blob-rows 1..64, --blob-bytes 1..100000000", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="fault-bench-") as tmp:
        folder = Path(tmp)
        db_root = folder / "dbs"
        write_databases(db_root)
        backend_port, gateway_port = free_port(), free_port()
        stack = folder / "stack.yaml"
        write_stack(stack, db_root, backend_port, gateway_port)
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("SQLENSEMBLE_")}
        script = [sys.executable, str(Path(__file__).resolve())]
        sizes = ["--blob-bytes", str(args.blob_bytes), "--blob-rows", str(args.blob_rows)]
        backend_argv = [*script, "--serve-backends", str(backend_port), "--max-life-s", str(args.max_life_s)]
        gateway_argv = [
            sys.executable,
            "-m",
            "sqlensemble",
            "gateway",
            "--config",
            str(stack),
            "--log-level",
            "warning",
        ]
        with (
            child([*backend_argv, *sizes], folder / "backends.log", env) as backend,
            child(gateway_argv, folder / "gateway.log", env) as gateway,
        ):
            try:
                wait_healthy(f"http://{HOST}:{backend_port}/g1/v1/models", backend, 60)
                wait_healthy(f"http://{HOST}:{gateway_port}/health", gateway, 120)
                where = f"gateway pid {gateway.pid} on {HOST}:{gateway_port}, backends on port {backend_port}"
                print(
                    f"{where}, generator timeout_s {GENERATOR_TIMEOUT_S:g}, sql_timeout_s {SQL_TIMEOUT_S:g}"
                )
                asyncio.run(run_cases(f"http://{HOST}:{gateway_port}", gateway.pid, args, backend, db_root))
            except Exception as e:
                print(f"fault bench failed: {type(e).__name__}: {e}", file=sys.stderr)
                tail = (folder / "gateway.log").read_text(errors="replace")[-2000:]
                print(f"gateway log tail:\n{tail}", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
