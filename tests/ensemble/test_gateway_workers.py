"""``gateway.workers: 2``: a real gateway process pair on loopback, a scripted backend process, and
/metrics summing what both workers served; bench/gateway_latency.py --self-contained on the way."""

from __future__ import annotations

import asyncio
import doctest
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "gateway_latency.py"
REQUESTS = 24


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gateway_latency_workers", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gateway_latency_workers"] = module
    spec.loader.exec_module(module)
    return module


def test_scripted_stack_doctests(bench: ModuleType) -> None:
    import scripted_stack  # the bench's sibling module, on sys.path once gateway_latency is loaded

    result = doctest.testmod(scripted_stack, verbose=False, report=False)
    assert result.attempted > 0 and result.failed == 0


def metric(text: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert found is not None, f"{name} not in /metrics"
    return float(found.group(1))


async def burst(gateway: str) -> list[int]:
    """REQUESTS requests at once, each on a new connection, so that both workers accept some."""
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=gateway, timeout=60, limits=limits) as client:
        payload = {"question": "bench-question-{}: rows?", "db_id": "bench", "return_rows": False}
        replies = await asyncio.gather(
            *(
                client.post("/v1/sql", json={**payload, "question": f"bench-question-{i}: rows?"})
                for i in range(REQUESTS)
            )
        )
    return [r.status_code for r in replies]


@pytest.mark.slow
def test_two_workers_share_their_metrics(bench: ModuleType, tmp_path: Path) -> None:
    backend_port, gateway_port = bench.free_port(), bench.free_port()
    stack = bench.write_stack(tmp_path, backend_port, gateway_port, 2)
    backend_argv = [
        sys.executable,
        str(SCRIPT),
        "--serve-backend",
        str(backend_port),
        "--backend-latency-ms",
        "20",
    ]
    gateway_argv = bench.gateway_argv(stack)
    gateway = f"http://{bench.HOST}:{gateway_port}"
    with (
        bench.child(backend_argv, tmp_path / "backend.log") as backend,
        bench.child(gateway_argv, tmp_path / "gateway.log") as process,
    ):
        bench.wait_up(f"http://{bench.HOST}:{backend_port}/g1/v1/models", backend, 60)
        bench.wait_up(f"{gateway}/ready", process, 120)
        statuses = asyncio.run(burst(gateway))
        # Either worker answers /metrics; the gauges are written every second.
        text = ""
        for _ in range(50):
            text = httpx.get(f"{gateway}/metrics", timeout=10).text
            if metric(text, "sqlensemble_gateway_workers") == 2 and "sqlensemble_sql_workers 0.0" not in text:
                break
            asyncio.run(asyncio.sleep(0.1))
    assert statuses == [200] * REQUESTS
    assert metric(text, 'sqlensemble_requests_total{endpoint="/v1/sql",status="200"}') == REQUESTS
    assert metric(text, "sqlensemble_gateway_workers") == 2
    # Both workers' pools: 4 kept each (executor_workers), growing to 8 each while all are busy.
    assert 2 * 4 <= metric(text, "sqlensemble_sql_workers") <= 2 * 8
    assert (
        metric(text, 'sqlensemble_candidates_total{generator="g1",status="ok"}') == REQUESTS * bench.SAMPLES
    )


@pytest.mark.slow
def test_self_contained_bench_prints_gateway_minus_direct(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench.main(["--self-contained", "--requests", "4", "--backend-latency-ms", "10"]) == 0
    out = capsys.readouterr().out
    assert "backend latency 10 ms; 4 generators x n=3; 4 requests per level" in out
    rows = [line.split() for line in out.splitlines() if line.strip() and line.split()[0] in ("1", "16")]
    assert [row[0] for row in rows] == ["1", "16"]
    for row in rows:
        direct_p50, gateway_p50, overhead_p50 = float(row[1]), float(row[3]), float(row[5])
        assert direct_p50 >= 10 and gateway_p50 >= 10
        assert overhead_p50 == pytest.approx(gateway_p50 - direct_p50, abs=0.11)
