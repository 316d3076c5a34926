"""bench/executor_overhead.py runs end to end on a few queries and prints every figure."""

from __future__ import annotations

import doctest
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "executor_overhead.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("executor_overhead", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["executor_overhead"] = module
    spec.loader.exec_module(module)
    return module


def test_doctests(bench: ModuleType) -> None:
    result = doctest.testmod(bench, verbose=False, report=False)
    assert result.attempted > 0 and result.failed == 0


def test_prints_every_way(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--queries", "8", "--workers", "2", "--concurrency", "2"]) == 0
    out = capsys.readouterr().out
    ways = [line.split()[0] for line in out.splitlines()[1:5]]
    assert ways == ["in_process", "pool", "threads", "executor"]
    assert "width bomb with a 0.2 s deadline answered after" in out and "replaced" in out


def test_refuses_an_unbounded_loop(bench: ModuleType) -> None:
    assert bench.main(["--queries", "0"]) == 2
