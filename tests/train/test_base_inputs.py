"""The CPU base's inputs: its tokenizer's split, its tokenized examples, the LoRA runs' step sample."""

from __future__ import annotations

from typing import Any

import pytest

from sqlensemble.train.config import load_preset
from sqlensemble.train.pretrain import tokenize_records
from sqlensemble.train.sft import (
    build_sft_config,
    examples_needed,
    load_dataset_file,
    sft_kwargs,
    steps_sample,
)
from sqlensemble.train.tokenizer import train_tokenizer

CORPUS = [
    "How many patients have the outcome Stable and are older than 40?",
    "SELECT COUNT(*) FROM visit WHERE outcome = 'Stable' AND age > 40",
    "List the departments of the students named Madison Taylor.",
    "SELECT T2.name FROM student AS T1 WHERE T1.hometown = 'Madison' AND T1.status = 'Dropped'",
] * 20


def _record(question: str, sql: str) -> dict[str, Any]:
    prompt = [{"role": "user", "content": question}]
    return {"prompt": prompt, "completion": [{"role": "assistant", "content": sql}]}


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return train_tokenizer(CORPUS, vocab_size=400, min_frequency=2, max_length=256)


def test_quoted_values_are_not_cut_by_english_contractions(tokenizer: Any) -> None:
    tokens = tokenizer.tokenize("outcome = 'Stable' AND status = 'Dropped' AND x = 'ms'")
    assert not any(t.startswith(("'S", "'D", "'m")) for t in tokens), tokens
    assert tokenizer.decode(tokenizer("x = 'Stable'")["input_ids"]) == "x = 'Stable'"


def test_numbers_are_single_digits(tokenizer: Any) -> None:
    digits = [t for t in tokenizer.tokenize("age > 4012") if t.strip("Ġ")]
    assert digits[-4:] == ["4", "0", "1", "2"]


def test_tokenize_records_marks_where_the_completion_starts(tokenizer: Any) -> None:
    records = [_record(CORPUS[0], CORPUS[1]), _record(CORPUS[2] * 40, "x")]
    (example,) = tokenize_records(records, tokenizer, max_length=256)  # the second prompt is too long
    prompt = tokenizer.apply_chat_template(records[0]["prompt"], add_generation_prompt=True, tokenize=False)
    assert (
        list(example.ids[: example.completion_start])
        == tokenizer(prompt, add_special_tokens=False)["input_ids"]
    )
    completion = tokenizer.decode(list(example.ids[example.completion_start :]))
    assert completion.startswith(CORPUS[1]) and completion.rstrip().endswith("<|im_end|>")
    assert tokenize_records([], tokenizer, max_length=256) == []


def test_a_max_steps_run_trains_on_the_sample_it_would_draw(tmp_path: Any) -> None:
    preset = load_preset("cpu-tiny")
    config = build_sft_config(sft_kwargs(preset.sft, tmp_path, seed=3, overrides={"max_steps": 5}))
    needed = examples_needed(config)
    assert needed == 5 * config.per_device_train_batch_size * config.gradient_accumulation_steps
    records = list(range(1000))
    sample = steps_sample(records, needed, config.seed)
    assert len(sample) == needed and len(set(sample)) == needed
    assert sample == steps_sample(records, needed, config.seed)  # seeded: a resumed run gets the same
    assert steps_sample([1, 2, 3], needed, config.seed) == [1, 2, 3]
    epochs = build_sft_config(sft_kwargs(preset.sft, tmp_path, seed=3, overrides={"max_steps": -1}))
    assert examples_needed(epochs) is None and steps_sample(records, None, 0) == records


def test_the_dataset_file_is_sampled_before_trl_sees_it(tmp_path: Any) -> None:
    import json

    path = tmp_path / "g.jsonl"
    rows = [_record(f"q{i}", "x") for i in range(50)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert len(load_dataset_file(path)) == 50
    sample = load_dataset_file(path, 8, seed=1)
    assert len(sample) == 8 and len({p[0]["content"] for p in sample["prompt"]}) == 8
