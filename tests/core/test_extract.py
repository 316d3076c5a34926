"""SQL extraction from model output: cases in a data file, one parametrized test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sqlensemble import extract
from sqlensemble.extract import extract_sql

CASES_FILE = Path(__file__).resolve().parent.parent / "data" / "extract" / "cases.jsonl"
CASES = [json.loads(line) for line in CASES_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_enough_cases() -> None:
    assert len(CASES) >= 20
    assert {c["expected"] is None for c in CASES} == {True, False}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_extract(case: dict[str, str | None]) -> None:
    assert extract_sql(case["text"]) == case["expected"]


def test_none_input() -> None:
    assert extract_sql(None) is None


PROSE = "\n".join(f"Line {i}: this explains the query's columns, one by one, at length." for i in range(3000))
# Long completions that re-parsing every shorter prefix turned into minutes (issue 14, item 6).
LONG_TEXTS = [
    (
        "statement then 3,000 lines of prose",
        f"SELECT a FROM t WHERE b = 1\n{PROSE}",
        "SELECT a FROM t WHERE b = 1",
    ),
    ("fenced block of prose", f"```sql\nSELECT a\nFROM t\n{PROSE}\n```", "SELECT a\nFROM t"),
    ("sql-like lines", "SELECT a FROM t\n" + "\n".join(f"AND c{i} = {i} OR" for i in range(5000)), None),
    ("many fenced blocks", "```sql\nSELECT a FROM\n```\n" * 5000, "SELECT a FROM"),
    ("one huge line", "SELECT a FROM t WHERE " + " AND ".join(f"c{i} = {i}" for i in range(40000)), None),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in LONG_TEXTS], ids=[c[0] for c in LONG_TEXTS])
def test_work_per_completion_is_bounded(
    monkeypatch: pytest.MonkeyPatch, text: str, expected: str | None
) -> None:
    parsed: list[int] = []
    real = extract._parse_prefix

    def counting(sql: str) -> tuple[int | None, object]:
        parsed.append(len(sql))
        return real(sql)

    monkeypatch.setattr(extract, "_parse_prefix", counting)
    result = extract_sql(text)
    if expected is not None:
        assert result == expected
    assert result is not None and len(result) <= extract.MAX_TEXT_CHARS
    assert len(parsed) <= extract.MAX_PARSES
    # the old search parsed every shorter prefix: about 90 million characters for 3,000 lines
    assert sum(parsed) <= extract.MAX_PARSES * extract.MAX_TEXT_CHARS
