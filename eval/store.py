"""``results.duckdb``: the judged questions as three tables, so the report's numbers are SQL queries.

    questions   one row per question of the evaluated slice: the ensemble's answer, the oracle, latency,
                the vote's own pick and what the selection model did (``selection_*``);
                a question without an answer (its call failed, or it was not asked yet) has
                ``answered = false`` and counts wrong for every system
    candidates  one row per sampled candidate, judged against gold
    generators  one row per (question, generator): its first sample and its own majority vote

The database is rebuilt from ``results.jsonl`` (the source of truth) each time; rows are bulk-loaded
from JSON lines with an explicit schema rather than inserted one by one.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb

from sqlensemble.bird import Example
from sqlensemble.eval.records import QuestionRecord

STORE_FILE = "results.duckdb"

# table -> (column, duckdb type), in column order. Behaviour that varies is data.
SCHEMA: dict[str, tuple[tuple[str, str], ...]] = {
    "questions": (
        ("position", "INTEGER"),
        ("answered", "BOOLEAN"),
        ("question_id", "VARCHAR"),
        ("db_id", "VARCHAR"),
        ("difficulty", "VARCHAR"),
        ("question", "VARCHAR"),
        ("gold_sql", "VARCHAR"),
        ("gold_status", "VARCHAR"),
        ("gold_rows", "BIGINT"),
        ("gold_ms", "DOUBLE"),
        ("ensemble_sql", "VARCHAR"),
        ("gateway_status", "VARCHAR"),
        ("ensemble_status", "VARCHAR"),
        ("ensemble_correct", "BOOLEAN"),
        ("ensemble_reason", "VARCHAR"),
        ("confidence", "DOUBLE"),
        ("winning_cluster_size", "INTEGER"),
        ("oracle_correct", "BOOLEAN"),
        ("vote_correct", "BOOLEAN"),  # the vote's own pick; ensemble_correct unless the selector answered
        ("selection_mode", "VARCHAR"),  # vote | model; NULL from a gateway without a selection trail
        ("selection_consulted", "BOOLEAN"),
        ("selection_overruled", "BOOLEAN"),  # the selector answered with another group than the vote's
        ("selection_fell_back", "BOOLEAN"),  # consulted, but no valid pick (failed, timed out, no label)
        ("n_candidates", "INTEGER"),
        ("truncated", "BOOLEAN"),
        ("latency_ms", "DOUBLE"),
        ("gateway_total_ms", "DOUBLE"),
        ("policy", "VARCHAR"),
        ("completion_tokens", "BIGINT"),
        ("calls", "INTEGER"),
        ("rounds", "INTEGER"),
        ("session", "VARCHAR"),
        ("started_at", "DOUBLE"),
        ("finished_at", "DOUBLE"),
    ),
    "candidates": (
        ("position", "INTEGER"),
        ("question_id", "VARCHAR"),
        ("generator", "VARCHAR"),
        ("idx", "INTEGER"),
        ("sql", "VARCHAR"),
        ("gateway_status", "VARCHAR"),
        ("exec_status", "VARCHAR"),
        ("correct", "BOOLEAN"),
        ("reason", "VARCHAR"),
        ("cluster", "INTEGER"),
        ("row_count", "BIGINT"),
        ("exec_ms", "DOUBLE"),
    ),
    "generators": (
        ("position", "INTEGER"),
        ("question_id", "VARCHAR"),
        ("generator", "VARCHAR"),
        ("n_candidates", "INTEGER"),
        ("first_sql", "VARCHAR"),
        ("first_status", "VARCHAR"),
        ("first_correct", "BOOLEAN"),
        ("majority_sql", "VARCHAR"),
        ("majority_status", "VARCHAR"),
        ("majority_correct", "BOOLEAN"),
        ("majority_cluster_size", "INTEGER"),
        ("majority_confidence", "DOUBLE"),
    ),
}


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def selection_columns(trail: Mapping[str, Any]) -> dict[str, Any]:
    """The ``selection_*`` columns of a question from the gateway's selection trail (empty: none).

    >>> row = selection_columns({"mode": "model", "consulted": True, "answered_by": "selector",
    ...                          "vote_cluster": 0, "selector_cluster": 1})
    >>> row["selection_overruled"], row["selection_fell_back"]
    (True, False)
    >>> selection_columns({"mode": "model", "consulted": True, "answered_by": "vote",
    ...                    "vote_cluster": 0, "selector_cluster": None})["selection_fell_back"]
    True
    >>> list(selection_columns({}).values())
    [None, False, False, False]
    """
    consulted = trail.get("consulted") is True
    picked = trail.get("selector_cluster")
    by_selector = trail.get("answered_by") == "selector" and picked is not None
    return {
        "selection_mode": trail.get("mode"),
        "selection_consulted": consulted,
        "selection_overruled": by_selector and picked != trail.get("vote_cluster"),
        "selection_fell_back": consulted and picked is None,
    }


def question_row(r: QuestionRecord) -> dict[str, Any]:
    total = r.timings.get("total_ms")
    return {
        "position": r.position,
        "answered": True,
        "question_id": str(r.question_id),
        "db_id": r.db_id,
        "difficulty": r.difficulty,
        "question": r.question,
        "gold_sql": r.gold_sql,
        "gold_status": r.gold.exec_status,
        "gold_rows": r.gold.row_count,
        "gold_ms": r.gold.elapsed_ms,
        "ensemble_sql": r.ensemble.sql,
        "gateway_status": r.ensemble.gateway_status,
        "ensemble_status": r.ensemble.exec_status,
        "ensemble_correct": r.ensemble.correct,
        "ensemble_reason": r.ensemble.reason,
        "confidence": r.ensemble.confidence,
        "winning_cluster_size": r.ensemble.cluster_size,
        "oracle_correct": r.oracle,
        "vote_correct": r.ensemble.correct if r.vote is None else r.vote.correct,
        **selection_columns(r.selection),
        "n_candidates": len(r.candidates),
        "truncated": r.gold.truncated or r.ensemble.truncated or any(c.truncated for c in r.candidates),
        "latency_ms": r.latency_ms,
        "gateway_total_ms": float(total) if isinstance(total, int | float) else None,
        "policy": r.sampling.get("policy"),
        "completion_tokens": _int(r.usage.get("completion_tokens")),
        "calls": _int(r.sampling.get("calls")),
        "rounds": len(r.sampling["rounds"]) if isinstance(r.sampling.get("rounds"), list) else None,
        "session": r.session,
        "started_at": r.started_at,
        "finished_at": r.finished_at,
    }


def unanswered_row(position: int, e: Example) -> dict[str, Any]:
    """A question of the slice without an answer: wrong for every system, no candidates, no timings."""
    row: dict[str, Any] = dict.fromkeys(name for name, _ in SCHEMA["questions"])
    row.update(
        position=position,
        answered=False,
        question_id=str(e.question_id),
        db_id=e.db_id,
        difficulty=e.difficulty or "unknown",
        question=e.question,
        gold_sql=e.sql,
        ensemble_correct=False,
        oracle_correct=False,
        **selection_columns({}),
        vote_correct=False,
        n_candidates=0,
        truncated=False,
    )
    return row


def question_rows(records: Sequence[QuestionRecord], examples: Sequence[Example]) -> list[dict[str, Any]]:
    """One row per question of the slice ``examples`` (position = index), answered or not, by position.

    Records outside the slice are left out, so every figure has the slice as its denominator.
    """
    by_position = {r.position: r for r in records}
    return [
        question_row(by_position[p]) if p in by_position else unanswered_row(p, e)
        for p, e in enumerate(examples)
    ]


def candidate_rows(r: QuestionRecord) -> Iterator[dict[str, Any]]:
    for c in r.candidates:
        yield {
            "position": r.position,
            "question_id": str(r.question_id),
            "generator": c.generator,
            "idx": c.index,
            "sql": c.sql,
            "gateway_status": c.gateway_status,
            "exec_status": c.exec_status,
            "correct": c.correct,
            "reason": c.reason,
            "cluster": c.cluster,
            "row_count": c.row_count,
            "exec_ms": c.exec_ms,
        }


def generator_rows(r: QuestionRecord) -> Iterator[dict[str, Any]]:
    for g in r.generators:
        yield {
            "position": r.position,
            "question_id": str(r.question_id),
            "generator": g.generator,
            "n_candidates": g.n_candidates,
            "first_sql": g.first.sql,
            "first_status": g.first.exec_status,
            "first_correct": g.first.correct,
            "majority_sql": g.majority.sql,
            "majority_status": g.majority.exec_status,
            "majority_correct": g.majority.correct,
            "majority_cluster_size": g.majority.cluster_size,
            "majority_confidence": g.majority.confidence,
        }


def _load(con: duckdb.DuckDBPyConnection, table: str, rows: Iterable[dict[str, Any]], tmp: Path) -> None:
    columns = SCHEMA[table]
    con.execute(f"CREATE TABLE {table} ({', '.join(f'{name} {type_}' for name, type_ in columns)})")
    path = tmp / f"{table}.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    if path.stat().st_size == 0:
        return
    spec = "{" + ", ".join(f"'{name}': '{type_}'" for name, type_ in columns) + "}"
    con.execute(
        f"INSERT INTO {table} SELECT * FROM read_json(?, format='newline_delimited', columns={spec})",
        [str(path)],
    )


def build_store(path: Path, records: list[QuestionRecord], examples: Sequence[Example]) -> None:
    """(Re)write the duckdb file at ``path`` for the slice ``examples`` from its answered ``records``."""
    path.unlink(missing_ok=True)
    in_slice = range(len(examples))
    records = [r for r in records if r.position in in_slice]
    con = duckdb.connect(str(path))
    try:
        with tempfile.TemporaryDirectory(prefix="sqlensemble-store-") as tmp:
            _load(con, "questions", question_rows(records, examples), Path(tmp))
            _load(con, "candidates", (row for r in records for row in candidate_rows(r)), Path(tmp))
            _load(con, "generators", (row for r in records for row in generator_rows(r)), Path(tmp))
    finally:
        con.close()
