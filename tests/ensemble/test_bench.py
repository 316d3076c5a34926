"""bench/gateway_latency.py against an in-process gateway with scripted generators."""

from __future__ import annotations

import doctest
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from sqlensemble.ensemble.app import build_app

from .conftest import ALL_COUNT, OSLO_COUNT, Backend, Backends, make_stack, running

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "gateway_latency.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gateway_latency", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gateway_latency"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_doctests(bench: ModuleType) -> None:
    result = doctest.testmod(bench, verbose=False, report=False)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.anyio
async def test_drive_and_report(bench: ModuleType, db_root: Path) -> None:
    questions = [
        {"question": "How many schools?", "db_id": "schools", "evidence": ""},
        {"question": "Unknown database", "db_id": "nowhere", "evidence": ""},
    ]
    backends = Backends(g1=Backend([ALL_COUNT]), g2=Backend([OSLO_COUNT]))
    app = build_app(make_stack(db_root, {"g1": {"n": 1}, "g2": {"n": 1}}), transport=backends.transport())
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        samples, failures, wall = await bench.drive(
            "http://gateway.test", questions, requests=7, concurrency=3, model="ensemble", api_key=None,
            transport=transport,
        )  # fmt: skip
    assert len(samples) == 4 and failures == {"HTTP 404": 3}
    assert len(backends["g1"].calls) == 4
    for s in samples:
        assert s.total_ms >= s.slowest_generation_ms >= 0 and s.execution_ms >= 0
        assert s.overhead_ms == pytest.approx(s.total_ms - s.slowest_generation_ms - s.execution_ms)
    text = bench.report(samples, failures, wall, 3)
    assert "requests ok: 4  failed: 3" in text
    assert [line.split()[0] for line in text.splitlines()[3:]] == [
        "client",
        "gateway",
        "slowest",
        "execution",
        "gateway",
    ]


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--gateway", "http://10.1.2.3:8000"], "not a loopback address"),
        (["--requests", "0"], "--requests 1.."),
        (["--data", "/nonexistent/dev.json"], "cannot read questions"),
    ],
    ids=["remote", "zero_requests", "no_data"],
)
def test_refuses(bench: ModuleType, argv: list[str], error: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(argv) == 2
    assert error in capsys.readouterr().err


def test_load_questions_skips_incomplete_records(bench: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "dev.json"
    records: list[Any] = [{"question": "q1", "db_id": "a", "evidence": None}, {"question": "q2"}, "junk"]
    path.write_text(json.dumps(records), encoding="utf-8")
    assert bench.load_questions(path) == [{"question": "q1", "db_id": "a", "evidence": ""}]
