"""``sqlensemble exec``: one JSON object on stdout, exit 0/1 by status, exit 2 for a missing file."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sqlensemble.cli import main as sqlensemble_main
from sqlensemble.commands.exec import main

from .fixtures_exec import build_exec_db, sha256

WIDTH_BOMB = "SELECT printf('%.*c', 2000000000, 'x')"  # 13 s inside one call, unless killed
NEVER_ENDS = "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT max(x) FROM r"


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    return build_exec_db(tmp_path)


def run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict[str, object]]:
    code = main(argv)
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out  # exactly one JSON object on one line
    return code, json.loads(out)


def test_ok_prints_the_result(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run(
        capsys, [str(db), "SELECT singer_id, name FROM singer WHERE age = 29 ORDER BY singer_id"]
    )
    assert code == 0
    assert data["status"] == "ok"
    assert data["columns"] == ["singer_id", "name"]
    assert data["rows"] == [[3, "Justin Brown"], [5, "Élodie Noël"]]
    assert data["truncated"] is False and data["error"] is None
    assert isinstance(data["elapsed_ms"], float)


def test_empty_exits_zero(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run(capsys, [str(db), "SELECT name FROM singer WHERE age > 99"])
    assert (code, data["status"], data["rows"]) == (0, "empty", [])


def test_max_rows_truncates(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run(capsys, [str(db), "SELECT n FROM numbers ORDER BY n", "--max-rows", "3"])
    assert (code, data["rows"], data["truncated"]) == (0, [[1], [2], [3]], True)


@pytest.mark.parametrize(
    ("sql", "extra", "status"),
    [
        ("DROP TABLE singer", [], "refused"),
        ("SELECT missing FROM singer", [], "error"),
        (NEVER_ENDS, ["--timeout-s", "0.05"], "timeout"),
        ("SELECT " + "(" * 60 + "1" + ")" * 60, [], "refused"),
        ("SELECT 1; DROP TABLE singer", [], "refused"),
        (WIDTH_BOMB, ["--timeout-s", "0.5"], "timeout"),
        ("SELECT randomblob(1000) FROM numbers", ["--max-result-bytes", "5000"], "error"),
    ],
    ids=["refused", "error", "timeout", "deep_nesting", "two_statements", "width_bomb", "result_bytes"],
)
def test_failures_exit_one_with_the_status(
    db: Path, capsys: pytest.CaptureFixture[str], sql: str, extra: list[str], status: str
) -> None:
    before = sha256(db)
    code, data = run(capsys, [str(db), sql, *extra])
    assert code == 1
    assert data["status"] == status and data["error"]
    assert sha256(db) == before


def test_dispatcher_routes_exec(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert sqlensemble_main(["exec", str(db), "SELECT count(*) FROM concert"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == [[4]]


def test_missing_file_is_one_line_and_exit_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.sqlite"
    assert main([str(missing), "SELECT 1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "not found" in captured.err
    assert not missing.exists()


@pytest.mark.parametrize("bad", [["--max-rows", "0"], ["--timeout-s", "-1"], ["--timeout-s", "soon"]])
def test_bad_limits_are_usage_errors(db: Path, capsys: pytest.CaptureFixture[str], bad: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([str(db), "SELECT 1", *bad])
    assert exit_info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_console_entry_point_has_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sqlensemble", "exec", str(tmp_path / "nope.sqlite"), "SELECT 1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("sqlensemble exec: database file not found")
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("sql", "status"),
    [("SELECT " + "(" * 80 + "1" + ")" * 80, "refused"), (WIDTH_BOMB, "timeout")],
    ids=["deep_nesting", "width_bomb"],
)
def test_console_prints_json_by_the_deadline(db: Path, sql: str, status: str) -> None:
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "sqlensemble", "exec", str(db), sql, "--timeout-s", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    elapsed = time.monotonic() - start
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["status"] == status
    assert "Traceback" not in proc.stderr
    assert elapsed < 13  # the bomb alone takes 13 s in one process; here it ends at the 1 s deadline
