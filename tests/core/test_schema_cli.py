"""``sqlensemble schema DB_PATH``: the schema text on stdout, user mistakes as one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sqlensemble.cli import main as cli_main
from sqlensemble.commands.schema import main

from .conftest import expected


def test_mschema_ignores_descriptions(school_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(school_db)]) == 0
    assert capsys.readouterr().out == expected("school.mschema.txt")


def test_ddl_through_the_dispatcher(school_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["schema", str(school_db), "--style", "ddl"]) == 0
    assert capsys.readouterr().out == expected("school.ddl.txt")


def test_db_id_and_max_examples(school_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(school_db), "--db-id", "schools_2024", "--max-examples", "0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("【DB_ID】 schools_2024\n【Schema】\n")
    assert "Examples" not in out


def test_file_outside_bird_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "plain.db"
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (x INTEGER PRIMARY KEY, y TEXT)")
        conn.execute("INSERT INTO t VALUES (1, 'a')")
    conn.close()
    assert main([str(db)]) == 0
    assert capsys.readouterr().out == (
        "【DB_ID】 plain\n【Schema】\n# Table: t\n[\n"
        "(x:INTEGER, Primary Key, Examples: [1]),\n(y:TEXT, Examples: [a])\n]\n"
    )


@pytest.mark.parametrize("kind", ["missing", "folder", "not sqlite"])
def test_user_mistakes_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    path = tmp_path / "x.sqlite"
    if kind == "folder":
        path.mkdir()
    elif kind == "not sqlite":
        path.write_bytes(b"definitely not a database file " * 64)
    assert main([str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("sqlensemble schema: ") and captured.err.count("\n") == 1


def test_subprocess_has_no_traceback_and_imports_no_heavy_modules(school_db: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    missing = subprocess.run(
        [sys.executable, "-m", "sqlensemble", "schema", str(tmp_path / "nope.sqlite")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 2
    assert "Traceback" not in missing.stderr and missing.stderr.count("\n") == 1
    probe = (
        "import sys, sqlensemble.catalog, sqlensemble.schema, sqlensemble.prompts, sqlensemble.extract, "
        "sqlensemble.commands.schema; print(sorted(m for m in ('torch', 'transformers', 'vllm', 'sqlglot', "
        "'pydantic', 'fastapi') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "[]"
