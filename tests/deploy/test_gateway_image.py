"""deploy/gateway.Dockerfile: a slim base install (no torch, no vLLM), a non-root user and a health check."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

from .rendering import DEPLOY, REPO

DOCKERFILE = DEPLOY / "gateway.Dockerfile"
HEAVY = {"torch", "transformers", "vllm", "trl", "peft", "deepspeed", "accelerate"}


def instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            pairs.append((word.upper(), rest.strip()))
    return pairs


def test_runs_as_a_non_root_user_with_a_health_check():
    steps = instructions()
    users = [args for word, args in steps if word == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    (health,) = [args for word, args in steps if word == "HEALTHCHECK"]
    assert "CMD" in health and "/health" in health
    assert [args for word, args in steps if word == "EXPOSE"] == ["8000"]
    assert any(word == "ENTRYPOINT" and "gateway" in args for word, args in steps)


def test_installs_the_base_package_only():
    installs = [args for word, args in instructions() if word == "RUN" and "pip" in args]
    assert installs
    for command in installs:
        assert "[" not in command, f"an extra is installed: {command}"
        assert not HEAVY & set(re.findall(r"[A-Za-z0-9_.-]+", command))
    base = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=\[; ]", dep, maxsplit=1)[0].lower() for dep in base}
    assert not names & HEAVY


def test_copies_the_package_folders_and_nothing_else():
    sources = [args.split()[:-1] for word, args in instructions() if word == "COPY" and "--from" not in args]
    copied = {s.rstrip("/") for group in sources for s in group}
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    folders = set(pyproject["tool"]["setuptools"]["package-dir"].values())
    assert copied == folders | {"pyproject.toml", pyproject["project"]["readme"]}
    ignore = (DEPLOY / "gateway.Dockerfile.dockerignore").read_text().split()
    assert {line.removeprefix("!").rstrip("/") for line in ignore if line.startswith("!")} == copied


def test_the_gateway_entry_point_imports_no_heavy_package():
    code = (
        "import sys, sqlensemble.cli, sqlensemble.ensemble.cli, sqlensemble.ensemble.app\n"
        f"print(sorted({set(HEAVY)!r} & {{m.split('.')[0] for m in sys.modules}}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
