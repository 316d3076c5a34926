"""`sqlensemble demo` refuses to build on a benchmark it did not make (the run through is in tests/e2e)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from sqlensemble.synth.writer import SETTINGS_FILE, read_settings

REPO = Path(__file__).resolve().parents[1]


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "sqlensemble.cli", "demo", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=REPO)


def test_synth_records_what_it_made(tiny_synth: Path) -> None:
    made = read_settings(tiny_synth)
    assert made is not None
    assert (made["size"], made["seed"], made["cross_domain"]) == ("small", 0, False)
    assert made["train"] == 240 and made["dev"] == 80


def test_demo_refuses_a_benchmark_of_another_size(tiny_synth: Path, tmp_path: Path) -> None:
    proc = _demo("--data", str(tiny_synth), "--size", "demo", "--run", str(tmp_path / "run"))
    assert proc.returncode == 1
    assert "size 'small'" in proc.stderr and "--size demo" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()  # nothing was trained


def test_demo_refuses_a_benchmark_without_its_settings(tiny_synth: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(tiny_synth, data)
    (data / SETTINGS_FILE).unlink()
    proc = _demo("--data", str(data), "--size", "small", "--run", str(tmp_path / "run"))
    assert proc.returncode == 1
    assert "no synth.json" in proc.stderr
