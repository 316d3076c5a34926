"""``predict_dev.json`` in BIRD's official format, so BIRD's own ``evaluation.py`` can score a run.

The official scorer reads ``{"0": "SQL\\t----- bird -----\\tdb_id", ...}`` and pairs predictions with
gold queries by position, so keys are dataset positions in dataset order and every question of the
evaluated slice has one. A question without an answer (the call failed, or every candidate failed) gets
``NO_ANSWER_SQL``, which SQLite rejects, so BIRD's script scores it wrong exactly as ours does.

>>> official_line("SELECT 1", "shop")
'SELECT 1\\t----- bird -----\\tshop'
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from sqlensemble.eval.records import QuestionRecord

PREDICTIONS_FILE = "predict_dev.json"
BIRD_SEPARATOR = "\t----- bird -----\t"
NO_ANSWER_SQL = "SELECT"  # a syntax error in SQLite: wrong for every gold query


def official_line(sql: str | None, db_id: str) -> str:
    text = sql.strip() if sql and sql.strip() else NO_ANSWER_SQL
    return f"{text}{BIRD_SEPARATOR}{db_id}"


def build_predictions(
    slice_: Iterable[tuple[int, str]], records: Mapping[int, QuestionRecord]
) -> dict[str, str]:
    """``{position: line}`` for each ``(position, db_id)`` of the evaluated slice, in dataset order.

    >>> build_predictions([(0, "a"), (1, "b")], {})
    {'0': 'SELECT\\t----- bird -----\\ta', '1': 'SELECT\\t----- bird -----\\tb'}
    """
    out: dict[str, str] = {}
    for position, db_id in sorted(slice_):
        record = records.get(position)
        out[str(position)] = official_line(record.ensemble.sql if record else None, db_id)
    return out


def write_predictions(path: Path, predictions: dict[str, str]) -> None:
    path.write_text(json.dumps(predictions, indent=4, ensure_ascii=False) + "\n", encoding="utf-8")
