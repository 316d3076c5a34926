"""Helpers for the executor, adversarial and ``sqlensemble exec`` tests: the database built from
``tests/fixtures/exec_db.sql`` and the file hash that proves it was never modified."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

EXEC_DB_SQL = Path(__file__).resolve().parent.parent / "fixtures" / "exec_db.sql"


def build_exec_db(directory: Path, name: str = "exec.sqlite") -> Path:
    """Write the test database under ``directory`` and return its path."""
    path = directory / name
    conn = sqlite3.connect(path)
    try:
        conn.executescript(EXEC_DB_SQL.read_text(encoding="utf-8"))
        conn.commit()
    finally:
        conn.close()
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
