"""Schema and evidence augmentation: pure functions over a seeded :class:`random.Random`.

Each function takes a :class:`~sqlensemble.schema.SchemaInfo` (or the evidence) and returns a new
value; nothing is mutated and the same seed gives the same output. Tables and columns the gold SQL
uses (:func:`used_identifiers`) are never dropped. How often each transform applies is data: an
:class:`AugmentLevel` read from ``augment_levels.yaml``.

>>> from sqlensemble.schema import Column, SchemaInfo, Table
>>> info = SchemaInfo("shop", (
...     Table("orders", (Column("id", "INTEGER", primary_key=True), Column("total", "REAL"))),
...     Table("audit", (Column("id", "INTEGER"),)),
... ))
>>> used = used_identifiers("SELECT total FROM orders")
>>> sorted(used.tables), sorted(used.columns)
(['orders'], ['total'])
>>> [t.name for t in drop_unused(info, used, random.Random(0), table_share=1.0, column_share=0.0).tables]
['orders']
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

import sqlglot
from sqlglot import exp

from sqlensemble.schema import MAX_EXAMPLES, SchemaInfo, SchemaStyle, Table


@dataclass(frozen=True)
class AugmentLevel:
    """How strongly one generator's training data is augmented.

    ``copies`` augmented variants are made per example, next to the original (unless
    ``keep_original`` is false); each transform in a variant applies with its probability. A drop
    removes between ``drop_min_share`` and ``drop_share`` of the unused tables or columns.
    ``vary_examples`` picks the example count from ``example_counts``.
    """

    name: str
    copies: int = 0
    keep_original: bool = True
    shuffle_tables: float = 0.0
    shuffle_columns: float = 0.0
    shuffle_foreign_keys: float = 0.0
    drop_tables: float = 0.0
    drop_columns: float = 0.0
    drop_share: float = 0.0
    drop_min_share: float = 0.0
    vary_examples: float = 0.0
    example_counts: tuple[int, ...] = tuple(range(MAX_EXAMPLES + 1))
    switch_style: float = 0.0
    drop_evidence: float = 0.0


@dataclass(frozen=True)
class UsedIdentifiers:
    """Lower-cased table and column names a SQL query reads; ``all_columns`` when it selects ``*``."""

    tables: frozenset[str]
    columns: frozenset[str]
    all_columns: bool = False


@dataclass(frozen=True)
class Variant:
    """One rendering choice for a training prompt: the schema, its style, example count and evidence."""

    schema: SchemaInfo
    style: SchemaStyle
    max_examples: int | None
    evidence: str


def used_identifiers(sql: str) -> UsedIdentifiers | None:
    """Tables and columns named in ``sql`` (SQLite dialect), or ``None`` when it does not parse.

    Aliases are not resolved: a column name is kept in every table that has it, which can only keep
    more than needed, never less.

    >>> u = used_identifiers('SELECT T1."Full Name" FROM people AS T1 WHERE T1.age > 3')
    >>> sorted(u.tables), sorted(u.columns), u.all_columns
    (['people'], ['age', 'full name'], False)
    >>> used_identifiers("SELECT COUNT(*) FROM t").all_columns
    False
    >>> used_identifiers("SELECT FROM WHERE (") is None
    True
    """
    try:
        trees = [t for t in sqlglot.parse(sql, read="sqlite") if t is not None]
    except sqlglot.errors.SqlglotError:
        return None
    if not trees:
        return None
    tables: set[str] = set()
    columns: set[str] = set()
    all_columns = False
    for tree in trees:
        tables.update(t.name.lower() for t in tree.find_all(exp.Table) if t.name)
        columns.update(c.name.lower() for c in tree.find_all(exp.Column) if c.name)
        all_columns = all_columns or any(not isinstance(s.parent, exp.Count) for s in tree.find_all(exp.Star))
    return UsedIdentifiers(frozenset(tables), frozenset(columns), all_columns)


def shuffle_tables(schema: SchemaInfo, rng: random.Random) -> SchemaInfo:
    """The same tables in a random order."""
    tables = list(schema.tables)
    rng.shuffle(tables)
    return replace(schema, tables=tuple(tables))


def shuffle_columns(schema: SchemaInfo, rng: random.Random) -> SchemaInfo:
    """Each table's columns in a random order."""
    tables = []
    for table in schema.tables:
        columns = list(table.columns)
        rng.shuffle(columns)
        tables.append(replace(table, columns=tuple(columns)))
    return replace(schema, tables=tuple(tables))


def shuffle_foreign_keys(schema: SchemaInfo, rng: random.Random) -> SchemaInfo:
    """The same foreign keys in a random order."""
    keys = list(schema.foreign_keys)
    rng.shuffle(keys)
    return replace(schema, foreign_keys=tuple(keys))


def _how_many(rng: random.Random, n: int, share: float, min_share: float) -> int:
    if n == 0 or share <= 0:
        return 0
    high = int(n * share)
    return rng.randint(min(int(n * min_share), high), high)


def _is_used_table(table: Table, used: UsedIdentifiers) -> bool:
    return table.name.lower() in used.tables


def _column_keys(tables: tuple[Table, ...] | list[Table]) -> set[tuple[str, str]]:
    return {(t.name.lower(), c.name.lower()) for t in tables for c in t.columns}


def drop_unused(
    schema: SchemaInfo,
    used: UsedIdentifiers,
    rng: random.Random,
    table_share: float,
    column_share: float,
    min_share: float = 0.0,
) -> SchemaInfo:
    """Drop up to ``table_share`` of the unused tables and ``column_share`` of the unused columns
    (at least ``min_share`` of each, when that share is not zero).

    Used tables and, within every kept table, used columns and primary keys are always kept; when the
    query selects ``*``, every column of a used table is. A foreign key one of whose ends is dropped
    goes too (M-Schema prints the foreign keys it is given, as XiYan's renderer does).
    """
    unused_tables = [t.name for t in schema.tables if not _is_used_table(t, used)]
    n_drop = _how_many(rng, len(unused_tables), table_share, min_share)
    dropped = set(rng.sample(unused_tables, n_drop))
    tables = []
    for table in schema.tables:
        if table.name in dropped:
            continue
        keep_all = used.all_columns and _is_used_table(table, used)
        optional = [
            c.name
            for c in table.columns
            if not keep_all and not c.primary_key and c.name.lower() not in used.columns
        ]
        n_cols = _how_many(rng, len(optional), column_share, min_share)
        gone = set(rng.sample(optional, n_cols))
        tables.append(replace(table, columns=tuple(c for c in table.columns if c.name not in gone)))
    lost = _column_keys(schema.tables) - _column_keys(tables)
    keys = tuple(
        fk
        for fk in schema.foreign_keys
        if (fk.table.lower(), fk.column.lower()) not in lost
        and (fk.ref_table.lower(), fk.ref_column.lower()) not in lost
    )
    return replace(schema, tables=tuple(tables), foreign_keys=keys)


def other_style(style: SchemaStyle) -> SchemaStyle:
    """The schema style a switch turns ``style`` into.

    >>> other_style("mschema"), other_style("mschema_plus"), other_style("ddl")
    ('ddl', 'ddl', 'mschema')
    """
    return "mschema" if style == "ddl" else "ddl"


def augment(
    schema: SchemaInfo,
    evidence: str,
    used: UsedIdentifiers | None,
    level: AugmentLevel,
    rng: random.Random,
    style: SchemaStyle = "mschema",
    max_examples: int | None = None,
) -> Variant:
    """One augmented variant: each of the level's transforms applied with its probability.

    With ``used=None`` (gold SQL that does not parse) nothing is dropped.
    """
    if rng.random() < level.shuffle_tables:
        schema = shuffle_tables(schema, rng)
    if rng.random() < level.shuffle_columns:
        schema = shuffle_columns(schema, rng)
    if rng.random() < level.shuffle_foreign_keys:
        schema = shuffle_foreign_keys(schema, rng)
    if used is not None:
        table_share = level.drop_share if rng.random() < level.drop_tables else 0.0
        column_share = level.drop_share if rng.random() < level.drop_columns else 0.0
        if table_share or column_share:
            schema = drop_unused(schema, used, rng, table_share, column_share, level.drop_min_share)
    if rng.random() < level.vary_examples:
        max_examples = rng.choice(level.example_counts)
    if rng.random() < level.switch_style:
        style = other_style(style)
    if evidence and rng.random() < level.drop_evidence:
        evidence = ""
    return Variant(schema, style, max_examples, evidence)


def variants(
    schema: SchemaInfo,
    evidence: str,
    sql: str,
    level: AugmentLevel,
    rng: random.Random,
    style: SchemaStyle = "mschema",
    max_examples: int | None = None,
) -> list[Variant]:
    """The original rendering (if the level keeps it) and ``level.copies`` augmented ones, all distinct."""
    original = Variant(schema, style, max_examples, evidence)
    used = used_identifiers(sql)
    out = [original] if level.keep_original else []
    for _ in range(level.copies):
        variant = augment(schema, evidence, used, level, rng, style, max_examples)
        if variant not in out:
            out.append(variant)
    return out
