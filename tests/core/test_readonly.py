"""Reading creates no file: WAL-mode databases through every reader (executor, worker pool, schema,
catalog, ``sqlensemble exec``), and what an immutable reader sees while another process writes."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from sqlensemble.catalog import Catalog
from sqlensemble.commands.exec import main as exec_main
from sqlensemble.executor import execute_readonly
from sqlensemble.schema import read_schema
from sqlensemble.workers import WorkerPool

from .fixtures_exec import sha256

DB_ID = "walled"


@pytest.fixture()
def wal_db(tmp_path: Path) -> Path:
    """``<root>/walled/walled.sqlite`` in WAL mode, closed cleanly (so no ``-wal``/``-shm`` beside it)."""
    path = tmp_path / DB_ID / f"{DB_ID}.sqlite"
    path.parent.mkdir()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode = WAL").fetchone() == ("wal",)
        conn.executescript(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO t VALUES (1, 'a'), (2, 'b');"
        )
        conn.commit()
    finally:
        conn.close()
    assert sorted(p.name for p in path.parent.iterdir()) == [f"{DB_ID}.sqlite"]
    return path


def _count_with_pool(path: Path) -> object:
    with WorkerPool(1) as pool:
        return pool.execute(path, "SELECT count(*) FROM t").rows[0][0]


READERS: dict[str, Callable[[Path], object]] = {
    "execute_readonly": lambda path: execute_readonly(path, "SELECT count(*) FROM t").rows[0][0],
    "worker_pool": _count_with_pool,
    "read_schema": lambda path: len(read_schema(path, DB_ID).tables),
    "catalog": lambda path: (Catalog(path.parent.parent).tables(DB_ID), Catalog(path.parent.parent).db_ids()),
    "exec_cli": lambda path: exec_main([str(path), "SELECT count(*) FROM t"]),
}


@pytest.mark.parametrize("read", list(READERS.values()), ids=list(READERS))
def test_reading_a_wal_database_creates_no_file(wal_db: Path, read: Callable[[Path], object]) -> None:
    before = sha256(wal_db)
    read(wal_db)
    read(wal_db)
    assert sorted(p.name for p in wal_db.parent.iterdir()) == [wal_db.name]
    assert sha256(wal_db) == before


def test_a_database_being_written_is_read_as_of_its_last_checkpoint(wal_db: Path) -> None:
    writer = sqlite3.connect(wal_db)
    try:
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        writer.execute("INSERT INTO t VALUES (3, 'c')")
        writer.commit()
        files = sorted(p.name for p in wal_db.parent.iterdir())  # the writer's -wal and -shm
        # the committed row is still only in the writer's -wal: the immutable reader does not see it
        assert execute_readonly(wal_db, "SELECT count(*) FROM t").rows == ((2,),)
        assert _count_with_pool(wal_db) == 2
        assert sorted(p.name for p in wal_db.parent.iterdir()) == files
        writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert execute_readonly(wal_db, "SELECT count(*) FROM t").rows == ((3,),)
    finally:
        writer.close()
