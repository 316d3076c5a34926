"""The console entry point: every subcommand answers --help without importing torch or vLLM."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sqlensemble.cli import COMMANDS, main

PROBE = """
import sys, contextlib, io
from sqlensemble.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        code = main([{name!r}, "--help"])
    except SystemExit as e:
        code = e.code
import json
print(json.dumps({{"code": code, "heavy": sorted(m for m in ("torch", "transformers", "vllm", "trl", "peft")
                                                   if m in sys.modules), "out": out.getvalue()}}))
"""


def test_usage_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert f"  {name} " in out


def test_unknown_command_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'frobnicate'" in err
    assert err.count("\n") == 1


def test_no_arguments_prints_usage_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: sqlensemble" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_subcommand_help_is_light(name: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(name=name)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["code"] == 0
    assert "usage:" in report["out"]
    assert report["heavy"] == [], f"`sqlensemble {name} --help` imported {report['heavy']}"


# package -> packages it must not import (serving reads the manifest through the core, not training)
LAYERS = [
    ("sqlensemble.serve.cli", ("sqlensemble.train", "sqlensemble.eval")),
    ("sqlensemble.ensemble.cli", ("sqlensemble.train", "sqlensemble.eval", "sqlensemble.serve")),
    ("sqlensemble.ensemble.app", ("sqlensemble.train", "sqlensemble.eval", "sqlensemble.serve")),
    ("sqlensemble.manifest", ("sqlensemble.train", "sqlensemble.serve")),
    ("sqlensemble.bird", ("sqlensemble.train", "sqlensemble.eval")),
]


@pytest.mark.parametrize(("module", "forbidden"), LAYERS, ids=[m for m, _ in LAYERS])
def test_packages_import_only_what_they_need(module: str, forbidden: tuple[str, ...]) -> None:
    probe = f"import sys, {module}; print([m for m in sys.modules if m.startswith({forbidden!r})])"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
