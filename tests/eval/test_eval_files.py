"""The files a run writes: predict_dev.json in BIRD's official format, results.jsonl after a crash."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from sqlensemble.errors import DataError
from sqlensemble.eval.predictions import BIRD_SEPARATOR, NO_ANSWER_SQL, build_predictions, write_predictions
from sqlensemble.eval.records import QuestionRecord
from sqlensemble.eval.results import ResultsWriter, raw_lines, read_results, repair

MakeRecord = Callable[..., QuestionRecord]


def test_predictions_official_format_and_key_order(tmp_path: Path, make_record: MakeRecord) -> None:
    slice_ = [(position, f"db{position % 3}") for position in range(12)]
    # Answered out of order, one question unanswered, one answered without SQL.
    records = {
        p: make_record(p, sql=f"SELECT {p}\nFROM t" if p != 5 else None) for p in (11, 3, 0, 7, 5, 1, 2, 4)
    }
    for p in (6, 8, 9, 10):
        records[p] = make_record(p, sql=f"SELECT {p}")
    del records[9]
    path = tmp_path / "predict_dev.json"
    write_predictions(path, build_predictions(reversed(slice_), records))

    text = path.read_text(encoding="utf-8")
    loaded = json.loads(text)
    assert list(loaded) == [str(p) for p in range(12)]  # dataset order, as the official scorer pairs
    # The official scorer splits each value on the separator into SQL and db_id.
    pairs = [value.split(BIRD_SEPARATOR) for value in loaded.values()]
    assert all(len(pair) == 2 for pair in pairs)
    assert [db for _, db in pairs] == [db for _, db in slice_]
    assert pairs[0][0] == "SELECT 0\nFROM t"
    assert pairs[5][0] == NO_ANSWER_SQL  # answered without SQL
    assert pairs[9][0] == NO_ANSWER_SQL  # never answered
    assert text.index('"10"') > text.index('"9"') > text.index('"2"')


def test_results_survive_a_truncated_last_line(tmp_path: Path, make_record: MakeRecord) -> None:
    path = tmp_path / "results.jsonl"
    with ResultsWriter(path) as writer:
        for p in range(3):
            writer.write(make_record(p, sql=f"SELECT {p}"))
    complete = path.read_bytes()
    partial = make_record(3, sql="SELECT 3").model_dump_json()[:40]
    path.write_bytes(complete + partial.encode())

    assert [r.position for r in read_results(path)] == [0, 1, 2]
    with ResultsWriter(path) as writer:  # resuming cuts the partial line before appending
        writer.write(make_record(3, sql="SELECT 3"))
    assert path.read_bytes().startswith(complete)
    assert [line["position"] for line in raw_lines(path)] == [0, 1, 2, 3]
    assert repair(path) == 0


def test_results_keep_the_first_record_of_a_question(tmp_path: Path, make_record: MakeRecord) -> None:
    path = tmp_path / "results.jsonl"
    with ResultsWriter(path) as writer:
        writer.write(make_record(0, sql="SELECT 'first'"))
        writer.write(make_record(0, sql="SELECT 'second'"))
    assert [r.ensemble.sql for r in read_results(path)] == ["SELECT 'first'"]


def test_results_refuse_a_corrupt_line(tmp_path: Path, make_record: MakeRecord) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text(make_record(0, sql="SELECT 1").model_dump_json() + "\n{not json}\n")
    with pytest.raises(DataError, match=r"results.jsonl:2"):
        read_results(path)
