"""Write the whole benchmark in BIRD's layout.

    OUT/train/train.json      OUT/train/train_gold.sql     OUT/train/train_databases/<db_id>/...
    OUT/dev/dev.json          OUT/dev/dev_gold.sql         OUT/dev/dev_databases/<db_id>/...

Default split: dev questions are on the training databases, but no dev question text or gold SQL
occurs in train. Cross-domain split: the last variant of every domain is held out, and dev uses only
those databases, which train never sees.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlensemble.bird import DIFFICULTIES
from sqlensemble.synth.binding import Binder
from sqlensemble.synth.data import generate_tables
from sqlensemble.synth.database import write_database
from sqlensemble.synth.domains import load_domains
from sqlensemble.synth.generate import Question, QuestionPool, Quota, split_quota, take
from sqlensemble.synth.variants import Variant, make_variants

Size = Literal["small", "demo", "default"]
POOL_SURPLUS = 1.35
SETTINGS_FILE = "synth.json"  # size, seed and split of the benchmark in a folder


@dataclass(frozen=True)
class SizeConfig:
    per_domain: int  # variants of each domain
    scale: float  # row-count scale
    train: int
    dev: int


SIZES: dict[str, SizeConfig] = {
    "small": SizeConfig(per_domain=2, scale=0.12, train=240, dev=80),
    # One variant of each domain: the CPU demo's tiny generators see every schema often enough to learn it.
    "demo": SizeConfig(per_domain=1, scale=1.0, train=2400, dev=200),
    "default": SizeConfig(per_domain=4, scale=1.0, train=3200, dev=600),
}


@dataclass(frozen=True)
class Summary:
    out: Path
    train: list[Question]
    dev: list[Question]
    train_dbs: list[str]
    dev_dbs: list[str]
    seconds: float

    def mix(self, split: Literal["train", "dev"]) -> dict[str, int]:
        counts = Counter(q.difficulty for q in (self.train if split == "train" else self.dev))
        return {d: counts[d] for d in DIFFICULTIES}


def _records(questions: list[Question]) -> list[dict[str, object]]:
    return [
        {
            "question_id": i,
            "db_id": q.db_id,
            "question": q.question,
            "evidence": q.evidence,
            "SQL": q.sql,
            "difficulty": q.difficulty,
        }
        for i, q in enumerate(questions)
    ]


def _write_split(folder: Path, name: str, questions: list[Question]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_records(questions), indent=4, ensure_ascii=False)
    (folder / f"{name}.json").write_text(text + "\n", encoding="utf-8")
    gold = "".join(f"{q.sql}\t{q.db_id}\n" for q in questions)
    (folder / f"{name}_gold.sql").write_text(gold, encoding="utf-8")


def _scaled(quota: Quota, factor: float) -> Quota:
    return {d: int(quota[d] * factor) + 2 for d in DIFFICULTIES}


def _add(a: Quota, b: Quota) -> Quota:
    return {d: a[d] + b[d] for d in DIFFICULTIES}


def _pick(
    db_ids: list[str],
    pools: dict[str, list[Question]],
    quotas: list[Quota],
    banned_q: set[str] | None = None,
    banned_sql: set[str] | None = None,
) -> list[Question]:
    """Fill each database's quota in order, carrying any shortfall to the next database."""
    carry: Quota = {d: 0 for d in DIFFICULTIES}
    out: list[Question] = []
    for db_id, quota in zip(db_ids, quotas, strict=True):
        got, carry = take(pools[db_id], _add(quota, carry), banned_q or set(), banned_sql or set())
        out.extend(got)
    return out


def read_settings(out: Path) -> dict[str, object] | None:
    """What the benchmark in ``out`` was made with (``synth.json``), or None when it says nothing."""
    try:
        made = json.loads((out / SETTINGS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return made if isinstance(made, dict) else None


def write_benchmark(
    out: Path, *, seed: int = 0, cross_domain: bool = False, size: Size = "default"
) -> Summary:
    """Generate databases and questions and write them under ``out`` (which should be empty)."""
    start = time.perf_counter()
    cfg = SIZES[size]
    variants = make_variants(load_domains(), cfg.per_domain, seed)
    held_out = {v.db_id for v in variants if cross_domain and v.index == cfg.per_domain - 1}
    train_vs = [v for v in variants if v.db_id not in held_out]
    dev_vs = [v for v in variants if v.db_id in held_out] if cross_domain else variants
    train_q = split_quota(cfg.train, len(train_vs))
    dev_q = split_quota(cfg.dev, len(dev_vs))
    want: dict[str, Quota] = {}
    for v, q in zip(train_vs, train_q, strict=True):
        want[v.db_id] = q
    for v, q in zip(dev_vs, dev_q, strict=True):
        want[v.db_id] = _add(want[v.db_id], q) if v.db_id in want else q

    pools: dict[str, list[Question]] = {}
    for v in variants:
        pools[v.db_id] = _build(out, v, cfg, held_out, want[v.db_id], seed)

    dev = _pick([v.db_id for v in dev_vs], pools, dev_q)
    banned_q = {q.question for q in dev} if not cross_domain else set()
    banned_sql = {q.sql for q in dev} if not cross_domain else set()
    train = _pick([v.db_id for v in train_vs], pools, train_q, banned_q, banned_sql)
    # Databases interleaved, so the first N questions (`sqlensemble eval --limit N`) are a fair sample.
    random.Random(f"{seed}:dev:order").shuffle(dev)
    random.Random(f"{seed}:train:order").shuffle(train)

    if not cross_domain:
        for v in variants:
            src = out / "train" / "train_databases" / v.db_id
            shutil.copytree(src, out / "dev" / "dev_databases" / v.db_id, copy_function=shutil.copyfile)
    _write_split(out / "train", "train", train)
    _write_split(out / "dev", "dev", dev)
    made = {"size": size, "seed": seed, "cross_domain": cross_domain, "train": len(train), "dev": len(dev)}
    (out / SETTINGS_FILE).write_text(json.dumps(made, indent=2) + "\n", encoding="utf-8")
    return Summary(
        out=out,
        train=train,
        dev=dev,
        train_dbs=[v.db_id for v in train_vs],
        dev_dbs=[v.db_id for v in dev_vs],
        seconds=time.perf_counter() - start,
    )


def _build(
    out: Path, v: Variant, cfg: SizeConfig, held_out: set[str], want: Quota, seed: int
) -> list[Question]:
    """Write one database and draw its question pool (pool order is the order questions are taken)."""
    tables = generate_tables(v, cfg.scale)
    split = ("dev", "dev_databases") if v.db_id in held_out else ("train", "train_databases")
    path = write_database(out.joinpath(*split, v.db_id), v, tables)
    pool = QuestionPool(Binder(v, tables), path, seed=f"{seed}:{v.db_id}:questions")
    drawn = pool.draw(_scaled(want, POOL_SURPLUS))
    questions = [q for d in DIFFICULTIES for q in drawn[d]]
    random.Random(f"{seed}:{v.db_id}:order").shuffle(questions)
    return questions
