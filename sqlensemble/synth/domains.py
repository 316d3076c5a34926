"""The hand-designed domains, read from ``domains.yaml`` into frozen records.

Every domain has four core tables in fixed roles (G groups E, F links E and A), so that one question
template fits every domain. Columns carry a role (``pk``, ``fk``, ``name``, ``num``, ``cat``, ``code``,
``date``), the words their identifiers are made from, the noun questions use for them, a description
for ``database_description/*.csv`` and a value generator (see ``data.py``).

>>> [d.key for d in load_domains()][:3]
['school', 'retail', 'flights']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

from sqlensemble.errors import DataError

Role = Literal["G", "E", "A", "F"]
ColumnRole = Literal["pk", "fk", "name", "num", "cat", "code", "date"]
ROLES: tuple[Role, ...] = ("G", "E", "A", "F")
COLUMN_ROLES: tuple[str, ...] = ("pk", "fk", "name", "num", "cat", "code", "date")
SQL_TYPES = ("INTEGER", "REAL", "TEXT", "DATE")


@dataclass(frozen=True)
class ColumnSpec:
    key: str
    role: ColumnRole
    names: tuple[str, ...]
    type: str
    noun: str
    desc: str
    gen: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    ref: Role | None = None
    unit: str = ""
    codes: tuple[tuple[str, str], ...] = ()
    weights: tuple[float, ...] = ()
    coverage: float = 1.0


@dataclass(frozen=True)
class TableSpec:
    role: Role
    names: tuple[str, ...]
    sing: str
    pl: str
    rows: int
    columns: tuple[ColumnSpec, ...]

    def by_role(self, role: str) -> list[ColumnSpec]:
        return [c for c in self.columns if c.role == role]

    def column(self, key: str) -> ColumnSpec:
        for c in self.columns:
            if c.key == key:
                return c
        raise KeyError(key)


@dataclass(frozen=True)
class Threshold:
    """An evidence-driven mapping: ``adj`` refers to ``column op value`` on table ``table``."""

    table: Role
    column: str
    op: str
    value: float
    adj: str


@dataclass(frozen=True)
class Domain:
    key: str
    db_ids: tuple[str, ...]
    tables: tuple[TableSpec, ...]
    thresholds: tuple[Threshold, ...]
    links: tuple[tuple[str, str], ...]

    def table(self, role: Role) -> TableSpec:
        return next(t for t in self.tables if t.role == role)

    def link(self, name: str) -> str:
        return dict(self.links)[name]


def _column(domain: str, table: str, raw: dict[str, Any], tables_raw: dict[str, Any]) -> ColumnSpec:
    where = f"domain {domain!r} table {table} column {raw.get('key')!r}"
    role = raw.get("role")
    if role not in COLUMN_ROLES:
        raise DataError(f"{where}: role must be one of {COLUMN_ROLES}, got {role!r}")
    if role == "fk":
        ref = raw.get("ref")
        if ref not in tables_raw:
            raise DataError(f"{where}: fk ref {ref!r} is not a table role")
        pk = next(c for c in tables_raw[ref]["columns"] if c["role"] == "pk")
        return ColumnSpec(
            key=raw["key"],
            role="fk",
            names=tuple(pk["names"]),
            type="INTEGER",
            noun=pk["noun"],
            desc=raw.get("desc", ""),
            ref=ref,
            coverage=float(raw.get("coverage", 1.0)),
        )
    if raw.get("type") not in SQL_TYPES:
        raise DataError(f"{where}: type must be one of {SQL_TYPES}")
    codes = tuple((str(k), str(v)) for k, v in (raw.get("codes") or {}).items())
    if role == "code" and len(codes) < 2:
        raise DataError(f"{where}: a code column needs at least two codes")
    if role not in ("pk", "code") and not raw.get("gen"):
        raise DataError(f"{where}: needs a value generator 'gen'")
    return ColumnSpec(
        key=raw["key"],
        role=role,
        names=tuple(raw["names"]),
        type=raw["type"],
        noun=raw["noun"],
        desc=raw.get("desc", ""),
        gen=dict(raw.get("gen") or {}),
        unit=raw.get("unit", ""),
        codes=codes,
        weights=tuple(float(w) for w in raw.get("weights", ())),
    )


def _domain(key: str, raw: dict[str, Any]) -> Domain:
    tables_raw = raw["tables"]
    if sorted(tables_raw) != sorted(ROLES):
        raise DataError(f"domain {key!r}: needs exactly the table roles {ROLES}")
    tables = tuple(
        TableSpec(
            role=role,
            names=tuple(t["names"]),
            sing=t["sing"],
            pl=t["pl"],
            rows=int(t["rows"]),
            columns=tuple(_column(key, role, c, tables_raw) for c in t["columns"]),
        )
        for role in ROLES
        for t in [tables_raw[role]]
    )
    for t in tables:
        if len(t.by_role("pk")) != 1 or len(t.by_role("num")) < 1:
            raise DataError(f"domain {key!r} table {t.role}: needs one pk and at least one num column")
    thresholds = tuple(Threshold(**th) for th in raw.get("thresholds", ()))
    return Domain(
        key=key,
        db_ids=tuple(raw["db_ids"]),
        tables=tables,
        thresholds=thresholds,
        links=tuple(sorted(raw["links"].items())),
    )


def read_package_yaml(name: str) -> Any:
    text = resources.files("sqlensemble.synth").joinpath(name).read_text(encoding="utf-8")
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@cache
def load_domains() -> tuple[Domain, ...]:
    """All domains in file order."""
    raw = read_package_yaml("domains.yaml")
    return tuple(_domain(key, value) for key, value in raw.items())


@cache
def load_vocab() -> dict[str, tuple[str, ...]]:
    """The word lists value generators draw from."""
    raw = read_package_yaml("vocab.yaml")
    return {key: tuple(str(v) for v in values) for key, values in raw.items()}
