"""Sequences over max_length are counted with the real tokenizer and left out, with the count shown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sqlensemble.train.assemble import read_jsonl, write_jsonl
from sqlensemble.train.errors import MissingInputError
from sqlensemble.train.lengths import chat_counter, filter_dataset, filter_datasets, load_counter
from sqlensemble.train.rundir import dataset_path
from sqlensemble.train.tokenizer import save_tokenizer, train_tokenizer

CORPUS = [
    "How many patients have the outcome Stable and are older than 40?",
    "SELECT COUNT(*) FROM visit WHERE outcome = 'Stable' AND age > 40",
] * 20


def _record(question: str, sql: str) -> dict[str, Any]:
    return {
        "prompt": [{"role": "user", "content": question}],
        "completion": [{"role": "assistant", "content": sql}],
    }


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tok")
    save_tokenizer(train_tokenizer(CORPUS, vocab_size=400, min_frequency=2, max_length=512), out)
    return out


def _trl_length(tok: Any, record: dict[str, Any]) -> int:
    """What TRL tokenizes for a conversational prompt-completion record, counted independently."""
    ids = tok.apply_chat_template(record["prompt"] + record["completion"], tokenize=True)
    return len(ids["input_ids"] if hasattr(ids, "keys") else ids)


def test_long_sequences_are_left_out_and_counted(tokenizer_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    records = [_record(CORPUS[0] * k, CORPUS[1]) for k in (1, 2, 4, 8, 16)]
    lengths = [_trl_length(tok, r) for r in records]
    assert chat_counter(tok)(records) == lengths
    limit = sorted(lengths)[2]  # the three shortest fit, the two longest do not
    path = tmp_path / "g.jsonl"
    write_jsonl(iter(records), path)
    report = filter_dataset(path, "g", chat_counter(tok), limit)
    assert (report.kept, report.dropped, report.max_tokens, report.limit) == (3, 2, max(lengths), limit)
    assert read_jsonl(path) == [r for r, n in zip(records, lengths, strict=True) if n <= limit]
    again = filter_dataset(path, "g", chat_counter(tok), limit)
    assert (again.kept, again.dropped) == (3, 0)


def test_a_dataset_with_nothing_that_fits_is_refused(tokenizer_dir: Path, tmp_path: Path) -> None:
    write_jsonl(iter([_record(CORPUS[0] * 4, CORPUS[1])]), dataset_path(tmp_path, "g"))
    with pytest.raises(MissingInputError, match="max_length=8"):
        filter_datasets(tmp_path, ["g"], str(tokenizer_dir), 8)


def test_a_tokenizer_that_cannot_load_is_an_error_not_a_guess(tmp_path: Path) -> None:
    with pytest.raises(MissingInputError, match="cannot load the tokenizer"):
        load_counter(str(tmp_path / "nothing-here"))


def test_assemble_with_a_tokenizer_reports_what_it_left_out(
    mini_bird: Path, tokenizer_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sqlensemble.train.cli import main

    out = tmp_path / "datasets"
    argv = ["assemble", "--preset", "cpu-tiny", "--data", str(mini_bird), "--out", str(out)]
    assert main([*argv, "--tokenizer", str(tokenizer_dir)]) == 0
    err = capsys.readouterr().err
    assert "sequences over max_length 1536 left out" in err, err
    lines = dataset_path(out, "sqlg1_heavy_aug").read_text().splitlines()
    assert lines and all(json.loads(line)["completion"] for line in lines)
