"""M-Schema text: :func:`render_mschema`, byte for byte what XiYan-SQL's reference renderer
(``MSchema.to_mschema()`` with its defaults) prints for the same reflected schema, and
:func:`render_mschema_plus`, this project's extended variant (foreign keys inside the column lines,
declared types, BIRD descriptions), which nothing uses by default.

Both render the :class:`SchemaInfo` in the order it holds (augmentation may shuffle or drop tables,
columns and foreign keys).

>>> school = Table("school", (
...     Column("id", "INTEGER", "school id", ("1", "2"), True),
...     Column("District Id", "INTEGER", "", ("7",), False, declared_type="int"),
... ))
>>> district = Table("district", (Column("id", "INTEGER", "", (), True),))
>>> info = SchemaInfo("edu", (district, school), (ForeignKey("school", "District Id", "district", "id"),))
>>> print(render_mschema(info))
【DB_ID】 edu
【Schema】
# Table: district
[
(id:INTEGER, Primary Key)
]
# Table: school
[
(id:INTEGER, Primary Key, Examples: [1, 2]),
(District Id:INTEGER, Examples: [7])
]
【Foreign keys】
school.District Id=district.id
>>> print(render_mschema_plus(info).splitlines()[7])
(District Id:INT, Maps to district(id), Examples: [7])
"""

from __future__ import annotations

from sqlensemble.reflect import example_strings
from sqlensemble.schemainfo import Column, ForeignKey, SchemaInfo, Table, one_line

MAX_EXAMPLES = 3
"""Example values shown per column by default (the reference's ``example_num``)."""
EXAMPLE_MAX_CHARS = 30
"""The reference's ``each_example_max_len``: when a shown value is longer, the longer ones go."""
EXAMPLES_MAX_TOTAL = 100
"""The reference: when the kept values add up to more characters, only the first stays."""
DATE_TYPES = frozenset({"DATE", "TIME", "DATETIME", "TIMESTAMP"})
"""Columns of these types show one example (both styles)."""
PLUS_MAX_CHARS = 50
"""``mschema_plus``: longer values are never shown."""
PLUS_SHORT_CHARS = 20
"""``mschema_plus``: when a shown value is longer than this, only the first is shown."""


def mschema_examples(column: Column, max_examples: int | None = None) -> tuple[str, ...]:
    """The examples M-Schema shows, by the reference's rules.

    >>> mschema_examples(Column("d", "DATE", examples=("2020-01-01", "2021-01-01")))
    ('2020-01-01',)
    >>> mschema_examples(Column("n", "TEXT", examples=("Oak", "a name well past thirty characters", "Elm")))
    ('Oak', 'Elm')
    >>> mschema_examples(Column("n", "INTEGER", examples=("1", "2", "3", "4")))
    ('1', '2', '3')
    """
    limit = MAX_EXAMPLES if max_examples is None else max_examples
    if limit <= 0 or not column.examples:
        return ()
    examples = example_strings(column.examples)[:limit]
    if not examples:
        return ()
    if column.type.split("(")[0] in DATE_TYPES:
        return examples[:1]
    if max(map(len, examples)) > EXAMPLE_MAX_CHARS:
        examples = tuple(e for e in examples if len(e) <= EXAMPLE_MAX_CHARS)
        if sum(map(len, examples)) > EXAMPLES_MAX_TOTAL:
            return examples[:1]
    return examples


def _mschema_table(table: Table, max_examples: int | None) -> str:
    lines = [f"# Table: {table.name}, {table.comment}" if table.comment else f"# Table: {table.name}", "["]
    fields = []
    for column in table.columns:
        line = f"({column.name}:{column.type.split('(')[0].upper()}"
        if column.comment:
            line += f", {column.comment.strip()}"
        if column.primary_key:
            line += ", Primary Key"
        examples = mschema_examples(column, max_examples)
        if examples:
            line += f", Examples: [{', '.join(examples)}]"
        fields.append(line + ")")
    lines += [",\n".join(fields), "]"]
    return "\n".join(lines)


def render_mschema(schema: SchemaInfo, max_examples: int | None = None) -> str:
    """XiYan-SQL's M-Schema (no trailing newline); ``max_examples`` defaults to :data:`MAX_EXAMPLES`."""
    lines = [f"【DB_ID】 {schema.db_id}", "【Schema】"]
    lines += [_mschema_table(table, max_examples) for table in schema.tables]
    if schema.foreign_keys:
        lines.append("【Foreign keys】")
        lines += [f"{fk.table}.{fk.column}={fk.ref_table}.{fk.ref_column}" for fk in schema.foreign_keys]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# mschema_plus and the helpers DDL shares


def present_foreign_keys(schema: SchemaInfo) -> list[ForeignKey]:
    """Foreign keys whose both ends are columns of the schema, with the names matched case-insensitively
    to the schema's own spelling (``REFERENCES SCHOOL (cdscode)`` → ``school.CDSCode``).

    >>> t = Table("t", (Column("a", "INTEGER"),))
    >>> keys = (ForeignKey("t", "a", "T", "A"), ForeignKey("t", "a", "u", "b"))
    >>> present_foreign_keys(SchemaInfo("x", (t,), keys))
    [ForeignKey(table='t', column='a', ref_table='t', ref_column='a')]
    """
    names = {(t.name.lower(), c.name.lower()): (t.name, c.name) for t in schema.tables for c in t.columns}
    keys = []
    for fk in schema.foreign_keys:
        here = names.get((fk.table.lower(), fk.column.lower()))
        there = names.get((fk.ref_table.lower(), fk.ref_column.lower()))
        if here and there:
            keys.append(ForeignKey(*here, *there))
    return keys


def simple_type(declared: str) -> str:
    """The declared type without its size, upper case, ``ANY`` when there is none.

    >>> simple_type('varchar(255)'), simple_type(''), simple_type('unsigned big int')
    ('VARCHAR', 'ANY', 'UNSIGNED BIG INT')
    """
    return declared.split("(")[0].strip().upper() or "ANY"


def _plus_candidate(value: str) -> bool:
    lowered = value.lower()
    return (
        bool(value.strip())
        and len(value) <= PLUS_MAX_CHARS
        and "\n" not in value
        and "\r" not in value
        and not lowered.startswith(("http://", "https://", "www."))
    )


def shown_examples(column: Column, max_examples: int | None = None) -> tuple[str, ...]:
    """The examples ``mschema_plus`` and DDL show: short one-line values, at most ``max_examples``
    (default :data:`MAX_EXAMPLES`), one for dates or when any is longer than :data:`PLUS_SHORT_CHARS`.

    >>> shown_examples(Column("d", "DATE", examples=("2020-01-01", "2021-01-01")))
    ('2020-01-01',)
    >>> shown_examples(Column("n", "TEXT", examples=("Oak", "Lincoln High School of Arts")))
    ('Oak',)
    >>> shown_examples(Column("n", "INTEGER", examples=("1", "2", "3")), max_examples=2)
    ('1', '2')
    """
    limit = MAX_EXAMPLES if max_examples is None else max(max_examples, 0)
    examples = tuple(e for e in column.examples if _plus_candidate(e))[:limit]
    if examples and (
        simple_type(column.ddl_type) in DATE_TYPES or max(map(len, examples)) > PLUS_SHORT_CHARS
    ):
        return examples[:1]
    return examples


def _plus_column(column: Column, refs: list[ForeignKey], max_examples: int | None) -> str:
    parts = [f"{column.name}:{simple_type(column.ddl_type)}"]
    note = column.description or column.comment
    if note:
        parts.append(one_line(note))
    if column.primary_key:
        parts.append("Primary Key")
    parts += [f"Maps to {fk.ref_table}({fk.ref_column})" for fk in refs]
    examples = shown_examples(column, max_examples)
    if examples:
        parts.append(f"Examples: [{', '.join(examples)}]")
    return "(" + ", ".join(parts) + ")"


def render_mschema_plus(schema: SchemaInfo, max_examples: int | None = None) -> str:
    """M-Schema with this project's extras (no trailing newline): declared types, descriptions from
    BIRD's CSVs, each foreign key also as ``Maps to table(column)`` in its column's line."""
    foreign_keys = present_foreign_keys(schema)
    lines = [f"【DB_ID】 {schema.db_id}", "【Schema】"]
    for table in schema.tables:
        lines += [f"# Table: {table.name}", "["]
        column_lines = [
            _plus_column(
                column,
                [fk for fk in foreign_keys if (fk.table, fk.column) == (table.name, column.name)],
                max_examples,
            )
            for column in table.columns
        ]
        if column_lines:
            lines.append(",\n".join(column_lines))
        lines.append("]")
    if foreign_keys:
        lines.append("【Foreign keys】")
        lines += [f"{fk.table}.{fk.column}={fk.ref_table}.{fk.ref_column}" for fk in foreign_keys]
    return "\n".join(lines)
