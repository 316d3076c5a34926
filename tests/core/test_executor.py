"""The read-only executor on a real SQLite file: results, statuses, caps and the thread pool."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from sqlensemble.errors import CatalogError
from sqlensemble.executor import ExecResult, connect_readonly, execute_readonly, run_query
from sqlensemble.workers import Executor

from .fixtures_exec import build_exec_db, sha256

NEVER_ENDS = "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT max(x) FROM r"


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    return build_exec_db(tmp_path)


def test_rows_and_columns_are_what_sqlite_returns(db: Path) -> None:
    result = execute_readonly(
        db, "SELECT name, age, net_worth FROM singer WHERE country = 'France' ORDER BY name"
    )
    assert result.status == "ok"
    assert result.columns == ("name", "age", "net_worth")
    assert result.rows == (("Justin Brown", 29, None), ("Rose White", 41, 7.25), ("Élodie Noël", 29, 3.0))
    assert not result.truncated
    assert result.error is None
    assert result.elapsed_ms >= 0


def test_integer_and_real_values_keep_their_types(db: Path) -> None:
    result = execute_readonly(db, "SELECT age, net_worth FROM singer WHERE singer_id = 2")
    (age, net_worth) = result.rows[0]
    assert type(age) is int and type(net_worth) is float


def test_no_rows_is_empty_with_columns(db: Path) -> None:
    result = execute_readonly(db, "SELECT name FROM singer WHERE age > 100")
    assert result.status == "empty"
    assert result.columns == ("name",)
    assert result.rows == ()


def test_views_and_the_schema_table_can_be_read(db: Path) -> None:
    assert execute_readonly(db, "SELECT count(*) FROM singer_names").rows == ((5,),)
    names = execute_readonly(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    assert [row[0] for row in names.rows] == ["concert", "media", "numbers", "singer"]


@pytest.mark.parametrize(
    ("max_rows", "kept", "truncated"), [(2, 2, True), (4, 4, True), (5, 5, False), (9, 5, False)]
)
def test_row_cap_fetches_one_more_row_to_know_it_truncated(
    db: Path, max_rows: int, kept: int, truncated: bool
) -> None:
    result = execute_readonly(db, "SELECT singer_id FROM singer ORDER BY singer_id", max_rows=max_rows)
    assert result.status == "ok"
    assert result.rows == tuple((i,) for i in range(1, kept + 1))
    assert result.truncated is truncated


def test_sqlite_errors_are_values(db: Path) -> None:
    result = execute_readonly(db, "SELECT no_such_column FROM singer")
    assert result.status == "error"
    assert result.error is not None and "no_such_column" in result.error
    assert result.rows == ()
    assert result.sql == "SELECT no_such_column FROM singer"


def test_guard_refusal_is_a_value(db: Path) -> None:
    result = execute_readonly(db, "DELETE FROM singer")
    assert result.status == "refused"
    assert result.error is not None and "DELETE" in result.error


def test_deadline_interrupts_a_query_that_never_ends(db: Path) -> None:
    result = execute_readonly(db, NEVER_ENDS, timeout_s=0.05)
    assert result.status == "timeout"
    assert result.sql == NEVER_ENDS
    assert result.error is not None and "time limit" in result.error


def test_result_byte_cap_stops_a_large_result(db: Path) -> None:
    conn = connect_readonly(db)
    try:
        capped = run_query(conn, "SELECT name FROM singer", max_result_bytes=20)
        whole = run_query(conn, "SELECT name FROM singer")
    finally:
        conn.close()
    assert capped.status == "error" and capped.error == "result exceeds 20 bytes"
    assert whole.status == "ok" and len(whole.rows) == 5


def test_to_dict_is_json_safe(db: Path) -> None:
    result = execute_readonly(db, "SELECT media_id, payload, 1e999 FROM media ORDER BY media_id")
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["rows"] == [[1, "00ff10", "inf"], [2, None, "inf"]]
    assert set(data) == {"status", "columns", "rows", "truncated", "elapsed_ms", "error", "sql"}
    assert data["status"] == "ok" and data["truncated"] is False


def test_missing_file_raises_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "missing.sqlite"
    with pytest.raises(CatalogError, match="not found"):
        execute_readonly(missing, "SELECT 1")
    with pytest.raises(CatalogError):
        execute_readonly(tmp_path, "SELECT 1")
    assert not missing.exists()


def test_file_that_is_not_a_database_is_an_error_value(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_text("not a database at all, just some text long enough to have a header\n" * 10)
    before = sha256(path)
    result = execute_readonly(path, "SELECT 1 FROM sqlite_master")
    assert result.status == "error"
    assert sha256(path) == before


def test_bad_limits_are_refused(db: Path) -> None:
    with pytest.raises(ValueError):
        execute_readonly(db, "SELECT 1", timeout_s=0)
    with pytest.raises(ValueError):
        execute_readonly(db, "SELECT 1", max_rows=0)
    with pytest.raises(ValueError):
        Executor(workers=0)


def test_executor_runs_queries_on_a_bounded_pool(db: Path) -> None:
    queries = [f"SELECT n FROM numbers WHERE n <= {k} ORDER BY n" for k in range(1, 7)]

    async def run_all(executor: Executor) -> list[ExecResult]:
        jobs = [executor.run(db, sql, timeout_s=5.0, max_rows=100) for sql in queries]
        jobs.append(executor.run(db, NEVER_ENDS, timeout_s=0.05, max_rows=100))
        return await asyncio.gather(*jobs)

    with Executor(workers=2) as executor:
        results = asyncio.run(run_all(executor))
    assert [len(r.rows) for r in results[:-1]] == [1, 2, 3, 4, 5, 6]
    assert all(r.status == "ok" for r in results[:-1])
    assert results[-1].status == "timeout"


def test_nothing_above_modified_the_file(db: Path) -> None:
    before = sha256(db)
    for sql in ["SELECT * FROM singer", "SELECT * FROM media", NEVER_ENDS, "DELETE FROM singer"]:
        execute_readonly(db, sql, timeout_s=0.05)
    assert sha256(db) == before
    assert sorted(p.name for p in db.parent.iterdir()) == ["exec.sqlite"]
