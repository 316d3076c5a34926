"""The scripted stack ``gateway_latency.py --self-contained`` runs: one backend process serving four
generators that answer after a fixed latency, a stack file over one small database, and the helpers that
start, wait for, measure and stop the processes.

The backend process is ``python bench/gateway_latency.py --serve-backend PORT``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

HOST = "127.0.0.1"
GENERATORS = ("g1", "g2", "g3", "g4")
SAMPLES = 3  # n per generator
QUESTION_TAG = re.compile(r"bench-question-(\d+)")


def scripted_texts(k: int) -> list[str]:
    """What every scripted generator's samples say for question ``k``: one count written three ways
    (so they share one cluster), each ending like a completion of the prompt's open SQL fence.

    >>> scripted_texts(7)[1]
    'select COUNT(*) from t where id > 7;\\n```'
    """
    return [
        f"SELECT count(*) FROM t WHERE id > {k}\n```",
        f"select COUNT(*) from t where id > {k};\n```",
        f"SELECT count(id) FROM t WHERE id > {k}\n```\nThis counts the rows.",
    ]


def backend_app(latency_s: float) -> Any:
    """The four generators at ``/{name}/v1``: each answers after ``latency_s``, ``n`` choices."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def models(request: Request) -> Response:
        name = request.path_params["name"]
        return JSONResponse({"object": "list", "data": [{"id": f"{name}-m", "object": "model"}]})

    async def complete(request: Request) -> Response:
        body = await request.json()
        await asyncio.sleep(latency_s)
        found = QUESTION_TAG.search(body["messages"][-1]["content"])
        texts = scripted_texts(int(found.group(1)) if found else 0)
        choices = [
            {
                "index": i,
                "message": {"role": "assistant", "content": texts[i % len(texts)]},
                "finish_reason": "stop",
            }
            for i in range(body.get("n", 1))
        ]
        usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        return JSONResponse({"id": "x", "object": "chat.completion", "choices": choices, "usage": usage})

    routes = [
        Route("/{name}/v1/models", models),
        Route("/{name}/v1/chat/completions", complete, methods=["POST"]),
    ]
    return Starlette(routes=routes)


def serve_backend(port: int, latency_s: float, max_life_s: float) -> int:
    import uvicorn

    timer = threading.Timer(max_life_s, lambda: os.kill(os.getpid(), signal.SIGKILL))
    timer.daemon = True
    timer.start()
    uvicorn.run(backend_app(latency_s), host=HOST, port=port, log_level="error")
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def write_stack(folder: Path, backend_port: int, gateway_port: int, workers: int) -> Path:
    """One small database (``bench``: 200 rows) and four generators on the scripted backend."""
    db = folder / "dbs" / "bench" / "bench.sqlite"
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    try:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
        conn.executemany("INSERT INTO t (name) VALUES (?)", [(f"row {i}",) for i in range(200)])
        conn.commit()
    finally:
        conn.close()
    generators = [
        {
            "name": name,
            "base_url": f"http://{HOST}:{backend_port}/{name}/v1",
            "model": f"{name}-m",
            "priority": i,
            "sampling": {"n": SAMPLES, "temperature": 0.5, "max_tokens": 64},
            "timeout_s": 30,
        }
        for i, name in enumerate(GENERATORS, start=1)
    ]
    gateway: dict[str, Any] = {"host": HOST, "port": gateway_port, "sql_timeout_s": 5}
    if workers > 1:
        gateway["workers"] = workers
    stack = {"databases": {"root": str(folder / "dbs")}, "generators": generators, "gateway": gateway}
    path = folder / "stack.yaml"
    path.write_text(json.dumps(stack, indent=1), encoding="utf-8")  # JSON is YAML
    return path


def gateway_argv(stack: Path, python: list[str] | None = None) -> list[str]:
    """The command that starts the gateway on ``stack`` (``python`` may wrap the interpreter, e.g. in
    cProfile)."""
    return [
        *(python or [sys.executable]),
        "-m",
        "sqlensemble",
        "gateway",
        "--config",
        str(stack),
        "--log-level",
        "warning",
    ]


def wait_up(url: str, process: subprocess.Popen[bytes], deadline_s: float) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url}: not up within {deadline_s:g} s")


@contextmanager
def child(argv: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process with its output in ``log``; interrupted (then killed) on the way out. SIGINT, not
    SIGTERM: uvicorn stops gracefully on both, then re-raises the signal, and only SIGINT (as
    ``KeyboardInterrupt``) lets ``cProfile`` write its file."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("SQLENSEMBLE_")}
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=15)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its descendants (the gateway's SQL workers, uvicorn's
    worker processes)."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total
