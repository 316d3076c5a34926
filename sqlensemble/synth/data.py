"""Deterministic row generation: every value comes from one ``random.Random`` seeded by the variant.

A column's ``gen`` mapping picks the generator (``kind``); the kinds are a table of functions below:

    pattern  {patterns: [...], unique}  "{list}" takes a word of a vocab list, "#" a digit 1-9
    vocab    {list, skew, unique}       a word of a vocab list, earlier words more frequent
    choice   {values, weights}          one of the listed values
    int      {low, high, step, mean, sd, log}   uniform, normal (mean, sd) or log-normal, clipped
    real     {low, high, mean, sd, log, digits} the same, rounded to ``digits``
    date     {start, end}               an ISO date between Jan 1 of ``start`` and Dec 31 of ``end``
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlensemble.errors import DataError
from sqlensemble.synth.domains import ColumnSpec, TableSpec, load_vocab
from sqlensemble.synth.variants import Variant

Value = int | float | str
_SLOT = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class TableData:
    spec: TableSpec
    rows: tuple[tuple[Value, ...], ...]

    def values(self, key: str) -> list[Value]:
        i = next(i for i, c in enumerate(self.spec.columns) if c.key == key)
        return [row[i] for row in self.rows]


def _number(rng: random.Random, gen: dict[str, Any]) -> float:
    low, high = float(gen["low"]), float(gen["high"])
    if "mean" not in gen:
        return rng.uniform(low, high)
    if gen.get("log"):
        x = math.exp(rng.gauss(math.log(float(gen["mean"])), float(gen["sd"])))
    else:
        x = rng.gauss(float(gen["mean"]), float(gen["sd"]))
    return min(high, max(low, x))


def _gen_int(rng: random.Random, gen: dict[str, Any], vocab: dict[str, tuple[str, ...]]) -> Value:
    step = int(gen.get("step", 1))
    return round(_number(rng, gen) / step) * step


def _gen_real(rng: random.Random, gen: dict[str, Any], vocab: dict[str, tuple[str, ...]]) -> Value:
    return round(_number(rng, gen), int(gen.get("digits", 2)))


def _gen_date(rng: random.Random, gen: dict[str, Any], vocab: dict[str, tuple[str, ...]]) -> Value:
    start, end = date(int(gen["start"]), 1, 1), date(int(gen["end"]), 12, 31)
    return (start + timedelta(days=rng.randint(0, (end - start).days))).isoformat()


def _gen_choice(rng: random.Random, gen: dict[str, Any], vocab: dict[str, tuple[str, ...]]) -> Value:
    values = [str(v) for v in gen["values"]]
    return rng.choices(values, weights=gen.get("weights") or [1.0] * len(values))[0]


def _gen_pattern(rng: random.Random, gen: dict[str, Any], vocab: dict[str, tuple[str, ...]]) -> Value:
    text = _SLOT.sub(lambda m: rng.choice(vocab[m.group(1)]), rng.choice(gen["patterns"]))
    return "".join(str(rng.randint(1, 9)) if ch == "#" else ch for ch in text)


GENERATORS: dict[str, Callable[[random.Random, dict[str, Any], dict[str, tuple[str, ...]]], Value]] = {
    "int": _gen_int,
    "real": _gen_real,
    "date": _gen_date,
    "choice": _gen_choice,
    "pattern": _gen_pattern,
}


def _column_values(
    rng: random.Random, col: ColumnSpec, n: int, vocab: dict[str, tuple[str, ...]]
) -> list[Value]:
    if col.role == "code":
        codes = [code for code, _ in col.codes]
        return list(rng.choices(codes, weights=col.weights or [1.0] * len(codes), k=n))
    gen = col.gen
    kind = gen.get("kind", "")
    if kind not in GENERATORS and kind != "vocab":
        raise DataError(f"column {col.key!r}: unknown generator kind {kind!r}")
    if kind == "vocab":
        # a per-variant order, so the frequent values differ between variants
        words = list(vocab[gen["list"]])
        rng.shuffle(words)
        vocab = {**vocab, gen["list"]: tuple(words)}
        if gen.get("unique"):
            return list(rng.sample(words, n))
        skew = float(gen.get("skew", 0.6))
        return list(rng.choices(words, weights=[1.0 / (i + 1) ** skew for i in range(len(words))], k=n))
    if not gen.get("unique"):
        return [GENERATORS[kind](rng, gen, vocab) for _ in range(n)]
    out: list[Value] = []
    seen: set[Value] = set()
    for _ in range(n * 60):
        v = GENERATORS[kind](rng, gen, vocab)
        if v not in seen:
            seen.add(v)
            out.append(v)
            if len(out) == n:
                return out
    raise DataError(f"column {col.key!r}: cannot draw {n} distinct values")


def _row_count(rng: random.Random, table: TableSpec, scale: float, vocab: dict[str, tuple[str, ...]]) -> int:
    n = max(12, int(table.rows * scale * rng.uniform(0.85, 1.15)))
    for col in table.columns:
        if col.gen.get("kind") == "vocab" and col.gen.get("unique"):
            n = min(n, len(vocab[col.gen["list"]]))
    return n


def _foreign_keys(rng: random.Random, col: ColumnSpec, parent_rows: int, n: int) -> list[Value]:
    keys = list(range(1, parent_rows + 1))
    rng.shuffle(keys)
    keys = keys[: max(1, math.ceil(parent_rows * col.coverage))]
    weights = [1.0 / (i + 1) ** 0.35 for i in range(len(keys))]
    return list(rng.choices(keys, weights=weights, k=n))


def generate_tables(variant: Variant, scale: float = 1.0) -> dict[str, TableData]:
    """Rows of every table of ``variant``, keyed by table role (G, E, A, F in that order)."""
    rng = random.Random(variant.seed)
    vocab = load_vocab()
    out: dict[str, TableData] = {}
    for table in variant.domain.tables:
        n = _row_count(rng, table, scale, vocab)
        columns: list[list[Value]] = []
        for col in table.columns:
            if col.role == "pk":
                columns.append(list(range(1, n + 1)))
            elif col.role == "fk":
                assert col.ref is not None
                columns.append(_foreign_keys(rng, col, len(out[col.ref].rows), n))
            else:
                columns.append(_column_values(rng, col, n, vocab))
        out[table.role] = TableData(spec=table, rows=tuple(zip(*columns, strict=True)))
    return out
