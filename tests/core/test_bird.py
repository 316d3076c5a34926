"""The BIRD loader: real BIRD's shapes (train without ids, dev, mini-dev JSONL), gold files, and errors."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from sqlensemble.bird import (
    Example,
    default_db_root,
    load_examples,
    load_gold_sql,
    locate_split,
    read_records,
)
from sqlensemble.errors import DataError

SCHEMA = """
CREATE TABLE schools (CDSCode TEXT PRIMARY KEY, School TEXT, `Free Meal Count (K-12)` REAL);
INSERT INTO schools VALUES ('01', 'Oak High', 120.0), ('02', 'Elm Middle', 45.5);
"""


def _bird(
    tmp_path: Path, split: str, records: list[dict[str, Any]], dbs: tuple[str, ...] = ("schools",)
) -> Path:
    """A BIRD split folder: ``<split>.json`` and ``<split>_databases/<db_id>/<db_id>.sqlite``."""
    folder = tmp_path / split
    for db_id in dbs:
        path = folder / f"{split}_databases" / db_id / f"{db_id}.sqlite"
        path.parent.mkdir(parents=True)
        conn = sqlite3.connect(path)
        conn.executescript(SCHEMA)
        conn.close()
    (folder / f"{split}.json").write_text(json.dumps(records, indent=4))
    return folder / f"{split}.json"


def _rec(qid: int | None = None, **over: Any) -> dict[str, Any]:
    r: dict[str, Any] = {
        "db_id": "schools",
        "question": "How many schools are there?",
        "evidence": "",
        "SQL": "SELECT COUNT(*) FROM schools",
        "difficulty": "simple",
    }
    if qid is not None:
        r = {"question_id": qid, **r}
    return {**r, **over}


def test_dev_json_loads_with_ids_and_resolved_paths(tmp_path: Path) -> None:
    records = [_rec(0), _rec(1, question="Which school has the most free meals?", difficulty="moderate")]
    path = _bird(tmp_path, "dev", records)
    examples = load_examples(path)  # root defaults to dev_databases beside the file
    db = tmp_path / "dev" / "dev_databases" / "schools" / "schools.sqlite"
    assert examples[1] == Example(
        1, "schools", records[1]["question"], "", records[1]["SQL"], "moderate", db.resolve()
    )
    with pytest.raises(AttributeError):
        examples[0].sql = "x"  # type: ignore[misc]


def test_real_bird_train_without_ids_or_difficulty_gets_positional_ids(tmp_path: Path) -> None:
    records = [{k: v for k, v in _rec(question=f"q{i}").items() if k != "difficulty"} for i in range(3)]
    examples = load_examples(_bird(tmp_path, "train", records))
    assert [e.question_id for e in examples] == [0, 1, 2]
    assert {e.difficulty for e in examples} == {None}


def test_mini_dev_jsonl_with_extra_fields(tmp_path: Path) -> None:
    _bird(tmp_path, "dev", [])
    lines = [
        json.dumps({**_rec(1471), "extra": [1, 2]}),
        "",
        json.dumps(_rec(1472, SQL=None, sql="SELECT 1")),
    ]
    path = tmp_path / "dev" / "mini_dev_sqlite.jsonl"
    path.write_text("\n".join(lines) + "\n")
    examples = load_examples(path, tmp_path / "dev" / "dev_databases")
    assert [(e.question_id, e.sql) for e in examples] == [
        (1471, "SELECT COUNT(*) FROM schools"),
        (1472, "SELECT 1"),
    ]
    # a JSONL file without the .jsonl suffix is read too
    other = tmp_path / "dev" / "mini_dev.json"
    other.write_text("\n".join(lines))
    assert len(load_examples(other, tmp_path / "dev" / "dev_databases")) == 2


def test_missing_database_names_question_and_path(tmp_path: Path) -> None:
    path = _bird(tmp_path, "dev", [_rec(0), _rec(7, db_id="card_games")])
    with pytest.raises(DataError) as e:
        load_examples(path)
    message = str(e.value)
    assert str(path) in message and "question 7" in message and "'card_games'" in message
    assert "card_games.sqlite" in message


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("question", None, "missing field 'question'"),
        ("db_id", None, "missing field 'db_id'"),
        ("SQL", None, "missing field 'SQL'"),
        ("question", "  ", "field 'question' is empty"),
        ("question", 3, "field 'question' must be a string"),
        ("difficulty", "hard", "difficulty must be one of"),
        ("question_id", "12", "question_id must be an integer"),
    ],
)
def test_bad_fields_name_question_and_path(tmp_path: Path, field: str, value: Any, expected: str) -> None:
    bad = {k: v for k, v in _rec(12).items() if k != field}
    if value is not None:
        bad[field] = value
    path = _bird(tmp_path, "dev", [_rec(11), bad])
    with pytest.raises(DataError, match=expected) as e:
        load_examples(path)
    assert str(path) in str(e.value) and "record 1" in str(e.value)


def test_malformed_json_is_a_data_error_with_the_path(tmp_path: Path) -> None:
    path = _bird(tmp_path, "dev", [])
    path.write_text('[{"question_id": 0, "db_id": "schools",')
    with pytest.raises(DataError, match=r"not valid JSON \(line 1") as e:
        load_examples(path)
    assert str(path) in str(e.value)
    jsonl = path.with_suffix(".jsonl")
    jsonl.write_text(json.dumps(_rec(0)) + "\n{broken\n")
    with pytest.raises(DataError, match="line 2 is not valid JSON"):
        read_records(jsonl)
    path.write_text('{"data": []}')
    with pytest.raises(DataError, match="expected a JSON list"):
        read_records(path)
    path.write_text("[1]")
    with pytest.raises(DataError, match="record 0 is not a JSON object"):
        load_examples(path)


def test_duplicate_ids_unreadable_files_and_bad_roots(tmp_path: Path) -> None:
    path = _bird(tmp_path, "dev", [_rec(3), _rec(3, question="again?")])
    with pytest.raises(DataError, match="question 3 \\(record 1\\) repeats the id of record 0"):
        load_examples(path)
    with pytest.raises(DataError, match="cannot read question file"):
        load_examples(tmp_path / "nope.json", tmp_path)
    with pytest.raises(DataError, match=r"database root .* is unusable"):
        load_examples(path, tmp_path / "missing_root")
    lone = tmp_path / "lone" / "questions.json"
    lone.parent.mkdir()
    lone.write_text("[]")
    with pytest.raises(DataError, match="no database folder beside it"):
        default_db_root(lone)


def test_gold_sql_file(tmp_path: Path) -> None:
    gold = tmp_path / "dev_gold.sql"
    gold.write_text("SELECT COUNT(*) FROM schools\tschools\n\nSELECT `a\tb` FROM t\tother\n")
    assert [(g.sql, g.db_id) for g in load_gold_sql(gold)] == [
        ("SELECT COUNT(*) FROM schools", "schools"),
        ("SELECT `a\tb` FROM t", "other"),
    ]
    gold.write_text("SELECT 1\tschools\nSELECT 2\n")
    with pytest.raises(DataError, match="line 2 is not 'SQL<TAB>db_id'") as e:
        load_gold_sql(gold)
    assert str(gold) in str(e.value)
    with pytest.raises(DataError, match="cannot read gold SQL file"):
        load_gold_sql(tmp_path / "missing.sql")


def test_split_folder_is_located_by_its_name_or_its_only_candidates(tmp_path: Path) -> None:
    records = [{"db_id": "schools", "question": "How many?", "SQL": "SELECT COUNT(*) FROM schools"}]
    split = _bird(tmp_path, "train", records).parent
    assert locate_split(split) == (split / "train.json", split / "train_databases")
    renamed = tmp_path / "renamed"
    split.rename(renamed)  # neither name matches the folder: the only candidates are taken
    assert locate_split(renamed) == (renamed / "train.json", renamed / "train_databases")
    (renamed / "other.json").write_text("[]", encoding="utf-8")
    with pytest.raises(DataError, match="no questions file"):
        locate_split(renamed)
    with pytest.raises(DataError, match="data folder not found"):
        locate_split(tmp_path / "missing")
