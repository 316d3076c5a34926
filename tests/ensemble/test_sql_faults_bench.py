"""bench/sql_faults.py end to end, on a few requests: a real gateway process and scripted backends."""

from __future__ import annotations

import doctest
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "sql_faults.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sql_faults", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["sql_faults"] = module
    spec.loader.exec_module(module)
    return module


def test_doctests(bench: ModuleType) -> None:
    result = doctest.testmod(bench, verbose=False, report=False)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the gateway's memory from /proc")
def test_prints_every_figure(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--requests", "8", "--clients", "4"]) == 0
    out = capsys.readouterr().out
    assert "cheap requests while bombs run: p50=" in out
    assert "candidate statuses ['timeout']" in out
    assert "candidate error (result exceeds 8388608 bytes)" in out
    assert "4 clients, 8 hostile-mix requests" in out and "errors 0" in out
    assert "open files" in out


def test_refuses_an_unbounded_run(bench: ModuleType) -> None:
    assert bench.main(["--requests", "0"]) == 2
    assert bench.main(["--clients", "100000"]) == 2
