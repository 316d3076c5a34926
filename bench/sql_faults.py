"""Hostile SQL against a real gateway process: latency, memory and open files under SQL faults and load.

    python bench/sql_faults.py --requests 640 --clients 64

Starts a scripted OpenAI-compatible backend (a thread here, four models that answer fixed texts) and
``sqlensemble gateway`` as a separate process on a small SQLite database, then prints:

1. cheap-request latency alone, and while two requests of four bombs each run (width bomb, quadratic
   ``replace``/``instr``: each runs for seconds to minutes inside one SQLite call; ``sql_timeout_s`` 2);
2. the gateway's peak memory (VmHWM) and response size for ``SELECT randomblob(15000000) ... LIMIT 16``;
3. ``--clients`` concurrent clients sending ``--requests`` requests whose candidates mix a good query,
   deep nesting, two statements and a long completion: errors, p50/p95/p99, the gateway's memory and
   open files before and after.

Every loop is bounded; nothing is downloaded. Linux only (reads ``/proc``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

MAX_REQUESTS = 20_000
MAX_CLIENTS = 256
GOOD = "SELECT count(*) FROM items WHERE price > 50"
BOMBS = [
    "SELECT printf('%.*c', 2000000000, 'x')",
    "SELECT length(replace(hex(zeroblob(4000000)), hex(zeroblob(1000000)) || 'x', ''))",
    "SELECT instr(hex(zeroblob(5000000)) || 'x', hex(zeroblob(2500000)) || 'x')",
    "SELECT length(printf('%.*c', 1500000000, 'y'))",
]
PROSE = "\n".join(f"Line {i}: this explains the query's columns at length." for i in range(3000))
# model name -> the texts its n choices cycle through
SCRIPTS: dict[str, list[str]] = {
    "cheap": ["SELECT count(*) FROM items"],
    "bomb": BOMBS,
    "blob": ["SELECT randomblob(15000000) FROM items LIMIT 16"],
    "mixed": [GOOD, "SELECT " + "(" * 60 + "1" + ")" * 60, "SELECT 1; DROP TABLE items", f"{GOOD}\n{PROSE}"],
}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of a non-empty list.

    >>> percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50), percentile([5.0, 1.0, 3.0, 2.0, 4.0], 99)
    (3.0, 5.0)
    """
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Backend(BaseHTTPRequestHandler):
    """``/v1/models`` and ``/v1/chat/completions`` answering :data:`SCRIPTS` by model name."""

    def do_GET(self) -> None:
        self._json({"object": "list", "data": [{"id": m, "object": "model"} for m in SCRIPTS]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        texts = SCRIPTS[body["model"]]
        choices = [
            {
                "index": i,
                "message": {"role": "assistant", "content": texts[i % len(texts)]},
                "finish_reason": "stop",
            }
            for i in range(body.get("n", 1))
        ]
        usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        self._json(
            {
                "id": "x",
                "object": "chat.completion",
                "model": body["model"],
                "choices": choices,
                "usage": usage,
            }
        )

    def _json(self, data: dict[str, Any]) -> None:
        payload = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_: object) -> None:
        pass


def write_stack(folder: Path, backend_port: int, gateway_port: int) -> Path:
    root = folder / "dbs"
    (root / "shop").mkdir(parents=True)
    conn = sqlite3.connect(root / "shop" / "shop.sqlite")
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL)")
    conn.executemany("INSERT INTO items VALUES (?, ?, ?)", ((i, f"item {i}", i % 100) for i in range(3000)))
    conn.commit()
    conn.close()
    n = {"cheap": 1, "bomb": 4, "blob": 1, "mixed": 4}
    generators = [
        {
            "name": name,
            "base_url": f"http://127.0.0.1:{backend_port}/v1",
            "model": name,
            "priority": i,
            "sampling": {"n": n[name]},
            "timeout_s": 30,
        }
        for i, name in enumerate(SCRIPTS, start=1)
    ]
    gateway = {"port": gateway_port, "api_keys_env": None, "sql_timeout_s": 2, "executor_workers": 4}
    stack = {"databases": {"root": str(root)}, "generators": generators, "gateway": gateway}
    path = folder / "stack.yaml"
    path.write_text(json.dumps(stack))  # JSON is YAML
    return path


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM in MiB, and the number of open files, of one process."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) // 1024
    fields["open_files"] = len(os.listdir(f"/proc/{pid}/fd"))
    return fields


async def ask(client: httpx.AsyncClient, model: str) -> tuple[float, httpx.Response]:
    start = time.perf_counter()
    response = await client.post("/v1/sql", json={"model": model, "question": "How many?", "db_id": "shop"})
    return (time.perf_counter() - start) * 1000, response


async def cheap_latencies(client: httpx.AsyncClient, count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        ms, response = await ask(client, "cheap")
        assert response.status_code == 200 and response.json()["status"] == "ok", response.text
        latencies.append(ms)
    return latencies


def summary(latencies: list[float]) -> str:
    return (
        " ".join(f"p{q}={percentile(latencies, q):.0f}ms" for q in (50, 95, 99))
        + f" max={max(latencies):.0f}ms"
    )


async def scenario(base: str, pid: int, requests: int, clients: int) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        print(f"cheap requests alone:          {summary(await cheap_latencies(client, 20))}")
        bombs = [asyncio.create_task(ask(client, "bomb")) for _ in range(2)]
        await asyncio.sleep(0.3)
        during = await cheap_latencies(client, 20)
        bombed = await asyncio.gather(*bombs)
        print(f"cheap requests while bombs run: {summary(during)}")
        statuses = sorted({c["status"] for _, r in bombed for c in r.json()["candidates"]})
        took = ", ".join(f"{ms / 1000:.1f} s" for ms, _ in bombed)
        print(f"bomb requests (4 bombs each, sql_timeout_s 2): {took}; candidate statuses {statuses}")

        before = proc_status(pid)
        ms, response = await ask(client, "blob")
        after = proc_status(pid)
        blob = response.json()["candidates"][0]
        print(
            f"blob request: {ms:.0f} ms, response {len(response.content)} bytes, candidate {blob['status']} "
            f"({blob['error']}); gateway peak RSS {before['VmHWM']} -> {after['VmHWM']} MiB"
        )

        before = proc_status(pid)
        latencies: list[float] = []
        errors = 0
        semaphore = asyncio.Semaphore(clients)

        async def one() -> None:
            nonlocal errors
            async with semaphore:
                try:
                    ms, response = await ask(client, "mixed")
                except httpx.HTTPError:
                    errors += 1
                    return
                if response.status_code != 200 or response.json()["status"] != "ok":
                    errors += 1
                latencies.append(ms)

        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(requests)))
        seconds = time.perf_counter() - start
        after = proc_status(pid)
        print(
            f"{clients} clients, {requests} hostile-mix requests in {seconds:.1f} s: errors {errors}, "
            f"{summary(latencies)}"
        )
        print(
            f"gateway RSS {before['VmRSS']} -> {after['VmRSS']} MiB, "
            f"open files {before['open_files']} -> {after['open_files']}"
        )


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=640, help="requests in the load run (default: 640)")
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients (default: 64)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    if not 1 <= args.requests <= MAX_REQUESTS or not 1 <= args.clients <= MAX_CLIENTS:
        print(f"--requests must be in 1..{MAX_REQUESTS}, --clients in 1..{MAX_CLIENTS}", file=sys.stderr)
        return 2
    backend = ThreadingHTTPServer(("127.0.0.1", 0), Backend)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        stack = write_stack(Path(tmp), backend.server_address[1], port)
        command = [
            sys.executable,
            "-m",
            "sqlensemble",
            "gateway",
            "--config",
            str(stack),
            "--log-level",
            "warning",
        ]
        gateway = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(600):
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            else:
                print("the gateway did not start", file=sys.stderr)
                return 1
            asyncio.run(scenario(base, gateway.pid, args.requests, args.clients))
        finally:
            gateway.terminate()
            gateway.wait(timeout=60)
            backend.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
