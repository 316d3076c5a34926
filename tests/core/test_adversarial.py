"""Hostile SQL: every statement is refused, fails or is stopped at its deadline, and the file never changes.

The first suite goes through ``execute_readonly`` (guard + executor). The second skips the guard and
sends the statements straight to a connection from ``connect_readonly``: the authorizer, ``mode=ro`` and
the limits must stop them on their own (defence in depth).

Time limits are tiny (0.2 s) and the queries cannot finish in any reasonable time, so a ``timeout``
status proves the deadline fired; the elapsed-time bound is loose because the CPU is shared.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlensemble.executor import connect_readonly, execute_readonly, run_query

from .fixtures_exec import build_exec_db, sha256

DEADLINE_S = 0.2
SLACK_MS = 10_000  # far below what any of these queries would take uninterrupted

# (id, sql, statuses the executor may answer with)
HOSTILE: list[tuple[str, str, set[str]]] = [
    ("drop", "DROP TABLE singer", {"refused"}),
    ("insert", "INSERT INTO singer (name) VALUES ('intruder')", {"refused"}),
    ("update", "UPDATE singer SET age = 0", {"refused"}),
    ("delete", "DELETE FROM concert", {"refused"}),
    ("replace", "REPLACE INTO singer (singer_id, name) VALUES (1, 'x')", {"refused"}),
    ("create", "CREATE TABLE loot AS SELECT * FROM singer", {"refused"}),
    ("alter", "ALTER TABLE singer RENAME TO singers", {"refused"}),
    ("attach", "ATTACH DATABASE '{tmp}/other.sqlite' AS other", {"refused"}),
    ("detach", "DETACH DATABASE main", {"refused"}),
    ("writable_schema", "PRAGMA writable_schema = ON", {"refused"}),
    ("journal_mode", "PRAGMA journal_mode = DELETE", {"refused"}),
    ("query_only_off", "PRAGMA query_only = 0", {"refused"}),
    ("vacuum", "VACUUM", {"refused"}),
    ("vacuum_into", "VACUUM INTO '{tmp}/copy.sqlite'", {"refused"}),
    ("begin", "BEGIN IMMEDIATE", {"refused"}),
    ("load_extension", "SELECT load_extension('{tmp}/evil.so')", {"refused"}),
    ("two_statements", "SELECT 1; DROP TABLE singer", {"refused"}),
    ("behind_line_comment", "SELECT 1 -- innocent\n; UPDATE singer SET age = 0", {"refused"}),
    ("behind_block_comment", "/* SELECT 1; */ DELETE FROM singer", {"refused"}),
    ("writing_cte", "WITH w AS (DELETE FROM singer RETURNING *) SELECT * FROM w", {"refused"}),
    ("pragma_function", "SELECT * FROM pragma_table_info('singer')", {"error"}),
    (
        "endless_recursive_cte",
        "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT max(x) FROM r",
        {"timeout"},
    ),
    ("cartesian_product", "SELECT count(*) FROM numbers a, numbers b, numbers c", {"timeout"}),
    (
        "cartesian_rows",
        "SELECT a.n, b.n, c.n FROM numbers a, numbers b, numbers c ORDER BY random()",
        {"timeout"},
    ),
    ("randomblob_huge", "SELECT randomblob(1000000000)", {"error"}),
    ("zeroblob_huge", "SELECT zeroblob(2000000000)", {"error"}),
    (
        "blob_doubling",
        "WITH RECURSIVE r(s) AS (SELECT 'x' UNION ALL SELECT s || s FROM r) SELECT length(s) FROM r",
        {"error", "timeout"},
    ),
    (
        "group_concat_blobs",
        "SELECT length(group_concat(randomblob(1000000))) FROM numbers",
        {"error", "timeout"},
    ),
    ("many_blob_rows", "SELECT randomblob(15000000) FROM numbers", {"error", "timeout"}),
    ("wide_blob_row", "SELECT " + ", ".join(["zeroblob(16000000)"] * 72), {"error"}),
]


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    return build_exec_db(tmp_path)


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_suite_is_large_enough() -> None:
    assert len(HOSTILE) >= 15


@pytest.mark.parametrize(
    ("sql", "statuses"), [(sql, st) for _, sql, st in HOSTILE], ids=[h[0] for h in HOSTILE]
)
def test_hostile_sql_is_stopped(db: Path, sql: str, statuses: set[str]) -> None:
    before, files = sha256(db), _files(db.parent)
    result = execute_readonly(db, sql.format(tmp=db.parent), timeout_s=DEADLINE_S, max_rows=1000)
    assert result.status in statuses, result
    assert result.error
    assert result.elapsed_ms < DEADLINE_S * 1000 + SLACK_MS
    assert sha256(db) == before
    assert _files(db.parent) == files


# Statements the guard refuses, sent past it: the connection itself must refuse them. Left out: the
# multi-statement strings (tested below) and the writing CTE, which SQLite cannot even parse.
PAST_THE_GUARD = [
    (name, sql)
    for name, sql, statuses in HOSTILE
    if statuses == {"refused"} and ";" not in sql and name != "writing_cte"
]


@pytest.mark.parametrize("sql", [sql for _, sql in PAST_THE_GUARD], ids=[name for name, _ in PAST_THE_GUARD])
def test_authorizer_alone_stops_what_the_guard_refuses(db: Path, sql: str) -> None:
    before, files = sha256(db), _files(db.parent)
    conn = connect_readonly(db)
    try:
        result = run_query(conn, sql.format(tmp=db.parent), timeout_s=DEADLINE_S)
        still_reads = run_query(conn, "SELECT count(*) FROM singer")
    finally:
        conn.close()
    assert result.status == "error", result
    assert result.error and ("not authorized" in result.error or "authorization denied" in result.error)
    assert still_reads.rows == ((5,),)
    assert sha256(db) == before
    assert _files(db.parent) == files


def test_connection_refuses_more_than_one_statement(db: Path) -> None:
    before = sha256(db)
    conn = connect_readonly(db)
    try:
        result = run_query(conn, "SELECT 1; DROP TABLE singer")
    finally:
        conn.close()
    assert result.status == "error"
    assert sha256(db) == before
