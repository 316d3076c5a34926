"""The stack file: read, overridden from the environment, and refused when unsafe or inconsistent."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from sqlensemble.errors import ConfigError
from sqlensemble.stack import load_stack, parse_stack

CASES = yaml.safe_load(
    (Path(__file__).parent / "data" / "gateway_stack_cases.yaml").read_text(encoding="utf-8")
)

BASE_YAML = """\
databases: {root: DB_ROOT}
generators:
  - name: g1
    base_url: http://127.0.0.1:8100/v1/
    model: sqlg1
    priority: 1
    prompt: {template: xiyan_zh, dialect: SQLite, schema_style: mschema}
    sampling: {n: 4, temperature: 0.8, top_p: 0.95, max_tokens: 256, seed: null}
    timeout_s: 60
  - name: g2
    base_url: http://127.0.0.1:8101/v1
    model: sqlg2
    weight: 0.5
    priority: 2
gateway: {host: 127.0.0.1, port: 8000, max_rows: 1000, sql_timeout_s: 30, max_n: 16, max_candidates: 64}
serve: {mode: merged, device: cpu, manifest: runs/cpu-tiny/generators.yaml}
"""


def base(db_root: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(BASE_YAML.replace("DB_ROOT", str(db_root)))
    return data


def merge(into: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(into)
    for key, value in patch.items():
        out[key] = (
            merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def test_load_stack(tmp_path: Path, db_root: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(BASE_YAML.replace("DB_ROOT", str(db_root)), encoding="utf-8")
    stack = load_stack(path)
    g1, g2 = stack.generators
    assert g1.base_url == "http://127.0.0.1:8100/v1"  # trailing slash dropped
    assert (g1.sampling.n, g1.prompt.template, g1.weight) == (4, "xiyan_zh", 1.0)
    assert (g2.sampling.n, g2.prompt.schema_style, g2.weight, g2.timeout_s) == (4, "mschema", 0.5, 60.0)
    assert stack.gateway.equivalence == "bird" and stack.gateway.max_body_bytes == 65536
    assert stack.serve is not None and stack.serve.mode == "merged"
    assert stack.generator("g2") is g2 and stack.generator("ensemble") is None
    assert stack.gateway.api_keys() == frozenset()


def test_environment_overrides_the_file(db_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SQLENSEMBLE_GATEWAY__PORT", "9123")
    monkeypatch.setenv("SQLENSEMBLE_GATEWAY__EQUIVALENCE", "ordered")
    monkeypatch.setenv("SQLENSEMBLE_API_KEYS", "k1, k2,,")
    stack = parse_stack(base(db_root))
    assert stack.gateway.port == 9123 and stack.gateway.equivalence == "ordered"
    assert stack.gateway.max_rows == 1000  # the rest of the section still comes from the file
    assert stack.gateway.api_keys() == frozenset({"k1", "k2"})


def test_relative_root_resolves_against_the_working_directory(
    db_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(db_root.parent)
    stack = parse_stack(merge(base(db_root), {"databases": {"root": db_root.name}}))
    assert stack.databases.root.resolve() == db_root.resolve()


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_refused(case: dict[str, Any], db_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = base(db_root)
    for section in ("gateway", "databases", "serve"):
        if section in case:
            data[section] = merge(data[section], case[section])
    for position, patch in enumerate(case.get("generators", [])):
        generators = data["generators"]
        if position < len(generators):
            generators[position] = merge(generators[position], patch)
        else:
            generators.append(patch)
    if "generators_replace" in case:
        data["generators"] = case["generators_replace"]
    for name, value in case.get("env", {}).items():
        monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError) as caught:
        parse_stack(data, source="stack.yaml")
    message = str(caught.value)
    assert case["error"] in message
    assert message.startswith("stack.yaml: ") and "\n" not in message and "pydantic" not in message


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (None, "cannot read stack file"),
        ("gateway: [", "not valid YAML"),
        ("- a\n- b\n", "expected a mapping"),
    ],
    ids=["missing", "bad_yaml", "not_a_mapping"],
)
def test_unreadable_files(tmp_path: Path, text: str | None, error: str) -> None:
    path = tmp_path / "stack.yaml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=error):
        load_stack(path)


def test_every_problem_in_one_message(db_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Field errors no longer hide the cross checks: five mistakes, five reports, one line."""
    monkeypatch.setenv("SQLENSEMBLE_GATEWAY__MAX_N", "2")
    data = merge(base(db_root), {"databases": {"root": "/nonexistent/sqlensemble/dbs"}})
    data["generators"][0] |= {"base_url": "http://127.0.0.1:99999/v1", "sampling": {"n": 4}}
    data["generators"][1] |= {"weight": float("inf"), "name": "g1"}
    data["generators"].append({"name": "g3", "base_url": "http://", "model": "m3", "priority": 1})
    with pytest.raises(ConfigError) as caught:
        parse_stack(data, source="stack.yaml")
    message = str(caught.value)
    for part in [
        "generators.0.base_url: port 99999 is not from 1 to 65535",
        "generators.1.weight: Input should be a finite number",
        "generators.2.base_url: has no host",
        "sampling.n=4 > gateway.max_n=2",
        "databases.root '/nonexistent/sqlensemble/dbs' is not a folder",
    ]:
        assert part in message, message
    assert "\n" not in message


def test_bad_env_json_is_one_line_on_the_cli(tmp_path: Path, db_root: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "stack.yaml"
    path.write_text(BASE_YAML.replace("DB_ROOT", str(db_root)), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("SQLENSEMBLE_")}
    env["SQLENSEMBLE_GATEWAY"] = "{not json"
    done = subprocess.run(
        [sys.executable, "-m", "sqlensemble", "gateway", "--config", str(path)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "SQLENSEMBLE_GATEWAY is not valid JSON" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
