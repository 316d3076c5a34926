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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlensemble.catalog import Catalog
from sqlensemble.errors import SqlEnsembleError
from sqlensemble.prompts import build_messages
from sqlensemble.schema import render_schema
from sqlensemble.train.augment import AugmentLevel, Variant, variants
from sqlensemble.train.config import GeneratorSpec, PromptSettings
from sqlensemble.train.errors import MissingInputError

Record = dict[str, list[dict[str, str]]]
TokenCounter = Callable[[Sequence[str]], list[int]]


@dataclass(frozen=True)
class TrainExample:
    db_id: str
    question: str
    evidence: str
    sql: str


@dataclass(frozen=True)
class TrainingData:
    """A BIRD-format split: its examples and the folder of its databases."""

    examples: tuple[TrainExample, ...]
    db_root: Path


@dataclass(frozen=True)
class DatasetStats:
    name: str
    examples: int
    mean_prompt_tokens: float
    max_prompt_tokens: int
    unit: str  # "tokens", or "chars" when no tokenizer is at hand


def _questions_file(data_dir: Path) -> Path:
    preferred = data_dir / f"{data_dir.name}.json"
    if preferred.is_file():
        return preferred
    candidates = sorted(p for p in data_dir.glob("*.json") if not p.name.startswith("."))
    if len(candidates) != 1:
        raise MissingInputError(f"no questions file in {data_dir} (expected {preferred.name})")
    return candidates[0]


def _databases_dir(data_dir: Path) -> Path:
    preferred = data_dir / f"{data_dir.name}_databases"
    if preferred.is_dir():
        return preferred
    candidates = sorted(p for p in data_dir.glob("*_databases") if p.is_dir())
    if len(candidates) != 1:
        raise MissingInputError(f"no databases folder in {data_dir} (expected {preferred.name})")
    return candidates[0]


def _example(item: Any, index: int, source: Path) -> TrainExample:
    if not isinstance(item, dict) or not isinstance(item.get("db_id"), str):
        raise MissingInputError(f"{source}: record {index} has no db_id")
    sql = item.get("SQL", item.get("sql"))
    question = item.get("question")
    if not isinstance(sql, str) or not isinstance(question, str):
        raise MissingInputError(f"{source}: record {index} needs 'question' and 'SQL' strings")
    evidence = item.get("evidence") or ""
    return TrainExample(item["db_id"], question.strip(), str(evidence).strip(), sql.strip())


def load_training_data(data_dir: Path) -> TrainingData:
    """Read ``DIR/<split>.json`` and locate ``DIR/<split>_databases``; fails fast on anything missing."""
    if not data_dir.is_dir():
        raise MissingInputError(f"data folder not found: {data_dir}")
    source = _questions_file(data_dir)
    db_root = _databases_dir(data_dir)
    try:
        items = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise MissingInputError(f"cannot read {source}: {e}") from e
    if not isinstance(items, list) or not items:
        raise MissingInputError(f"{source}: expected a non-empty JSON list of examples")
    examples = tuple(_example(item, i, source) for i, item in enumerate(items))
    missing = sorted({e.db_id for e in examples} - {p.name for p in db_root.iterdir() if p.is_dir()})
    if missing:
        raise MissingInputError(f"{db_root}: no database for {', '.join(missing[:5])}")
    return TrainingData(examples, db_root)


def render_record(example: TrainExample, variant: Variant, prompt: PromptSettings) -> Record:
    """One prompt-completion record for a rendering variant of an example."""
    schema_text = render_schema(variant.schema, variant.style, variant.max_examples)
    messages = build_messages(
        prompt.template, prompt.dialect, schema_text, example.question, variant.evidence
    )
    return {"prompt": messages, "completion": [{"role": "assistant", "content": example.sql}]}


def generator_records(
    data: TrainingData,
    catalog: Catalog,
    level: AugmentLevel,
    seed: int,
    prompt: PromptSettings,
) -> Iterator[Record]:
    """Every record of one generator's dataset: per example, the original then its augmented copies."""
    rng = random.Random(seed)
    for example in data.examples:
        try:
            schema = catalog.schema(example.db_id)
        except SqlEnsembleError as e:
            raise MissingInputError(f"database {example.db_id!r}: {e}") from e
        for variant in variants(
            schema, example.evidence, example.sql, level, rng, prompt.schema_style, prompt.max_examples
        ):
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


def dataset_path(datasets_dir: Path, name: str) -> Path:
    return datasets_dir / f"{name}.jsonl"


BASE_DATASET = "base"


def assemble(
    data_dir: Path,
    out_dir: Path,
    generators: Sequence[GeneratorSpec],
    levels: dict[str, AugmentLevel],
    prompt: PromptSettings,
    base: tuple[str, int] | None = None,
) -> dict[str, list[str]]:
    """Write one JSONL per generator into ``out_dir`` (and ``base.jsonl`` for ``base=(level, seed)``).

    Returns each dataset's prompt texts.
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
        records = generator_records(data, catalog, levels[level], seed, prompt)
        written[name] = write_jsonl(records, dataset_path(out_dir, name))
    return written
