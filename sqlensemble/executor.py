"""Read-only execution of untrusted SQL on SQLite, layered the way Datasette does it.

Layers, outermost first:

1. ``guard.check_sql``: one statement, read-only, no denied function (else status ``refused``);
2. the connection opens the file through a ``file:...?mode=ro&immutable=1`` URI
   (``sqlensemble.readonly``), so SQLite itself cannot write to it, never creates a missing file and
   creates no ``-wal``/``-shm`` file beside a WAL database, and ``PRAGMA query_only`` is on;
3. an sqlite3 authorizer allows only reading (SELECT, READ, FUNCTION except ``guard.DENIED_FUNCTIONS``,
   RECURSIVE) and denies everything else: ATTACH, DETACH, writes, PRAGMAs, transactions;
4. limits: the longest string or blob (``randomblob``/``zeroblob`` bombs), no attached databases, a
   cap on SQLite's heap, a progress-handler deadline (status ``timeout``), a row cap by fetching
   ``max_rows + 1`` rows (``truncated``) and a cap on the bytes a fetched result may hold.

The heap cap is SQLite's ``PRAGMA hard_heap_limit``, which is process-wide: when no limit is set yet,
the first connection opened here sets ``HEAP_LIMIT_BYTES``, so a row of many large blobs fails with an
out-of-memory error instead of exhausting the machine. Process-wide means that one heavy query could
make a concurrent one fail, and the progress handler cannot stop one long function call: so untrusted
SQL runs through ``sqlensemble.workers``, one query at a time per worker process, each worker with its
own heap limit and killed at the deadline.

A failed query is a value (``ExecResult.status``), never an exception; only a database file that cannot
be opened raises ``CatalogError``.

>>> import os, tempfile
>>> tmp = tempfile.TemporaryDirectory()
>>> path = os.path.join(tmp.name, "demo.sqlite")
>>> setup = sqlite3.connect(path)
>>> _ = setup.executescript("CREATE TABLE t(a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x'), (2, 'y');")
>>> setup.close()
>>> result = execute_readonly(path, "SELECT a, b FROM t ORDER BY a")
>>> result.status, result.columns, result.rows
('ok', ('a', 'b'), ((1, 'x'), (2, 'y')))
>>> execute_readonly(path, "DELETE FROM t").status
'refused'
>>> execute_readonly(path, "SELECT a FROM t", max_rows=1).truncated
True
>>> tmp.cleanup()
"""

from __future__ import annotations

import math
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlensemble.errors import CatalogError
from sqlensemble.guard import DENIED_FUNCTIONS, GuardResult, check_sql
from sqlensemble.readonly import readonly_uri

ExecStatus = Literal["ok", "empty", "error", "timeout", "refused"]

# Authorizer actions a read query needs; every other action is denied.
ALLOWED_ACTIONS: frozenset[int] = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)

# Connection limits (sqlite3 limit category -> value).
CONNECTION_LIMITS: dict[int, int] = {
    sqlite3.SQLITE_LIMIT_LENGTH: 16 * 2**20,  # longest string, blob or row: stops randomblob/zeroblob bombs
    sqlite3.SQLITE_LIMIT_SQL_LENGTH: 2**20,  # longest SQL text
    sqlite3.SQLITE_LIMIT_ATTACHED: 0,  # no attached databases, whatever slips through
}

PROGRESS_STEPS = 1000  # virtual-machine instructions between deadline checks
MAX_RESULT_BYTES = 256 * 2**20  # rough size of all fetched values together
HEAP_LIMIT_BYTES = 2**30  # SQLite's process-wide hard heap limit, when none is set


@dataclass(frozen=True)
class ExecResult:
    """The outcome of one query. ``rows`` are exactly what sqlite3 returned (capped at ``max_rows``).

    status: ``ok`` (rows), ``empty`` (ran, no rows), ``error`` (SQLite refused or failed it, or the
    result was too large), ``timeout`` (interrupted at the deadline), ``refused`` (stopped by the guard).
    """

    status: ExecStatus
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    truncated: bool
    elapsed_ms: float
    error: str | None
    sql: str

    @property
    def succeeded(self) -> bool:
        return self.status in ("ok", "empty")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: blobs become hex strings, infinite floats their ``repr``.

        >>> ExecResult("ok", ("b",), ((b"\\x01\\xff",),), False, 1.0, None, "SELECT b").to_dict()["rows"]
        [['01ff']]
        """
        return {
            "status": self.status,
            "columns": list(self.columns),
            "rows": [[json_value(value) for value in row] for row in self.rows],
            "truncated": self.truncated,
            "elapsed_ms": round(self.elapsed_ms, 3),
            "error": self.error,
            "sql": self.sql,
        }


def json_value(value: Any) -> Any:
    """One SQLite value as JSON can hold it.

    >>> json_value(b"ab"), json_value(float("inf")), json_value(2.5), json_value(None)
    ('6162', 'inf', 2.5, None)
    """
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def authorize(
    action: int, arg1: str | None, arg2: str | None, db_name: str | None, source: str | None
) -> int:
    """The sqlite3 authorizer: allow reading, deny everything else.

    >>> authorize(sqlite3.SQLITE_READ, "t", "a", "main", None) == sqlite3.SQLITE_OK
    True
    >>> authorize(sqlite3.SQLITE_FUNCTION, None, "load_extension", None, None) == sqlite3.SQLITE_DENY
    True
    >>> authorize(sqlite3.SQLITE_ATTACH, "x.db", None, None, None) == sqlite3.SQLITE_DENY
    True
    """
    if action not in ALLOWED_ACTIONS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def connect_readonly(db_path: Path | str) -> sqlite3.Connection:
    """Open an existing SQLite file read-only with the authorizer and limits in place.

    Raises ``CatalogError`` when the file is missing or cannot be opened; never creates a file.
    """
    path = Path(db_path)
    if not path.is_file():
        raise CatalogError(f"database file not found: {path}")
    try:
        conn = sqlite3.connect(readonly_uri(path), uri=True, isolation_level=None)
    except sqlite3.Error as e:
        raise CatalogError(f"cannot open database {path}: {e}") from e
    try:
        (heap_limit,) = conn.execute("PRAGMA hard_heap_limit").fetchone()
        if heap_limit == 0:  # a worker sets its own limit before its first query
            conn.execute(f"PRAGMA hard_heap_limit = {HEAP_LIMIT_BYTES}")
        conn.execute("PRAGMA query_only = 1")
        for category, limit in CONNECTION_LIMITS.items():
            conn.setlimit(category, limit)
        conn.set_authorizer(authorize)
    except sqlite3.Error as e:
        conn.close()
        raise CatalogError(f"cannot open database {path}: {e}") from e
    return conn


def _value_size(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes) else 16


def run_query(
    conn: sqlite3.Connection,
    sql: str,
    *,
    timeout_s: float = 30.0,
    max_rows: int = 10000,
    max_result_bytes: int = MAX_RESULT_BYTES,
) -> ExecResult:
    """Run one statement on an open connection under a deadline and a row cap, without the guard.

    ``execute_readonly`` is the entry point; this lower layer exists so that tests can show that the
    authorizer and the limits stop what the guard would have refused.
    """
    start = time.perf_counter()
    deadline = time.monotonic() + timeout_s
    interrupted = False

    def elapsed_ms() -> float:
        return (time.perf_counter() - start) * 1000

    def on_progress() -> int:
        nonlocal interrupted
        if time.monotonic() >= deadline:
            interrupted = True
            return 1
        return 0

    def failed(status: ExecStatus, error: str, columns: tuple[str, ...] = ()) -> ExecResult:
        return ExecResult(status, columns, (), False, elapsed_ms(), error, sql)

    conn.set_progress_handler(on_progress, PROGRESS_STEPS)
    columns: tuple[str, ...] = ()
    try:
        cursor = conn.execute(sql)
        columns = tuple(d[0] for d in cursor.description or ())
        rows: list[tuple[Any, ...]] = []
        truncated = False
        size = 0
        # Row by row, so that the deadline and the byte cap are checked between rows as well as
        # inside SQLite; the (max_rows + 1)-th row only proves that the result was truncated.
        for row in cursor:
            if len(rows) == max_rows:
                truncated = True
                break
            if time.monotonic() >= deadline:
                interrupted = True
                return failed("timeout", f"query exceeded the {timeout_s:g} s time limit", columns)
            size += sum(_value_size(value) for value in row)
            if size > max_result_bytes:
                return failed("error", f"result exceeds {max_result_bytes} bytes", columns)
            rows.append(row)
    except (sqlite3.Error, sqlite3.Warning) as e:
        if interrupted:
            return failed("timeout", f"query exceeded the {timeout_s:g} s time limit", columns)
        return failed("error", str(e) or type(e).__name__, columns)
    except MemoryError:  # SQLITE_NOMEM: the query reached the heap limit
        return failed("error", "out of memory (the SQLite heap limit was reached)", columns)
    finally:
        conn.set_progress_handler(None, 0)
    status: ExecStatus = "ok" if rows else "empty"
    return ExecResult(status, columns, tuple(rows), truncated, elapsed_ms(), None, sql)


def check_exec_limits(timeout_s: float, max_rows: int) -> None:
    """``ValueError`` unless the time limit is positive and at least one row may be fetched.

    >>> check_exec_limits(0, 10)
    Traceback (most recent call last):
    ...
    ValueError: timeout_s must be > 0, got 0
    """
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
    if max_rows < 1:
        raise ValueError(f"max_rows must be >= 1, got {max_rows}")


def execute_readonly(
    db_path: Path | str,
    sql: str,
    *,
    timeout_s: float = 30.0,
    max_rows: int = 10000,
    max_result_bytes: int = MAX_RESULT_BYTES,
    checked: GuardResult | None = None,
) -> ExecResult:
    """Guard, then run ``sql`` read-only on ``db_path``; the result is a value whatever happens to the SQL.

    In this process, so only the progress-handler deadline applies: untrusted SQL goes through
    ``sqlensemble.workers`` (a worker process killed at the deadline), which calls this.

    ``checked`` is the guard's acceptance of exactly ``sql`` when the caller has already run the guard
    (the gateway guards every candidate before it executes it): the guard is not run twice, and the
    text executed is the verdict's. A verdict for other SQL, or a refusal, is a ``ValueError``.

    Raises ``CatalogError`` only when the database file is missing or unusable, and ``ValueError`` for a
    non-positive ``timeout_s``, ``max_rows`` or ``max_result_bytes``.
    """
    check_exec_limits(timeout_s, max_rows)
    if max_result_bytes < 1:
        raise ValueError(f"max_result_bytes must be >= 1, got {max_result_bytes}")
    start = time.perf_counter()
    if checked is not None and not (checked.ok and checked.sql == sql.strip()):
        raise ValueError("checked must be the guard's acceptance of this SQL")
    verdict = checked or check_sql(sql)
    if not verdict.ok:
        elapsed = (time.perf_counter() - start) * 1000
        return ExecResult("refused", (), (), False, elapsed, verdict.reason, verdict.sql)
    conn = connect_readonly(db_path)
    try:
        return run_query(
            conn, verdict.sql, timeout_s=timeout_s, max_rows=max_rows, max_result_bytes=max_result_bytes
        )
    finally:
        conn.close()
