"""Latency of a running gateway: N ``/v1/sql`` requests at concurrency C, questions from a BIRD dev file.

    python bench/gateway_latency.py --gateway http://127.0.0.1:8000 --requests 40 --concurrency 4 \\
        --data data/synth/dev/dev.json

Prints p50/p95 of the client-side latency, the gateway's total time, the slowest generator's time, the
execution time and the gateway's own overhead (total - slowest generation - execution), from the
``timings`` each response carries. Only loopback gateways are accepted; the loop is bounded by
``--requests``. Failed requests are counted and reported, not timed.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from sqlensemble.bearer import bearer_headers
from sqlensemble.bird import read_records
from sqlensemble.errors import SqlEnsembleError

MAX_REQUESTS = 100_000
MAX_CONCURRENCY = 256
LOOPBACK_NAMES = {"localhost"}


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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
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
