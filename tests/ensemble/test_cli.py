"""``sqlensemble gateway``: a bad stack is one line and exit 2; a good one starts uvicorn with the app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn
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
