"""Execution results kept across requests: a bounded LRU keyed by the database file's version and the
normalized SQL.

A result is reused only for the same file in the same state. :func:`file_version` names that state:
the path, ``st_dev``, ``st_ino``, size, ``st_mtime_ns`` and ``st_ctime_ns`` (which no
copy that preserves times can set back) of the main file, SQLite's file
change counter and version-valid-for number from its header (bytes 24-28 and 92-96, bumped by every
commit in rollback-journal mode), and the size and time of a ``-wal`` file beside it. Readers open
files immutable (``sqlensemble.readonly``), so they see the main file only; a WAL that changes is a
checkpoint on its way into the main file, and counting it only costs misses.

A write within the file system's timestamp granularity can leave every one of those numbers as it
was (the same size, the same mtime tick, a WAL database's counter). So, as git does for its index, a
file modified less than :data:`RACY_S` ago has no version: its results are neither stored nor looked
up, and any later write lands on a later mtime than the one a stored result was keyed with. The
version is read before and after the query runs, and a result is stored only when the two agree.
``PRAGMA data_version`` would not help: it reports changes seen by one open connection, and each
query opens its own.

Only results that succeeded (``ok``, ``empty``) are kept. A timeout, an out-of-memory error or a
"database disk image is malformed" read during a checkpoint says something about that moment, not
about the SQL; refusals never reach the executor. The time limit is not part of the key: a result
that completed is the statement's answer whatever the limit was.

>>> cache = ResultCache(max_entries=2, max_bytes=10_000)
>>> ok = ExecResult("ok", ("n",), ((1,),), False, 1.0, None, "SELECT 1")
>>> v = FileVersion("/db", 1, 2, 3, 4, 5, b"", None)
>>> cache.put(cache_key(v, "SELECT 1", 10, 100), ok)
>>> cache.get(cache_key(v, "SELECT 1", 10, 100)) is ok, cache.get(cache_key(v, "SELECT 1", 11, 100))
(True, None)
>>> cache.put(cache_key(v, "SELECT 2", 10, 100), ExecResult("timeout", (), (), False, 1.0, "late", "q"))
>>> len(cache), cache.hits, cache.misses
(1, 1, 1)
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlensemble.executor import ExecResult

RACY_S = 2.0  # a file modified more recently than this has no version (coarse mtime clocks; FAT: 2 s)
HEADER_BYTES = 100
ROW_OVERHEAD_BYTES = 64  # what a row's tuple costs besides its values, roughly
ENTRY_OVERHEAD_BYTES = 256  # the key, the result object, the LRU's links


@dataclass(frozen=True)
class FileVersion:
    """One state of a database file (see the module docstring)."""

    path: str
    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int
    header: bytes  # change counter and version-valid-for number
    wal: tuple[int, int] | None  # size and mtime_ns of ``<path>-wal``, when there is one


def file_version(path: Path | str, *, racy_s: float = RACY_S) -> FileVersion | None:
    """The file's version, or ``None`` when it cannot be read or was modified under ``racy_s`` ago."""
    resolved = Path(path)  # the catalog's path; st_dev and st_ino name the file whatever the links
    now_ns = time.time_ns()
    racy_ns = int(racy_s * 1e9)
    try:
        stat = resolved.stat()
        with resolved.open("rb") as f:
            header = f.read(HEADER_BYTES)
        try:
            wal_stat = os.stat(f"{resolved}-wal")
            wal: tuple[int, int] | None = (wal_stat.st_size, wal_stat.st_mtime_ns)
        except FileNotFoundError:
            wal = None
    except OSError:
        return None
    newest = max(stat.st_mtime_ns, stat.st_ctime_ns, wal[1] if wal else 0)
    if now_ns - newest < racy_ns:
        return None
    counters = header[24:28] + header[92:96]
    return FileVersion(
        str(resolved),
        stat.st_dev,
        stat.st_ino,
        stat.st_size,
        stat.st_mtime_ns,
        stat.st_ctime_ns,
        counters,
        wal,
    )


CacheKey = tuple[FileVersion, str, int, int]


def cache_key(version: FileVersion, normalized_sql: str, max_rows: int, max_result_bytes: int) -> CacheKey:
    """What a result depends on besides the time limit: the file's state, the statement, the caps."""
    return (version, normalized_sql, max_rows, max_result_bytes)


def _value_bytes(value: Any) -> int:
    return 16 + (len(value) if isinstance(value, str | bytes) else 8)


def result_bytes(result: ExecResult) -> int:
    """A rough size of a result held in memory.

    >>> result_bytes(ExecResult("ok", ("a",), (("xy",),), False, 1.0, None, "SELECT a")) > 0
    True
    """
    values = sum(_value_bytes(v) for row in result.rows for v in row)
    return ENTRY_OVERHEAD_BYTES + len(result.sql) + values + ROW_OVERHEAD_BYTES * len(result.rows)


class ResultCache:
    """At most ``max_entries`` results holding at most ``max_bytes`` together; least recently used
    first out. ``hits`` and ``misses`` count :meth:`get`; :meth:`version` is :func:`file_version` with
    this cache's ``racy_s``. Used from one event loop (no lock)."""

    def __init__(self, max_entries: int, max_bytes: int, *, racy_s: float = RACY_S) -> None:
        if max_entries < 0 or max_bytes < 0 or racy_s < 0:
            raise ValueError("max_entries, max_bytes and racy_s must be >= 0")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.racy_s = racy_s
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[CacheKey, tuple[ExecResult, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.max_bytes > 0

    def version(self, path: Path | str) -> FileVersion | None:
        return file_version(path, racy_s=self.racy_s) if self.enabled else None

    def get(self, key: CacheKey) -> ExecResult | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry[0]

    def put(self, key: CacheKey, result: ExecResult) -> None:
        """Keep ``result`` when it succeeded and fits; evict the least recently used past a bound."""
        size = result_bytes(result)
        if not result.succeeded or not self.enabled or size > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        self._entries[key] = (result, size)
        self.bytes += size
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            _, (_, evicted) = self._entries.popitem(last=False)
            self.bytes -= evicted
