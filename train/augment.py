"""Training-data augmentation as the seed does it: pure functions over a seeded :class:`random.Random`.

Schema shuffle, schema filter (part of the irrelevant schema kept), schema permute (example values,
indents and foreign keys written other ways) and the seed's SQL clean-up. Each function takes a
:class:`~sqlensemble.schema.SchemaInfo` (or text) and returns a new value; nothing is mutated and the
same seed gives the same output. Tables and columns the gold SQL
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
>>> [t.name for t in filter_unused(info, used, random.Random(0), keep_tables=0.0, keep_columns=1.0).tables]
['orders']
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace

import sqlglot
from sqlglot import exp

from sqlensemble.schema import MAX_EXAMPLES, SchemaInfo, SchemaStyle, Table


@dataclass(frozen=True)
class AugmentLevel:
    """How strongly one generator's training data is augmented, with the seed's operations.

    ``copies`` augmented variants are made per example, next to the original (unless ``keep_original``
    is false). In each variant: the tables, each table's columns and the foreign keys are shuffled with
    their probabilities (schema shuffle); with probability ``filter_schema`` each unused table is kept with
    probability ``keep_tables`` and each unused column of a kept table with ``keep_columns`` (schema
    filter); with probability ``permute`` the example values are written another way (schema permute:
    :func:`permute_mschema`). ``vary_examples`` picks the example count from ``example_counts`` (the
    base's ``compact`` data only). Augmented variants carry the gold SQL cleaned by :func:`clean_sql`.
    """

    name: str
    copies: int = 0
    keep_original: bool = True
    shuffle_tables: float = 0.0
    shuffle_columns: float = 0.0
    shuffle_foreign_keys: float = 0.0
    filter_schema: float = 0.0
    keep_tables: float = 1.0
    keep_columns: float = 1.0
    permute: float = 0.0
    vary_examples: float = 0.0
    example_counts: tuple[int, ...] = tuple(range(MAX_EXAMPLES + 1))


@dataclass(frozen=True)
class UsedIdentifiers:
    """Lower-cased table and column names a SQL query reads; ``all_columns`` when it selects ``*``."""

    tables: frozenset[str]
    columns: frozenset[str]
    all_columns: bool = False


@dataclass(frozen=True)
class Permutation:
    """How a permuted M-Schema writes its example values, column lines and foreign keys."""

    examples_label: str = "Examples:"
    indent: str = ""
    foreign_key_separator: str = "="


ORIGINAL = Permutation()
EXAMPLE_LABELS: tuple[tuple[str, int], ...] = (
    ("Value examples:", 10),
    ("Examples:", 83),
    ("示例值:", 3),
    ("values:", 3),
    ("--", 1),
)
"""The seed's schema permute: the label written before example values, with its weight (``--`` turns
the examples into a trailing comment)."""


@dataclass(frozen=True)
class Variant:
    """One rendering choice for a training prompt: the schema, its style, example count, how its
    M-Schema text is permuted and the gold SQL it is paired with."""

    schema: SchemaInfo
    style: SchemaStyle
    max_examples: int | None
    sql: str
    permutation: Permutation = ORIGINAL


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


def _is_used_table(table: Table, used: UsedIdentifiers) -> bool:
    return table.name.lower() in used.tables


def _column_keys(tables: tuple[Table, ...] | list[Table]) -> set[tuple[str, str]]:
    return {(t.name.lower(), c.name.lower()) for t in tables for c in t.columns}


def filter_unused(
    schema: SchemaInfo,
    used: UsedIdentifiers,
    rng: random.Random,
    keep_tables: float,
    keep_columns: float,
) -> SchemaInfo:
    """Keep each unused table with probability ``keep_tables`` and, in every kept table, each unused
    column with probability ``keep_columns`` (the seed's schema filter).

    Used tables and, within every kept table, used columns and primary keys are always kept; when the
    query selects ``*``, every column of a used table is. A foreign key one of whose ends is dropped
    goes too (M-Schema prints the foreign keys it is given, as XiYan's renderer does).
    """
    tables = []
    for table in schema.tables:
        used_table = _is_used_table(table, used)
        if not used_table and rng.random() >= keep_tables:
            continue
        keep_all = used.all_columns and used_table
        columns = tuple(
            c
            for c in table.columns
            if keep_all or c.primary_key or c.name.lower() in used.columns or rng.random() < keep_columns
        )
        tables.append(replace(table, columns=columns))
    lost = _column_keys(schema.tables) - _column_keys(tables)
    keys = tuple(
        fk
        for fk in schema.foreign_keys
        if (fk.table.lower(), fk.column.lower()) not in lost
        and (fk.ref_table.lower(), fk.ref_column.lower()) not in lost
    )
    return replace(schema, tables=tuple(tables), foreign_keys=keys)


def permutation(rng: random.Random) -> Permutation:
    """A random permutation as the seed draws it: a weighted label, an indent half of the time."""
    labels, weights = zip(*EXAMPLE_LABELS, strict=True)
    return Permutation(rng.choices(labels, weights=weights)[0], "" if rng.random() < 0.5 else "  ", " = ")


def permute_mschema(text: str, how: Permutation) -> str:
    """M-Schema text with its column lines, example labels and foreign keys written as ``how`` says.

    >>> text = "# Table: t\\n[\\n(id:INTEGER, Primary Key, Examples: [1, 2]),\\n(v:TEXT)\\n]\\n"
    >>> text += "【Foreign keys】\\nt.id=u.id"
    >>> print(permute_mschema(text, Permutation("--", "  ", " = ")))
    # Table: t
    [
      (id:INTEGER, Primary Key) -- Value examples: [1, 2],
      (v:TEXT)
    ]
    【Foreign keys】
    t.id = u.id
    >>> permute_mschema(text, ORIGINAL) == text
    True
    """
    if how == ORIGINAL:
        return text
    lines = text.split("\n")
    out: list[str] = []
    in_keys = False
    for line in lines:
        if line == "【Foreign keys】":
            in_keys = True
        elif in_keys and "=" in line:
            left, _, right = line.partition("=")
            line = f"{left}{how.foreign_key_separator}{right}"
        elif line.startswith("("):
            line = how.indent + _relabel(line, how.examples_label)
        out.append(line)
    return "\n".join(out)


def _relabel(line: str, label: str) -> str:
    head, sep, values = line.partition(", Examples: [")
    if not sep or label == "Examples:":
        return line
    comma = "," if values.endswith(",") else ""
    values = values.removesuffix(",").removesuffix(")")
    if label == "--":
        return f"{head}) -- Value examples: [{values}{comma}"
    return f"{head}, {label} [{values}){comma}"


def clean_sql(sql: str) -> str:
    """The gold SQL as the seed's augmentation writes it: comments removed and, when it spans more than
    three lines, all whitespace runs collapsed.

    >>> clean_sql("SELECT a -- the answer\\nFROM t")
    'SELECT a \\nFROM t'
    >>> clean_sql("SELECT a,\\n  b\\nFROM t\\nWHERE x = 1\\nORDER BY a")
    'SELECT a, b FROM t WHERE x = 1 ORDER BY a'
    """
    if "--" in sql:
        sql = re.sub(r"--.*?(\n|$)", r"\1", sql)
    if sql.count("\n") >= 3:
        sql = re.sub(r"\s+", " ", sql).strip()
    return sql


def augment(
    schema: SchemaInfo,
    sql: str,
    used: UsedIdentifiers | None,
    level: AugmentLevel,
    rng: random.Random,
    style: SchemaStyle = "mschema",
    max_examples: int | None = None,
) -> Variant:
    """One augmented variant: each of the level's transforms applied with its probability.

    With ``used=None`` (gold SQL that does not parse) nothing is filtered out.
    """
    if rng.random() < level.shuffle_tables:
        schema = shuffle_tables(schema, rng)
    if rng.random() < level.shuffle_columns:
        schema = shuffle_columns(schema, rng)
    if rng.random() < level.shuffle_foreign_keys:
        schema = shuffle_foreign_keys(schema, rng)
    if used is not None and rng.random() < level.filter_schema:
        schema = filter_unused(schema, used, rng, level.keep_tables, level.keep_columns)
    if rng.random() < level.vary_examples:
        max_examples = rng.choice(level.example_counts)
    how = permutation(rng) if rng.random() < level.permute else ORIGINAL
    return Variant(schema, style, max_examples, clean_sql(sql), how)


def variants(
    schema: SchemaInfo,
    sql: str,
    level: AugmentLevel,
    rng: random.Random,
    style: SchemaStyle = "mschema",
    max_examples: int | None = None,
) -> list[Variant]:
    """The original rendering (if the level keeps it) and ``level.copies`` augmented ones, all distinct."""
    original = Variant(schema, style, max_examples, sql)
    used = used_identifiers(sql)
    out = [original] if level.keep_original else []
    for _ in range(level.copies):
        variant = augment(schema, sql, used, level, rng, style, max_examples)
        if variant not in out:
            out.append(variant)
    return out
