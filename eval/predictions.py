"""Prediction files in BIRD's official format, so BIRD's own ``evaluation.py`` can score each system.

The official scorer reads ``{"0": "SQL\\t----- bird -----\\tdb_id", ...}`` and pairs predictions with
gold queries by position, so keys are dataset positions in dataset order and every question of the
evaluated slice has one. A question without an answer (the call failed, or every candidate failed) gets
``NO_ANSWER_SQL``, which SQLite rejects, so BIRD's script scores it wrong exactly as ours does.

One file per system: ``predict_dev.json`` holds the answer (the ensemble's, or the one generator's with
``--model``), and ``predict_dev.<generator>.json`` each generator's first sample, as the seed evaluated
each generator alone.

>>> official_line("SELECT 1", "shop")
'SELECT 1\\t----- bird -----\\tshop'
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from sqlensemble.eval.records import QuestionRecord

PREDICTIONS_FILE = "predict_dev.json"
BIRD_SEPARATOR = "\t----- bird -----\t"
NO_ANSWER_SQL = "SELECT"  # a syntax error in SQLite: wrong for every gold query

Answer = Callable[[QuestionRecord], str | None]


def official_line(sql: str | None, db_id: str) -> str:
    text = sql.strip() if sql and sql.strip() else NO_ANSWER_SQL
    return f"{text}{BIRD_SEPARATOR}{db_id}"


def ensemble_answer(record: QuestionRecord) -> str | None:
    return record.ensemble.sql


def first_sample(generator: str) -> Answer:
    """The SQL of ``generator``'s first sample on a question (``None`` when it returned none)."""

    def answer(record: QuestionRecord) -> str | None:
        return next((g.first.sql for g in record.generators if g.generator == generator), None)

    return answer


def generator_file(generator: str) -> str:
    """The prediction file of one generator's first sample.

    >>> generator_file("sqlg1_heavy_aug")
    'predict_dev.sqlg1_heavy_aug.json'
    """
    return f"predict_dev.{generator}.json"


def generator_names(records: Iterable[QuestionRecord]) -> list[str]:
    """Every generator that appears in ``records``, in order of first appearance."""
    return list(dict.fromkeys(g.generator for r in records for g in r.generators))


def build_predictions(
    slice_: Iterable[tuple[int, str]], records: Mapping[int, QuestionRecord], answer: Answer = ensemble_answer
) -> dict[str, str]:
    """``{position: line}`` for each ``(position, db_id)`` of the evaluated slice, in dataset order.

    >>> build_predictions([(0, "a"), (1, "b")], {})
    {'0': 'SELECT\\t----- bird -----\\ta', '1': 'SELECT\\t----- bird -----\\tb'}
    """
    out: dict[str, str] = {}
    for position, db_id in sorted(slice_):
        record = records.get(position)
        out[str(position)] = official_line(answer(record) if record else None, db_id)
    return out


def write_predictions(path: Path, predictions: dict[str, str]) -> None:
    path.write_text(json.dumps(predictions, indent=4, ensure_ascii=False) + "\n", encoding="utf-8")


def write_all_predictions(
    out_dir: Path, slice_: list[tuple[int, str]], records: Mapping[int, QuestionRecord]
) -> list[str]:
    """Write ``predict_dev.json`` and one file per generator into ``out_dir``; return the file names."""
    write_predictions(out_dir / PREDICTIONS_FILE, build_predictions(slice_, records))
    names = [PREDICTIONS_FILE]
    for generator in generator_names(records[p] for p in sorted(records)):
        name = generator_file(generator)
        write_predictions(out_dir / name, build_predictions(slice_, records, first_sample(generator)))
        names.append(name)
    return names
