"""mypy sees every ``sqlensemble.*`` package: an import between the mapped folders keeps its types.

The packages ``sqlensemble.train|serve|ensemble|eval`` live in top-level folders (``package-dir``);
``tools/typecheck_tree.py`` mirrors them as a link tree that ``mypy_path`` points at. Each snippet is
checked with the project's own mypy settings, as ``make lint`` checks the code.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# (snippet, expected mypy error code or None when the snippet must pass)
CASES = [
    pytest.param(
        'from sqlensemble.ensemble.limits import check_question\ncheck_question(123, "not a config")\n',
        "arg-type",
        id="ensemble-call-with-wrong-types",
    ),
    pytest.param(
        "from sqlensemble.serve.engines import round_lora_rank\nrank: str = round_lora_rank(16)\n",
        "assignment",
        id="serve-result-used-as-wrong-type",
    ),
    pytest.param(
        "from sqlensemble.bird import missing_function\n",
        "attr-defined",
        id="eval-name-that-does-not-exist",
    ),
    pytest.param(
        "from sqlensemble.ensemble.limits import check_question\n"
        "from sqlensemble.stack import GatewayConfig\n"
        'check_question("how many?", GatewayConfig())\n',
        None,
        id="correct-call-passes",
    ),
]


@pytest.fixture(scope="module")
def link_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("typecheck")
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "typecheck_tree.py"), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.parametrize(("snippet", "code"), CASES)
def test_mypy_resolves_mapped_packages(
    snippet: str, code: str | None, link_tree: Path, tmp_path: Path
) -> None:
    path = tmp_path / "snippet.py"
    path.write_text(snippet, encoding="utf-8")
    argv = [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"), str(path)]
    env = {"MYPYPATH": str(link_tree), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, env=env)
    out = proc.stdout + proc.stderr
    assert "import-not-found" not in out and "import-untyped" not in out, out
    if code is None:
        assert proc.returncode == 0, out
    else:
        assert proc.returncode == 1, out
        assert f"[{code}]" in out, out
