"""Helpers for the executor, adversarial and ``sqlensemble exec`` tests: the database built from
``tests/fixtures/exec_db.sql`` and the file hash that proves it was never modified."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

EXEC_DB_SQL = Path(__file__).resolve().parent.parent / "fixtures" / "exec_db.sql"


def build_database(sql_file: Path, db_path: Path) -> Path:
    """A real SQLite file built from the SQL text of ``sql_file``."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db_path)
    try:
        conn.executescript(sql_file.read_text(encoding="utf-8"))
        conn.commit()
    finally:
        conn.close()
    return db_path


def build_exec_db(directory: Path, name: str = "exec.sqlite") -> Path:
    """Write the test database under ``directory`` and return its path."""
    return build_database(EXEC_DB_SQL, directory / name)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
