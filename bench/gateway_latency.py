"""Latency of a gateway: N ``/v1/sql`` requests at concurrency C.

    python bench/gateway_latency.py --gateway http://127.0.0.1:8000 --requests 40 --concurrency 4 \\
        --data data/synth/dev/dev.json
    python bench/gateway_latency.py --self-contained --backend-latency-ms 50 --requests 200

Against a running gateway (questions from a BIRD dev file) it prints p50/p95 of the client-side latency,
the gateway's total time, the slowest generator's time, the execution time and the gateway's own
overhead (total - slowest generation - execution), from the ``timings`` each response carries. Only
loopback gateways are accepted; the loop is bounded by ``--requests``. Failed requests are counted and
reported, not timed.

``--self-contained`` needs nothing running: it starts one scripted OpenAI-compatible backend process
(four generators that answer after a fixed ``--backend-latency-ms``) and ``sqlensemble gateway`` on
loopback, over one small SQLite database, then times one direct backend call (``n`` samples), the four
generators' calls made directly at once (fan-out) and one ``/v1/sql`` request (four generators x ``n``) at
concurrency 1 and 16, and prints gateway minus direct and gateway minus fan-out. The second leaves out
the backend's own extra work for four calls instead of one (its CPU is on the same cores).
Each request asks a numbered question and the backend's SQL carries the number, so every request's
candidates are new SQL (the execution cache does not hide the executor's cost).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from httpx_aiohttp import AiohttpTransport

from sqlensemble.bearer import bearer_headers
from sqlensemble.bird import read_records
from sqlensemble.errors import SqlEnsembleError

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling module, also when loaded by path
from scripted_stack import (
    GENERATORS,
    HOST,
    SAMPLES,
    child,
    cpu_seconds,
    free_port,
    gateway_argv,
    serve_backend,
    wait_up,
    write_stack,
)

MAX_REQUESTS = 100_000
MAX_CONCURRENCY = 256
LOOPBACK_NAMES = {"localhost"}
# --self-contained
LEVELS = (1, 16)  # concurrency levels compared
MAX_BACKEND_LATENCY_MS = 10_000


@dataclass(frozen=True)
class Sample:
    """One answered request, in milliseconds."""

    client_ms: float
    total_ms: float
    slowest_generation_ms: float
    execution_ms: float

    @property
    def overhead_ms(self) -> float:
        return self.total_ms - self.slowest_generation_ms - self.execution_ms


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of a non-empty list.

    >>> percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50), percentile([5.0, 1.0, 3.0, 2.0, 4.0], 95)
    (3.0, 5.0)
    """
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil without floats drifting
    return ordered[int(rank) - 1]


def is_loopback(url: str) -> bool:
    """Whether the URL's host is this machine.

    >>> is_loopback("http://127.0.0.1:8000"), is_loopback("http://localhost"), is_loopback("http://10.0.0.1")
    (True, True, False)
    """
    host = urlsplit(url).hostname or ""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def sample_of(body: dict[str, Any], client_ms: float) -> Sample:
    timings = body["timings"]
    generation = timings["generation_ms"].values()
    return Sample(client_ms, timings["total_ms"], max(generation, default=0.0), timings["execution_ms"])


def load_questions(path: Path) -> list[dict[str, str]]:
    records = read_records(path)  # the core's BIRD reader: a JSON list or JSONL
    questions = [
        {"question": r["question"], "db_id": r["db_id"], "evidence": r.get("evidence") or ""}
        for r in records
        if isinstance(r, dict) and r.get("question") and r.get("db_id")
    ]
    if not questions:
        raise ValueError(f"{path}: no records with question and db_id")
    return questions


async def drive(
    gateway: str,
    questions: list[dict[str, str]],
    *,
    requests: int,
    concurrency: int,
    model: str,
    api_key: str | None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[list[Sample], dict[str, int], float]:
    """Send ``requests`` requests, at most ``concurrency`` at a time; samples, failures by reason, wall s.

    ``transport`` is for tests (an in-process gateway); ``None`` is real HTTP.
    """
    samples: list[Sample] = []
    failures: dict[str, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)
    headers = bearer_headers(api_key)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            payload = {"model": model, **questions[i % len(questions)], "return_rows": False}
            start = time.perf_counter()
            try:
                response = await client.post("/v1/sql", json=payload, headers=headers)
            except httpx.HTTPError as e:
                failures[type(e).__name__] = failures.get(type(e).__name__, 0) + 1
                continue
            client_ms = (time.perf_counter() - start) * 1000
            if response.status_code != 200:
                key = f"HTTP {response.status_code}"
                failures[key] = failures.get(key, 0) + 1
                continue
            samples.append(sample_of(response.json(), client_ms))

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=gateway, timeout=600, limits=limits, transport=transport) as client:
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        wall = time.perf_counter() - start
    return samples, failures, wall


def report(samples: list[Sample], failures: dict[str, int], wall_s: float, concurrency: int) -> str:
    lines = [f"requests ok: {len(samples)}  failed: {sum(failures.values())} {failures or ''}".rstrip()]
    lines.append(
        f"concurrency: {concurrency}  wall: {wall_s:.2f} s  throughput: {len(samples) / wall_s:.2f} req/s"
    )
    if samples:
        rows = {
            "client latency": [s.client_ms for s in samples],
            "gateway total": [s.total_ms for s in samples],
            "slowest generator": [s.slowest_generation_ms for s in samples],
            "execution": [s.execution_ms for s in samples],
            "gateway overhead": [s.overhead_ms for s in samples],
        }
        lines.append(f"{'ms':<18} {'p50':>10} {'p95':>10}")
        for name, values in rows.items():
            lines.append(f"{name:<18} {percentile(values, 50):>10.1f} {percentile(values, 95):>10.1f}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------
# --self-contained: a scripted backend process, a gateway process, direct vs gateway


async def timed(
    send: Callable[[int], Awaitable[bool]], first: int, requests: int, concurrency: int
) -> list[float]:
    """Milliseconds of each successful ``send(i)``, ``i`` in ``first .. first + requests - 1``, with at most
    ``concurrency`` in flight."""
    numbers = iter(range(first, first + requests))
    times: list[float] = []

    async def worker() -> None:
        for i in numbers:
            start = time.perf_counter()
            if await send(i):
                times.append((time.perf_counter() - start) * 1000)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return times


@dataclass(frozen=True)
class Level:
    """Direct and gateway latencies (ms) at one concurrency, the gateway's requests per second, and the
    CPU time per gateway request of the gateway (with its SQL workers) and of the backend."""

    concurrency: int
    direct_ms: list[float]
    fanout_ms: list[float]  # the four generators' calls made directly, at once
    gateway_ms: list[float]
    gateway_rps: float
    gateway_cpu_ms: float
    backend_cpu_ms: float


async def compare(backend: str, gateway: str, requests: int, pids: tuple[int, int]) -> list[Level]:
    """At each of :data:`LEVELS`: ``requests`` direct calls, then ``requests`` gateway calls (after a
    warm-up of a few of each). ``pids``: the gateway's and the backend's, for their CPU time."""
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    levels: list[Level] = []
    # aiohttp's pool, as the gateway's own: with httpcore's, 64 calls in flight (the fan-out at 16) cost
    # this client more than the backend takes to answer them.
    transport = AiohttpTransport(limits=limits)
    async with httpx.AsyncClient(timeout=120, limits=limits, transport=transport) as client:

        async def call(name: str, i: int) -> bool:
            payload = {
                "model": f"{name}-m",
                "messages": [{"role": "user", "content": f"bench-question-{i}"}],
                "n": SAMPLES,
                "temperature": 0.5,
                "max_tokens": 64,
            }
            response = await client.post(f"{backend}/{name}/v1/chat/completions", json=payload)
            return response.status_code == 200 and bool(response.json()["choices"])

        async def direct(i: int) -> bool:
            return await call(GENERATORS[0], i)

        async def fanout(i: int) -> bool:
            return all(await asyncio.gather(*(call(name, i) for name in GENERATORS)))

        async def via_gateway(i: int) -> bool:
            payload = {
                "question": f"bench-question-{i}: how many rows?",
                "db_id": "bench",
                "return_rows": False,
            }
            response = await client.post(f"{gateway}/v1/sql", json=payload)
            return response.status_code == 200 and response.json()["status"] == "ok"

        first = 0
        for concurrency in LEVELS:
            warm = 2 * concurrency
            await timed(direct, first, warm, concurrency)
            direct_ms = await timed(direct, first + warm, requests, concurrency)
            await timed(fanout, first, warm, concurrency)
            fanout_ms = await timed(fanout, first + warm, requests, concurrency)
            await timed(via_gateway, first, warm, concurrency)
            cpu = [cpu_seconds(pid) for pid in pids]
            start = time.perf_counter()
            gateway_ms = await timed(via_gateway, first + warm, requests, concurrency)
            rps = len(gateway_ms) / (time.perf_counter() - start)
            used = [
                (cpu_seconds(pid) - before) * 1000 / max(len(gateway_ms), 1)
                for pid, before in zip(pids, cpu, strict=False)
            ]
            levels.append(Level(concurrency, direct_ms, fanout_ms, gateway_ms, rps, used[0], used[1]))
            first += warm + requests
    return levels


def comparison_report(levels: list[Level], requests: int) -> str:
    """One line per concurrency: direct and gateway p50/p95, gateway minus direct, throughput."""
    columns = [("in flight", 9), ("direct p50", 11), ("p95", 7), ("gateway p50", 12), ("p95", 7)]
    columns += [("overhead p50", 13), ("p95", 7), ("req/s", 7), ("gateway cpu", 12), ("backend cpu", 12)]
    columns += [("fan-out p50", 12), ("over fan-out p50", 17)]
    lines = [" ".join(f"{name:>{width}}" for name, width in columns)]
    for lv in levels:
        runs = {"direct": lv.direct_ms, "fan-out": lv.fanout_ms, "gateway": lv.gateway_ms}
        if any(len(times) < requests for times in runs.values()):
            lost = ", ".join(f"{requests - len(times)} {name}" for name, times in runs.items())
            lines.append(f"{lv.concurrency:>9} failed: {lost}")
            continue
        d50, d95 = percentile(lv.direct_ms, 50), percentile(lv.direct_ms, 95)
        g50, g95 = percentile(lv.gateway_ms, 50), percentile(lv.gateway_ms, 95)
        f50 = percentile(lv.fanout_ms, 50)
        lines.append(
            f"{lv.concurrency:>9} {d50:>11.1f} {d95:>7.1f} {g50:>12.1f} {g95:>7.1f} {g50 - d50:>13.1f} "
            f"{g95 - d95:>7.1f} {lv.gateway_rps:>7.1f} {lv.gateway_cpu_ms:>12.2f} {lv.backend_cpu_ms:>12.2f} "
            f"{f50:>12.1f} {g50 - f50:>17.1f}"
        )
    return "\n".join(lines)


def self_contained(args: argparse.Namespace) -> int:
    """Start the backend and the gateway, compare, print, stop both."""
    with tempfile.TemporaryDirectory(prefix="gateway-latency-") as tmp:
        folder = Path(tmp)
        backend_port, gateway_port = free_port(), free_port()
        stack = write_stack(folder, backend_port, gateway_port, args.workers)
        script = [sys.executable, str(Path(__file__).resolve())]
        backend_argv = [
            *script,
            "--serve-backend",
            str(backend_port),
            "--backend-latency-ms",
            str(args.backend_latency_ms),
        ]
        runner = (
            [sys.executable, "-m", "cProfile", "-o", str(args.profile.resolve())]
            if args.profile
            else [sys.executable]
        )
        gateway_command = gateway_argv(stack, runner)
        backend_url, gateway_url = f"http://{HOST}:{backend_port}", f"http://{HOST}:{gateway_port}"
        with (
            child(backend_argv, folder / "backend.log") as backend,
            child(gateway_command, folder / "gateway.log") as gateway,
        ):
            try:
                wait_up(f"{backend_url}/g1/v1/models", backend, 60)
                wait_up(f"{gateway_url}/ready", gateway, 120)
                levels = asyncio.run(
                    compare(backend_url, gateway_url, args.requests, (gateway.pid, backend.pid))
                )
            except (RuntimeError, httpx.HTTPError) as e:
                print(f"gateway_latency: {type(e).__name__}: {e}", file=sys.stderr)
                print((folder / "gateway.log").read_text(errors="replace")[-2000:], file=sys.stderr)
                return 1
    samples = f"{len(GENERATORS)} generators x n={SAMPLES}"
    print(
        f"backend latency {args.backend_latency_ms:g} ms; {samples}; {args.requests} requests per level; "
        f"gateway workers {args.workers}"
    )
    print(comparison_report(levels, args.requests))
    print(
        "(ms; cpu: CPU milliseconds per /v1/sql request, the gateway's with its SQL workers, the backend's;\n"
        " fan-out: the four generators' calls made directly at once, so over fan-out leaves out what the\n"
        " backend spends answering four calls instead of one)"
    )
    return 0 if all(len(lv.gateway_ms) == args.requests for lv in levels) else 1


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Drive a running gateway and print latency percentiles.")
    parser.add_argument("--gateway", default="http://127.0.0.1:8000", help="gateway root URL (loopback only)")
    parser.add_argument("--requests", type=int, default=40, help="number of requests to send")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight at once")
    parser.add_argument(
        "--data", type=Path, default=Path("data/synth/dev/dev.json"), help="BIRD-format dev file"
    )
    parser.add_argument("--model", default="ensemble", help='"ensemble" or one generator\'s name')
    parser.add_argument("--api-key-env", default="SQLENSEMBLE_API_KEY", help="env var holding a Bearer key")
    parser.add_argument(
        "--self-contained", action="store_true", help="start a scripted backend and a gateway; compare direct"
    )
    parser.add_argument(
        "--backend-latency-ms", type=float, default=50.0, help="--self-contained: the backend's fixed latency"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="--self-contained: the gateway's gateway.workers"
    )
    parser.add_argument(
        "--profile", type=Path, default=None, help="--self-contained: cProfile the gateway into this file"
    )
    parser.add_argument("--max-life-s", type=float, default=900.0, help=argparse.SUPPRESS)
    parser.add_argument("--serve-backend", type=int, metavar="PORT", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    if args.serve_backend is not None:
        return serve_backend(args.serve_backend, args.backend_latency_ms / 1000, args.max_life_s)
    if args.self_contained:
        if (
            not 1 <= args.requests <= MAX_REQUESTS
            or not 0 <= args.backend_latency_ms <= MAX_BACKEND_LATENCY_MS
        ):
            print(
                f"gateway_latency: --requests 1..{MAX_REQUESTS}, "
                f"--backend-latency-ms 0..{MAX_BACKEND_LATENCY_MS}",
                file=sys.stderr,
            )
            return 2
        if not 1 <= args.workers <= 64:
            print("gateway_latency: --workers 1..64", file=sys.stderr)
            return 2
        return self_contained(args)
    if not is_loopback(args.gateway):
        print(f"gateway_latency: {args.gateway} is not a loopback address", file=sys.stderr)
        return 2
    if not 1 <= args.requests <= MAX_REQUESTS or not 1 <= args.concurrency <= MAX_CONCURRENCY:
        print(
            f"gateway_latency: --requests 1..{MAX_REQUESTS}, --concurrency 1..{MAX_CONCURRENCY}",
            file=sys.stderr,
        )
        return 2
    try:
        questions = load_questions(args.data)
    except (SqlEnsembleError, ValueError, KeyError) as e:
        print(f"gateway_latency: cannot read questions: {e}", file=sys.stderr)
        return 2
    samples, failures, wall = asyncio.run(
        drive(
            args.gateway.rstrip("/"),
            questions,
            requests=args.requests,
            concurrency=args.concurrency,
            model=args.model,
            api_key=os.environ.get(args.api_key_env),
        )
    )
    print(report(samples, failures, wall, args.concurrency))
    return 0 if samples else 1


if __name__ == "__main__":
    raise SystemExit(main())
