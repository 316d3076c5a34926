"""Checksums of trained artefacts: equal for equal content wherever it was written, different otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sqlensemble.train.checksums import digest, model_digest, tokenizer_digest
from sqlensemble.train.cli import main
from sqlensemble.train.errors import MissingInputError

ADAPTER_CONFIG = {
    "base_model_name_or_path": "/tmp/clone-a/runs/cpu-tiny/base",
    "r": 16,
    "lora_alpha": 32,
    "target_modules": ["q_proj", "v_proj", "o_proj"],
    "peft_type": "LORA",
}


def _adapter(folder: Path, config: dict, weights: bytes = b"\x00\x01weights") -> Path:
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps(config, indent=2))
    (folder / "adapter_model.safetensors").write_bytes(weights)
    (folder / "training_args.bin").write_bytes(str(folder).encode())  # names where it was made
    (folder / "README.md").write_text(f"trained in {folder}")
    return folder


def test_where_it_was_written_and_set_order_do_not_count(tmp_path: Path) -> None:
    a = _adapter(tmp_path / "a", ADAPTER_CONFIG)
    moved = {
        **ADAPTER_CONFIG,
        "base_model_name_or_path": "/home/someone/else/base",
        "target_modules": ["v_proj", "o_proj", "q_proj"],
    }
    b = _adapter(tmp_path / "elsewhere" / "b", moved)
    assert model_digest(a) == model_digest(b)


@pytest.mark.parametrize(
    "change",
    [
        {"weights": b"\x00\x02weights"},
        {"config": {**ADAPTER_CONFIG, "r": 8}},
        {"config": {**ADAPTER_CONFIG, "target_modules": ["q_proj", "v_proj"]}},
    ],
    ids=["weights", "rank", "modules"],
)
def test_what_changes_a_model_changes_its_digest(tmp_path: Path, change: dict) -> None:
    a = _adapter(tmp_path / "a", ADAPTER_CONFIG)
    b = _adapter(
        tmp_path / "b", change.get("config", ADAPTER_CONFIG), change.get("weights", b"\x00\x01weights")
    )
    assert model_digest(a) != model_digest(b)


def test_tokenizer_digest_covers_only_the_tokenizer(tmp_path: Path) -> None:
    a = _adapter(tmp_path / "a", ADAPTER_CONFIG)
    (a / "tokenizer.json").write_text('{"model": {"type": "BPE"}}')
    before = tokenizer_digest(a)
    (a / "adapter_model.safetensors").write_bytes(b"other")
    assert tokenizer_digest(a) == before
    (a / "tokenizer.json").write_text('{"model": {"type": "WordPiece"}}')
    assert tokenizer_digest(a) != before


def test_a_folder_without_model_files_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing")
    with pytest.raises(MissingInputError, match="no model or tokenizer files"):
        digest(tmp_path)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_two_training_runs_give_identical_artefacts(tiny_run, tmp_path_factory, capsys) -> None:
    """The same recipe in another folder (as a second clone would) gives byte-identical models."""
    other = tmp_path_factory.mktemp("second_clone") / "run"
    argv = ["all", "--preset", "cpu-smoke", "--data", str(tiny_run.train), "--run", str(other)]
    assert main(argv) == 0
    assert "checksums" in capsys.readouterr().err
    assert main(["checksums", "--run", str(other), "--against", str(tiny_run.run)]) == 0
    out = capsys.readouterr().out
    assert "all match generators.yaml and" in out
    # and the comparison can fail: a changed adapter is named
    adapter = other / "adapters" / "sqlg4_no_aug" / "checkpoint-final" / "adapter_model.safetensors"
    body = adapter.read_bytes()
    adapter.write_bytes(body[:-1] + bytes([body[-1] ^ 1]))
    assert main(["checksums", "--run", str(other), "--against", str(tiny_run.run)]) == 1
    assert "sqlg4_no_aug/adapter" in capsys.readouterr().err
