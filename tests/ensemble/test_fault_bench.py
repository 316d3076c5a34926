"""bench/fault_load.py: its pure parts, its scripted backends and its refusal of unbounded runs. The
whole run (a gateway process, bombs, 64 clients) is `make fault-bench`, not a test."""

from __future__ import annotations

import doctest
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "fault_load.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fault_load", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fault_load"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_doctests(bench: ModuleType) -> None:
    result = doctest.testmod(bench, verbose=False, report=False)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    "argv",
    [["--clients", "0"], ["--clients", "100000"], ["--per-client", "0"], ["--bombs", "50"],
     ["--blob-rows", "0"], ["--blob-bytes", "1000000000"]],
)  # fmt: skip
def test_unbounded_runs_are_refused(bench: ModuleType, argv: list[str]) -> None:
    assert bench.main(argv) == 2


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_scripted_backends_answer_by_case(bench: ModuleType, anyio_backend: str) -> None:
    app = bench.backend_app(blob_bytes=10, blob_rows=2)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
        models = await client.get("/g3/v1/models")
        asked = {"messages": [{"role": "user", "content": "q case=blob fault=g2:http_500"}], "n": 2}
        g1 = await client.post("/g1/v1/chat/completions", json=asked)
        g2 = await client.post("/g2/v1/chat/completions", json=asked)
    assert models.json()["data"][0]["id"] == "g3-m"
    texts = [c["message"]["content"] for c in g1.json()["choices"]]
    assert texts == ["SELECT randomblob(10) FROM t LIMIT 2"] * 2
    assert g2.status_code == 500
