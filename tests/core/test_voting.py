"""Voting, driven by tests/data/voting_cases.yaml (one parametrized test), plus input validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sqlensemble.executor import ExecResult
from sqlensemble.voting import Candidate, vote

CASES_FILE = Path(__file__).resolve().parent.parent / "data" / "voting_cases.yaml"
CASES: list[dict[str, Any]] = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))


SPEC_KEYS = {"gen", "i", "sql", "rows", "columns", "status", "error", "weight", "priority"}


def make_candidate(spec: dict[str, Any]) -> Candidate:
    assert set(spec) <= SPEC_KEYS, f"unknown keys {set(spec) - SPEC_KEYS} (quote SQL with commas)"
    sql = spec["sql"]
    extra = {key: spec[key] for key in ("weight", "priority") if key in spec}
    if "rows" in spec:
        rows = tuple(tuple(row) for row in spec["rows"])
        width = len(rows[0]) if rows else 1
        columns = tuple(spec.get("columns", [f"c{k}" for k in range(width)]))
        status = "ok" if rows else "empty"
        result = ExecResult(status, columns, rows, False, 0.0, None, sql or "")
        return Candidate(spec["gen"], spec["i"], sql, status, result, **extra)
    status = spec["status"]
    if status in ("error", "timeout", "refused"):
        result = ExecResult(status, (), (), False, 0.0, spec["error"], sql or "")
        return Candidate(spec["gen"], spec["i"], sql, status, result, **extra)
    return Candidate(spec["gen"], spec["i"], sql, status, None, error=spec["error"], **extra)


def test_cases_are_many_and_named_uniquely() -> None:
    assert len(CASES) >= 20
    assert len({case["name"] for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_voting_case(case: dict[str, Any]) -> None:
    candidates = [make_candidate(spec) for spec in case["candidates"]]
    decision = vote(candidates, case.get("equivalence", "bird"))
    expect = case["expect"]
    assert decision.status == expect["status"]
    assert [decision.winner.generator, decision.winner.index] == expect["winner"]
    assert list(decision.assignments) == expect["assignments"]
    assert decision.confidence == pytest.approx(expect["confidence"])
    if "clusters" in expect:
        assert [list(c.members) for c in decision.clusters] == expect["clusters"]
    if decision.status == "ok":
        assert decision.cluster == 0
        assert decision.winner.status in ("ok", "empty")
        assert decision.error is None
        assert [c.id for c in decision.clusters] == list(range(len(decision.clusters)))
        assert all(c.size == len(c.members) for c in decision.clusters)
        assert decision.winner is candidates[decision.clusters[0].representative]
        assert sum(c.size for c in decision.clusters) == sum(a is not None for a in decision.assignments)
    else:
        assert decision.cluster is None and decision.clusters == ()
        assert decision.error == expect["error"]


def test_candidate_validates_its_fields() -> None:
    ok = ExecResult("ok", ("x",), ((1,),), False, 0.0, None, "SELECT 1")
    with pytest.raises(ValueError, match="weight"):
        Candidate("a", 0, "SELECT 1", "ok", ok, weight=-1.0)
    with pytest.raises(ValueError, match="weight"):
        Candidate("a", 0, "SELECT 1", "ok", ok, weight=float("nan"))
    with pytest.raises(ValueError, match="priority"):
        Candidate("a", 0, "SELECT 1", "ok", ok, priority=0)
    with pytest.raises(ValueError, match="index"):
        Candidate("a", -1, "SELECT 1", "ok", ok)
    with pytest.raises(ValueError, match="execution result"):
        Candidate("a", 0, "SELECT 1", "ok", None)


def test_vote_needs_candidates() -> None:
    with pytest.raises(ValueError, match="at least one"):
        vote([])
