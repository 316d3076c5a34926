"""The execution-result cache: its bounds, what it refuses to keep, and database file versions."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from sqlensemble.executor import ExecResult
from sqlensemble.result_cache import FileVersion, ResultCache, cache_key, file_version, result_bytes

VERSION = FileVersion("/db", 1, 2, 3, 4, 5, b"", None)


def ok(sql: str, rows: int = 1) -> ExecResult:
    return ExecResult("ok", ("n",), tuple((i,) for i in range(rows)), False, 1.0, None, sql)


def key(sql: str) -> tuple[FileVersion, str, int, int]:
    return cache_key(VERSION, sql, 100, 1000)


def test_least_recently_used_goes_first_and_the_entry_bound_holds() -> None:
    cache = ResultCache(max_entries=2, max_bytes=10**6)
    cache.put(key("a"), ok("a"))
    cache.put(key("b"), ok("b"))
    assert cache.get(key("a")) is not None  # a is now the most recent
    cache.put(key("c"), ok("c"))
    assert len(cache) == 2
    assert cache.get(key("b")) is None and cache.get(key("a")) is not None and cache.get(key("c")) is not None
    assert (cache.hits, cache.misses) == (3, 1)


def test_the_byte_bound_holds() -> None:
    big = ok("big", rows=100)
    cache = ResultCache(max_entries=100, max_bytes=3 * result_bytes(big))
    for i in range(10):
        cache.put(key(f"q{i}"), ok("big", rows=100))
        assert cache.bytes <= cache.max_bytes
    assert len(cache) == 3
    cache.put(key("huge"), ok("huge", rows=10_000))  # larger than the whole cache: not kept
    assert cache.get(key("huge")) is None and len(cache) == 3


@pytest.mark.parametrize("status", ["error", "timeout", "refused"])
def test_failures_are_not_kept(status: str) -> None:
    cache = ResultCache(max_entries=10, max_bytes=10**6)
    cache.put(key("q"), ExecResult(status, (), (), False, 1.0, "failed", "q"))  # type: ignore[arg-type]
    assert len(cache) == 0 and cache.get(key("q")) is None


def test_a_cache_of_size_zero_keeps_nothing(tmp_path: Path) -> None:
    cache = ResultCache(max_entries=0, max_bytes=10**6)
    cache.put(key("q"), ok("q"))
    assert len(cache) == 0 and cache.version(tmp_path) is None


def make_db(path: Path, wal: bool = False) -> None:
    conn = sqlite3.connect(path)
    if wal:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (a INTEGER)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    conn.close()


def test_a_write_changes_the_version_even_with_the_same_size_and_mtime(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    make_db(path)
    before = file_version(path, racy_s=0)
    stat = path.stat()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE t SET a = 2")
    conn.commit()
    conn.close()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after = file_version(path, racy_s=0)
    assert before is not None and after is not None
    assert (after.size, after.mtime_ns) == (before.size, before.mtime_ns)
    assert after != before


def test_a_recent_file_has_no_version(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    make_db(path)
    assert file_version(path, racy_s=3600) is None
    assert file_version(tmp_path / "missing.sqlite", racy_s=0) is None


def test_a_wal_that_changes_changes_the_version(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    make_db(path, wal=True)
    writer = sqlite3.connect(path)  # held open: the WAL is not checkpointed away on close
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    before = file_version(path, racy_s=0)
    writer.execute("INSERT INTO t VALUES (3)")
    writer.commit()
    after = file_version(path, racy_s=0)
    writer.close()
    assert before is not None and after is not None and before.wal != after.wal
