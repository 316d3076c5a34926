"""Every command in the README is run by a test or by the demo, so none of them rots.

Each ``$ command`` line of the README's console blocks must match one row of COVERAGE. A row either
runs the command here (paths swapped for the session's small synthetic benchmark, GPU runs as dry runs)
or names the test that runs it; the named test must exist. The curl and ``openai`` examples run against
a real engine in ``tests/e2e/test_stack_e2e.py``.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"


def readme_commands() -> list[str]:
    commands, fence = [], None
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fence = None if fence is not None else line[3:].strip()
        elif fence == "console" and line.startswith("$ "):
            commands.append(line[2:].strip())
    return commands


def make_expansion(command: str) -> list[list[str]]:
    """The commands ``make -n`` would run for a README make line (setup steps left out)."""
    out = subprocess.run(["make", "-n", *shlex.split(command)[1:]], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if re.search(r"sqlensemble|pytest|bench/", line)]
    runs = [shlex.split(line) for line in lines]
    return [r for r in runs if "pip" not in r and "venv" not in r]


def cli(argv: list[str], cwd: Path = REPO, **env: str) -> subprocess.CompletedProcess[str]:
    import os

    full = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-m", "sqlensemble.cli", *argv], cwd=cwd, capture_output=True, text=True, env=full
    )


def _swap(argv: list[str], synth: Path) -> list[str]:
    return [a.replace("data/synth", str(synth)).replace("data/bird", str(synth)) for a in argv]


def check_demo(command: str, synth: Path) -> None:
    (run,) = make_expansion(command)
    assert Path(run[0]).name == "sqlensemble" and run[1] == "demo"


def check_test(command: str, synth: Path) -> None:
    runs = make_expansion(command)
    assert any(Path(r[0]).name == "pytest" for r in runs)
    assert "make test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def check_train_gpu(command: str, synth: Path) -> None:
    (run,) = make_expansion(command)
    assert run[1:4] == ["train", "all", "--preset"] and "qwen2.5-coder-3b" in run
    proc = cli([*_swap(run[1:], synth), "--dry-run", "--num-gpus", "4"])
    assert proc.returncode == 0, proc.stderr
    assert "accelerate" in proc.stdout and "zero2" in proc.stdout


def check_eval(command: str, synth: Path) -> None:
    (run,) = make_expansion(command)
    assert run[1] == "eval"
    argv = _swap(run[1:], synth)
    argv[argv.index("--gateway") + 1] = "http://127.0.0.1:9"  # nothing listens: the clear refusal
    proc = cli(argv)
    assert proc.returncode != 0
    assert "127.0.0.1:9" in proc.stderr and "Traceback" not in proc.stderr


def check_synth(command: str, synth: Path, tmp: Path) -> None:
    argv = shlex.split(command)[1:]
    argv[argv.index("--out") + 1] = str(tmp / "synth")
    proc = cli([*argv, "--size", "small"])
    assert proc.returncode == 0, proc.stderr
    assert (tmp / "synth" / "dev" / "dev_gold.sql").is_file()


def check_schema_or_exec(command: str, synth: Path) -> None:
    proc = cli(_swap(shlex.split(command)[1:], synth))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()


def check_bench(command: str, synth: Path) -> None:
    (run,) = make_expansion(command)
    assert run[1].endswith("bench/gateway_latency.py") and "--gateway" in run


def check_fault_bench(command: str, synth: Path) -> None:
    (run,) = make_expansion(command)
    assert run[1].endswith("bench/fault_load.py")


DRY_RUNS = "tests/serve/test_dry_run.py"
# README command pattern -> how it is checked: a function run here, or the test that runs it.
COVERAGE: list[tuple[str, Callable[..., None] | str]] = [
    (r"make demo", check_demo),
    (r"make test", check_test),
    (r"make train-generators PRESET=qwen2\.5-coder-3b .*", check_train_gpu),
    (r"make serve CONFIG=configs/stack\.gpu-3b\.yaml.*", f"{DRY_RUNS}::test_gpu_stack_dry_run"),
    (r"make eval .*", check_eval),
    (r"sqlensemble synth .*", check_synth),
    (r"sqlensemble (schema|exec) .*", check_schema_or_exec),
    (r"sqlensemble serve --config configs/stack\.cpu\.yaml --dry-run", f"{DRY_RUNS}::test_cpu_stack_dry_run"),
    (r"make bench .*", check_bench),
    (r"make fault-bench", check_fault_bench),
    (r"PIP_EXTRA_INDEX_URL=\S+ make setup", "make setup, the first step of make test (.ci/run)"),
]  # fmt: skip


def _row(command: str) -> Callable[..., None] | str:
    matches = [how for pattern, how in COVERAGE if re.fullmatch(pattern, command)]
    assert len(matches) == 1, f"README command {command!r} is checked by {len(matches)} rows of COVERAGE"
    return matches[0]


def test_readme_has_the_two_commands() -> None:
    commands = readme_commands()
    assert "make demo" in commands and "make test" in commands


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_is_covered(command: str, tiny_synth: Path, tmp_path: Path) -> None:
    how = _row(command)
    if isinstance(how, str):
        if "::" in how:
            path, name = how.split("::")
            assert f"def {name}(" in (REPO / path).read_text(encoding="utf-8")
        return
    if how is check_synth:
        how(command, tiny_synth, tmp_path)
    else:
        how(command, tiny_synth)
