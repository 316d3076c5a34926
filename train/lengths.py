"""Training sequences longer than ``max_length``, counted with the real tokenizer and left out explicitly.

TRL truncates a prompt-completion sequence longer than ``SFTConfig.max_length`` without a word, which
cuts the SQL (the completion comes last) and trains the model to stop mid-query. Instead, every
dataset is measured with the tokenizer that will train on it, the sequence being what TRL tokenizes:
the chat template over the prompt and the completion. Longer ones are removed from the JSONL file,
and how many is part of the training summary.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlensemble.train.assemble import Record, read_jsonl, write_jsonl
from sqlensemble.train.errors import MissingInputError

SequenceCounter = Callable[[Sequence[Record]], list[int]]
TRL_DEFAULT_MAX_LENGTH = 1024
"""``SFTConfig.max_length`` when a preset leaves it unset."""


@dataclass(frozen=True)
class LengthReport:
    """One dataset's sequence lengths in tokens, and what the ``limit`` left out."""

    name: str
    kept: int
    dropped: int
    mean_tokens: float
    max_tokens: int
    limit: int


def keep_within(lengths: Sequence[int], limit: int) -> list[bool]:
    """Which sequences fit: at most ``limit`` tokens.

    >>> keep_within([10, 11, 12], 11)
    [True, True, False]
    """
    return [n <= limit for n in lengths]


def summarise(name: str, lengths: Sequence[int], limit: int) -> LengthReport:
    """The report for one dataset's lengths (mean and max over every sequence, kept or not).

    >>> summarise("g", [4, 8, 30], 10)
    LengthReport(name='g', kept=2, dropped=1, mean_tokens=14.0, max_tokens=30, limit=10)
    """
    kept = sum(keep_within(lengths, limit))
    mean = statistics.fmean(lengths) if lengths else 0.0
    return LengthReport(name, kept, len(lengths) - kept, mean, max(lengths, default=0), limit)


def chat_counter(tokenizer: Any) -> SequenceCounter:
    """Counts a record's tokens as TRL does: the chat template over prompt + completion, tokenized."""

    def count(records: Sequence[Record]) -> list[int]:
        if not records:
            return []
        texts = [
            tokenizer.apply_chat_template(r["prompt"] + r["completion"], tokenize=False) for r in records
        ]
        return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]

    return count


def load_counter(tokenizer: str) -> SequenceCounter:
    """The counter of a tokenizer folder or hub id (a hub id is fetched once, as training would).

    A tokenizer that cannot be loaded is a :class:`MissingInputError`: lengths are never guessed.
    """
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(tokenizer)
    except (OSError, ValueError) as e:
        raise MissingInputError(
            f"cannot load the tokenizer {tokenizer!r} to count training sequences: {e}"
        ) from None
    if not getattr(tok, "chat_template", None):
        raise MissingInputError(
            f"tokenizer {tokenizer!r} has no chat template: cannot count what TRL trains on"
        )
    return chat_counter(tok)


def filter_dataset(path: Path, name: str, counter: SequenceCounter, limit: int) -> LengthReport:
    """Remove the sequences over ``limit`` tokens from a JSONL dataset (rewritten atomically).

    Filtering again drops nothing more, so it is safe to run before every training.
    """
    records = read_jsonl(path)
    lengths = counter(records)
    report = summarise(name, lengths, limit)
    if report.dropped:
        kept = (r for r, ok in zip(records, keep_within(lengths, limit), strict=True) if ok)
        write_jsonl(iter(kept), path)
    if report.kept == 0:
        raise MissingInputError(f"{path}: no training sequence fits max_length={limit}")
    return report


def sft_max_length(sft: dict[str, Any], overrides: dict[str, Any]) -> int:
    """The ``max_length`` TRL will train with: a ``--set`` override, else the preset's, else TRL's default.

    >>> sft_max_length({"max_length": 1536}, {}), sft_max_length({"max_length": 1536}, {"max_length": 64})
    (1536, 64)
    >>> sft_max_length({}, {})
    1024
    """
    value = overrides.get("max_length", sft.get("max_length"))
    return TRL_DEFAULT_MAX_LENGTH if value is None else int(value)


def filter_datasets(datasets: Path, names: Sequence[str], tokenizer: str, limit: int) -> list[LengthReport]:
    """:func:`filter_dataset` over the named generators' ``<name>.jsonl`` files."""
    from sqlensemble.train.rundir import dataset_path

    counter = load_counter(tokenizer)
    return [filter_dataset(dataset_path(datasets, name), name, counter, limit) for name in names]


def describe(reports: Sequence[LengthReport]) -> str:
    """One line for the training summary.

    >>> describe([LengthReport("a", 9, 1, 5.0, 20, 16), LengthReport("b", 10, 0, 5.0, 9, 16)])
    '1 of 20 sequences over max_length 16 left out'
    """
    dropped = sum(r.dropped for r in reports)
    total = sum(r.kept + r.dropped for r in reports)
    limit = reports[0].limit if reports else 0
    return f"{dropped} of {total} sequences over max_length {limit} left out"


def print_lengths(reports: Sequence[LengthReport], tokenizer: str) -> None:
    """The table of sequence lengths per dataset, on stderr."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"training sequences (tokens of {tokenizer})")
    for column in ("dataset", "kept", "over max_length (left out)", "mean tokens", "max tokens"):
        table.add_column(column, justify="left" if column == "dataset" else "right")
    for r in reports:
        table.add_row(
            r.name, str(r.kept), f"{r.dropped} (> {r.limit})", f"{r.mean_tokens:.0f}", str(r.max_tokens)
        )
    Console(stderr=True).print(table)
