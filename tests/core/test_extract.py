"""SQL extraction from model output: cases in a data file, one parametrized test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
