"""``sqlensemble gateway``: a bad stack is one line and exit 2; a good one starts uvicorn with the app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml
from fastapi import FastAPI

from sqlensemble.cli import main as sqlensemble_main
from sqlensemble.ensemble.cli import main


def write_stack(tmp_path: Path, root: Path, *, port: int = 8000) -> Path:
    path = tmp_path / "stack.yaml"
    path.write_text(
        f"databases: {{root: {root}}}\n"
        "generators:\n"
        "  - {name: g1, base_url: 'http://127.0.0.1:8100/v1', model: g1}\n"
        f"gateway: {{host: 127.0.0.1, port: {port}}}\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    ("root", "extra", "error"),
    [
        ("/nonexistent/dbs", [], "databases.root '/nonexistent/dbs' is not a folder"),
        (None, ["--port", "0"], "--port must be between 1 and 65535"),
    ],
    ids=["bad_stack", "bad_port"],
)
def test_user_mistakes_are_one_line(
    root: str | None,
    extra: list[str],
    error: str,
    tmp_path: Path,
    db_root: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_stack(tmp_path, Path(root) if root else db_root)
    assert sqlensemble_main(["gateway", "--config", str(config), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sqlensemble gateway: ") and error in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(tmp_path / "none.yaml")]) == 2
    assert "cannot read stack file" in capsys.readouterr().err


def test_runs_uvicorn_with_the_built_app(
    tmp_path: Path, db_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    config = write_stack(tmp_path, db_root, port=8123)

    assert main(["--config", str(config)]) == 0
    assert main(["--config", str(config), "--host", "0.0.0.0", "--port", "9001"]) == 0
    (app, first), (_, second) = calls
    assert isinstance(app, FastAPI) and app.state.settings.generators[0].name == "g1"
    assert (first["host"], first["port"]) == ("127.0.0.1", 8123)
    assert (second["host"], second["port"]) == ("0.0.0.0", 9001)


@pytest.mark.parametrize(
    ("trained_examples", "error"),
    [
        (3, None),
        (0, "generator 'g1': prompt.max_examples is 3 but model 'g1' was trained with 0"),
    ],
    ids=["same-prompt", "different-prompt"],
)
def test_prompt_settings_must_match_the_manifest(
    trained_examples: int,
    error: str | None,
    tmp_path: Path,
    db_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    prompt = {"template": "xiyan_zh", "dialect": "SQLite", "schema_style": "mschema"}
    entry = {"name": "g1", "level": "none", "adapter_path": "/a", "merged_path": None, "lora_rank": 8,
             "lora_alpha": 16, "prompt": {**prompt, "max_examples": trained_examples}}  # fmt: skip
    manifest = tmp_path / "generators.yaml"
    manifest.write_text(
        yaml.safe_dump({"preset": "p", "base_model": "/b", "tokenizer": "/b", "generators": [entry]})
    )
    config = write_stack(tmp_path, db_root)
    with config.open("a", encoding="utf-8") as f:
        f.write(f"serve: {{manifest: {manifest}}}\n")
    config.write_text(config.read_text().replace("model: g1}", "model: g1, prompt: {max_examples: 3}}"))
    code = main(["--config", str(config)])
    err = capsys.readouterr().err
    if error is None:
        assert code == 0, err
    else:
        assert code == 2 and err.count("\n") == 1 and error in err
