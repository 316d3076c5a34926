"""Training datasets: BIRD-format examples turned into TRL conversational prompt-completion JSONL.

    sqlensemble train assemble --data data/synth/train --out runs/cpu-tiny/datasets --preset cpu-tiny

One file per generator, ``<name>.jsonl``, each line::

    {"prompt": [{"role": "user", "content": <build_messages(...) text>}],
     "completion": [{"role": "assistant", "content": <gold SQL>}]}

The prompt comes from the shared builder (:func:`sqlensemble.prompts.build_messages`) over the schema
rendered by :func:`sqlensemble.schema.render_schema`, so training sees byte-for-byte what the gateway
sends; the prompt ends with an opening ```` ```sql ```` fence and the completion is the bare SQL.
"""

from __future__ import annotations

import json
import random
import statistics
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from sqlensemble.bird import Example, load_examples, locate_split
from sqlensemble.catalog import Catalog
from sqlensemble.errors import SqlEnsembleError
from sqlensemble.prompts import build_messages
from sqlensemble.schema import render_schema
from sqlensemble.schemainfo import reorder
from sqlensemble.stack import PromptConfig
from sqlensemble.train.augment import AugmentLevel, Variant, permute_mschema, variants
from sqlensemble.train.config import GeneratorSpec
from sqlensemble.train.errors import MissingInputError
from sqlensemble.train.rundir import BASE_DATASET, dataset_path

Record = dict[str, list[dict[str, str]]]
TokenCounter = Callable[[Sequence[str]], list[int]]


@dataclass(frozen=True)
class TrainingData:
    """A BIRD-format split: its examples and the folder of its databases."""

    examples: tuple[Example, ...]
    db_root: Path


@dataclass(frozen=True)
class DatasetStats:
    name: str
    examples: int
    mean_prompt_tokens: float
    max_prompt_tokens: int
    unit: str  # "tokens", or "chars" when no tokenizer is at hand


def load_training_data(data_dir: Path) -> TrainingData:
    """The split folder ``DIR/<split>.json`` + ``DIR/<split>_databases`` through the one BIRD reader.

    Fails fast, before any training, on a missing folder, a bad record or a database that is not there.
    The gold SQL is stripped (it is the completion); question and evidence are normalised by the prompt
    builder itself (:func:`sqlensemble.prompts.normalize_input`), for training and serving alike.
    """
    questions, db_root = locate_split(data_dir)
    examples = load_examples(questions, db_root)
    if not examples:
        raise MissingInputError(f"{questions}: expected a non-empty JSON list of examples")
    stripped = (replace(e, sql=e.sql.strip()) for e in examples)
    return TrainingData(tuple(stripped), db_root)


def render_record(example: Example, variant: Variant, prompt: PromptConfig) -> Record:
    """One prompt-completion record for a rendering variant of an example."""
    schema_text = render_schema(variant.schema, variant.style, variant.max_examples)
    if variant.style != "ddl":
        schema_text = permute_mschema(schema_text, variant.permutation)
    messages = build_messages(
        prompt.template, prompt.dialect, schema_text, example.question, example.evidence
    )
    return {"prompt": messages, "completion": [{"role": "assistant", "content": variant.sql}]}


def generator_records(
    data: TrainingData,
    catalog: Catalog,
    level: AugmentLevel,
    seed: int,
    prompt: PromptConfig,
) -> Iterator[Record]:
    """Every record of one generator's dataset: per example, the original then its augmented copies."""
    rng = random.Random(seed)
    for example in data.examples:
        try:
            schema = reorder(catalog.schema(example.db_id), prompt.schema_order)
        except SqlEnsembleError as e:
            raise MissingInputError(f"database {example.db_id!r}: {e}") from e
        for variant in variants(schema, example.sql, level, rng, prompt.schema_style, prompt.max_examples):
            yield render_record(example, variant, prompt)


def write_jsonl(records: Iterator[Record], path: Path) -> list[str]:
    """Write records atomically (temp file, then rename); returns the prompt texts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".jsonl.tmp")
    prompts: list[str] = []
    with tmp.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            prompts.append(record["prompt"][0]["content"])
    tmp.replace(path)
    return prompts


def read_jsonl(path: Path) -> list[Record]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def prompt_stats(name: str, prompts: Sequence[str], counter: TokenCounter | None) -> DatasetStats:
    lengths = counter(prompts) if counter else [len(p) for p in prompts]
    return DatasetStats(
        name=name,
        examples=len(prompts),
        mean_prompt_tokens=statistics.fmean(lengths) if lengths else 0.0,
        max_prompt_tokens=max(lengths, default=0),
        unit="tokens" if counter else "chars",
    )


def assemble(
    data_dir: Path,
    out_dir: Path,
    generators: Sequence[GeneratorSpec],
    levels: dict[str, AugmentLevel],
    prompt: PromptConfig,
    base: tuple[str, int] | None = None,
    prompts: Mapping[str, PromptConfig] | None = None,
) -> dict[str, list[str]]:
    """Write one JSONL per generator into ``out_dir`` (and ``base.jsonl`` for ``base=(level, seed)``).

    Each generator's prompts are rendered with ``prompts[name]`` when given, else ``prompt`` (which the
    base's dataset always uses). Returns each dataset's prompt texts.
    """
    data = load_training_data(data_dir)
    catalog = Catalog(data.db_root)
    jobs = [(spec.name, spec.level, spec.seed) for spec in generators]
    if base is not None:
        jobs.append((BASE_DATASET, *base))
    unknown = sorted({level for _, level, _ in jobs} - set(levels))
    if unknown:
        raise MissingInputError(f"unknown augmentation level(s): {', '.join(unknown)}")
    written: dict[str, list[str]] = {}
    for name, level, seed in jobs:
        own = (prompts or {}).get(name, prompt)
        records = generator_records(data, catalog, levels[level], seed, own)
        written[name] = write_jsonl(records, dataset_path(out_dir, name))
    return written
