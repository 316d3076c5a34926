"""Database schemas: read from SQLite (:func:`read_schema`) and rendered as the text the prompts carry.

The values (:class:`SchemaInfo`, :class:`Table`, :class:`Column`, :class:`ForeignKey`) live in
:mod:`sqlensemble.schemainfo`, the reflection in :mod:`sqlensemble.reflect`, M-Schema in
:mod:`sqlensemble.mschema`; this module adds BIRD's description CSVs and DDL, and names the styles:

- ``mschema`` (the default): XiYan-SQL's M-Schema, byte for byte what its reference renderer prints;
- ``mschema_plus``: M-Schema with declared types, BIRD descriptions and ``Maps to`` foreign keys;
- ``ddl``: ``CREATE TABLE`` statements with comments.

Rendering depends only on the ``SchemaInfo`` contents, their order and ``max_examples``, so training
can shuffle or drop tables, columns and foreign keys and render the result with these same functions.

>>> info = SchemaInfo("edu", (
...     Table("district", (Column("id", "INTEGER", "", ("7",), True),)),
...     Table("school", (
...         Column("id", "INTEGER", "school id", ("1", "2"), True),
...         Column("District Id", "INTEGER", declared_type="int", examples=("7",)),
...     )),
... ), (ForeignKey("school", "District Id", "district", "id"),))
>>> print(render_schema(info, "ddl"))
CREATE TABLE district (
  id INTEGER, -- examples: 7
  PRIMARY KEY (id)
);
<BLANKLINE>
CREATE TABLE school (
  id INTEGER, -- school id; examples: 1, 2
  "District Id" int, -- examples: 7
  PRIMARY KEY (id),
  FOREIGN KEY ("District Id") REFERENCES district(id)
);
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Literal

from sqlensemble.errors import ConfigError
from sqlensemble.mschema import (
    MAX_EXAMPLES,
    present_foreign_keys,
    render_mschema,
    render_mschema_plus,
    shown_examples,
    simple_type,
)
from sqlensemble.reflect import reflect_schema
from sqlensemble.schemainfo import (
    Column,
    ForeignKey,
    QuoteStyle,
    SchemaInfo,
    Table,
    ddl_identifier,
    one_line,
    quote_identifier,
)

__all__ = [
    "MAX_EXAMPLES",
    "RENDERERS",
    "Column",
    "ForeignKey",
    "QuoteStyle",
    "SchemaInfo",
    "SchemaStyle",
    "Table",
    "ddl_identifier",
    "one_line",
    "quote_identifier",
    "read_description_csv",
    "read_schema",
    "render_ddl",
    "render_mschema",
    "render_mschema_plus",
    "render_schema",
    "shown_examples",
    "simple_type",
]

SchemaStyle = Literal["mschema", "mschema_plus", "ddl"]

DESCRIPTION_ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
"""Tried in order when reading BIRD's description CSVs (latin-1 decodes any byte string)."""


def decode_text(raw: bytes) -> str:
    """Bytes decoded with the first of :data:`DESCRIPTION_ENCODINGS` that fits.

    >>> decode_text(b"\\xef\\xbb\\xbfcaf\\xc3\\xa9"), decode_text(b"caf\\xe9")
    ('café', 'café')
    """
    for encoding in DESCRIPTION_ENCODINGS[:-1]:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode(DESCRIPTION_ENCODINGS[-1])


def read_description_csv(path: Path) -> dict[str, str]:
    """One BIRD ``database_description`` CSV as ``{column name (lower case): description}``.

    The description is ``column_description``, or the expanded ``column_name`` when that is empty and
    says more than the column's own name. Tolerates a BOM, cp1252/latin-1 files and missing columns.
    """
    text = decode_text(path.read_bytes())
    descriptions: dict[str, str] = {}
    reader = csv.DictReader(io.StringIO(text, newline=""))
    for row in reader:
        record = {one_line(k or "").lower(): one_line(v or "") for k, v in row.items() if isinstance(v, str)}
        original = record.get("original_column_name", "")
        if not original:
            continue
        description = record.get("column_description", "")
        expanded = record.get("column_name", "")
        if not description and expanded.lower() != original.lower():
            description = expanded
        descriptions[original.lower()] = description
    return descriptions


def _description_files(description_dir: Path | None) -> dict[str, Path]:
    if description_dir is None or not description_dir.is_dir():
        return {}
    return {
        p.stem.strip().lower(): p for p in sorted(description_dir.iterdir()) if p.suffix.lower() == ".csv"
    }


def read_schema(
    db_path: Path | str,
    db_id: str,
    description_dir: Path | None = None,
    max_examples: int = MAX_EXAMPLES,
) -> SchemaInfo:
    """The database reflected as XiYan's reference reflects it (:func:`~sqlensemble.reflect.reflect_schema`),
    with BIRD's column descriptions from ``description_dir`` when given; ``max_examples=0`` reads no
    example values (any other count reads the reference's five, the renderers choose).

    Opens the file read-only; raises :class:`CatalogError` when it is missing or not SQLite.
    """
    schema = reflect_schema(db_path, db_id, with_examples=max_examples > 0)
    files = _description_files(description_dir)
    if not files:
        return schema
    tables = []
    for table in schema.tables:
        csv_path = files.get(table.name.strip().lower())
        described = read_description_csv(csv_path) if csv_path else {}
        columns = tuple(
            replace(c, description=described.get(c.name.strip().lower(), "")) for c in table.columns
        )
        tables.append(replace(table, columns=columns))
    return replace(schema, tables=tuple(tables))


def _ddl_table(table: Table, foreign_keys: list[ForeignKey], max_examples: int | None) -> str:
    items: list[tuple[str, str]] = []  # (definition, comment)
    for column in table.columns:
        definition = " ".join(p for p in (ddl_identifier(column.name), one_line(column.ddl_type)) if p)
        note = column.description or column.comment
        notes = [one_line(note)] if note else []
        examples = shown_examples(column, max_examples)
        if examples:
            notes.append(f"examples: {', '.join(examples)}")
        items.append((definition, "; ".join(notes)))
    primary = [ddl_identifier(c.name) for c in table.columns if c.primary_key]
    if primary:
        items.append((f"PRIMARY KEY ({', '.join(primary)})", ""))
    for fk in foreign_keys:
        if fk.table == table.name:
            target = f"{ddl_identifier(fk.ref_table)}({ddl_identifier(fk.ref_column)})"
            items.append((f"FOREIGN KEY ({ddl_identifier(fk.column)}) REFERENCES {target}", ""))
    lines = [f"CREATE TABLE {ddl_identifier(table.name)} ("]
    for i, (definition, comment) in enumerate(items):
        line = f"  {definition}{',' if i < len(items) - 1 else ''}"
        lines.append(f"{line} -- {comment}" if comment else line)
    lines.append(");")
    return "\n".join(lines)


def render_ddl(schema: SchemaInfo, max_examples: int | None = None) -> str:
    """``CREATE TABLE`` statements, one per table, separated by a blank line (no trailing newline)."""
    foreign_keys = present_foreign_keys(schema)
    return "\n\n".join(_ddl_table(table, foreign_keys, max_examples) for table in schema.tables)


RENDERERS: dict[str, Callable[[SchemaInfo, int | None], str]] = {
    "mschema": render_mschema,
    "mschema_plus": render_mschema_plus,
    "ddl": render_ddl,
}


def render_schema(schema: SchemaInfo, style: SchemaStyle = "mschema", max_examples: int | None = None) -> str:
    """Render in the named style; an unknown style is a :class:`ConfigError`."""
    try:
        renderer = RENDERERS[style]
    except KeyError:
        raise ConfigError(f"unknown schema style {style!r}; choose from {', '.join(RENDERERS)}") from None
    return renderer(schema, max_examples)
