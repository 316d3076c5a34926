"""Database schemas as values, read from SQLite and rendered as the text the prompts carry.

A :class:`SchemaInfo` is read once from a database file (:func:`read_schema`) and rendered by pure
functions: :func:`render_mschema` (XiYan-SQL's M-Schema layout, the default) and :func:`render_ddl`
(``CREATE TABLE`` statements with comments). Rendering depends only on the ``SchemaInfo`` contents,
their order and ``max_examples``, so training can shuffle or drop tables, columns and foreign keys
and render the result with these same functions.

Example values are chosen deterministically: the first distinct non-null values in the table's
storage order (``NOT INDEXED`` scan: rowid order, or primary-key order for ``WITHOUT ROWID``
tables), leaving out blobs, empty strings, values longer than :data:`MAX_EXAMPLE_CHARS`
characters, values spanning several lines, and URLs.

>>> school = Table("school", (
...     Column("id", "INTEGER", "school id", ("1", "2"), True),
...     Column("District Id", "int", "", ("7",), False),
... ))
>>> district = Table("district", (Column("id", "INTEGER", "", (), True),))
>>> info = SchemaInfo("edu", (school, district), (ForeignKey("school", "District Id", "district", "id"),))
>>> print(render_mschema(info))
【DB_ID】 edu
【Schema】
# Table: school
[
(id:INTEGER, school id, Primary Key, Examples: [1, 2]),
(District Id:INT, Maps to district(id), Examples: [7])
]
# Table: district
[
(id:INTEGER, Primary Key)
]
【Foreign keys】
school.District Id=district.id
>>> print(render_ddl(info))
CREATE TABLE school (
  id INTEGER, -- school id; examples: 1, 2
  "District Id" int, -- examples: 7
  PRIMARY KEY (id),
  FOREIGN KEY ("District Id") REFERENCES district(id)
);
<BLANKLINE>
CREATE TABLE district (
  id INTEGER,
  PRIMARY KEY (id)
);
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlensemble.errors import CatalogError, ConfigError
from sqlensemble.readonly import readonly_uri

SchemaStyle = Literal["mschema", "ddl"]

MAX_EXAMPLES = 3
"""Example values read per column."""
MAX_EXAMPLE_CHARS = 50
"""Longer values are never used as examples."""
SHORT_EXAMPLE_CHARS = 20
"""As in XiYan's M-Schema: when any shown example is longer than this, only the first is shown."""
SINGLE_EXAMPLE_TYPES = frozenset({"DATE", "TIME", "DATETIME", "TIMESTAMP"})
"""As in XiYan's M-Schema: columns of these types show one example."""
DESCRIPTION_ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
"""Tried in order when reading BIRD's description CSVs (latin-1 decodes any byte string)."""

# Words that must be quoted when used as identifiers in DDL (SQLite's reserved words that matter).
RESERVED_WORDS = frozenset(
    """ABORT ACTION ADD ALL ALTER AND AS ASC BETWEEN BY CASE CHECK COLLATE COLUMN CONSTRAINT CREATE
    CROSS CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP DEFAULT DELETE DESC DISTINCT DROP ELSE END
    ESCAPE EXCEPT EXISTS FOREIGN FROM FULL GLOB GROUP HAVING IN INDEX INNER INSERT INTERSECT INTO IS
    ISNULL JOIN KEY LEFT LIKE LIMIT MATCH NATURAL NOT NOTNULL NULL OFFSET ON OR ORDER OUTER PRIMARY
    REFERENCES REGEXP RIGHT SELECT SET TABLE THEN TO TRANSACTION UNION UNIQUE UPDATE USING VALUES
    WHEN WHERE WINDOW WITH""".split()  # noqa: SIM905 (a word table)
)
_PLAIN_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str = ""
    examples: tuple[str, ...] = ()
    primary_key: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class ForeignKey:
    table: str
    column: str
    ref_table: str
    ref_column: str


@dataclass(frozen=True)
class SchemaInfo:
    db_id: str
    tables: tuple[Table, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()


# ---------------------------------------------------------------------------------------------
# reading


QuoteStyle = Literal["always", "bird"]


def quote_identifier(name: str, style: QuoteStyle = "always") -> str:
    """Quote an SQLite identifier.

    ``always``: double quotes every time (what the schema reader and the executor send).
    ``bird``: backticks around a name that is not a bare word only, as BIRD's gold SQL writes them
    (the synthetic benchmark's SQL).

    >>> quote_identifier('Enrollment (K-12)')
    '"Enrollment (K-12)"'
    >>> quote_identifier('a"b')
    '"a""b"'
    >>> quote_identifier("Grade Point Average", "bird"), quote_identifier("gpa", "bird")
    ('`Grade Point Average`', 'gpa')
    """
    if style == "bird":
        return name if _PLAIN_IDENTIFIER.fullmatch(name) else f"`{name}`"
    return '"' + name.replace('"', '""') + '"'


def ddl_identifier(name: str) -> str:
    """The identifier as DDL shows it: bare when that is unambiguous, quoted otherwise.

    >>> [ddl_identifier(n) for n in ("CDSCode", "School Name", "group", "1st")]
    ['CDSCode', '"School Name"', '"group"', '"1st"']
    """
    if _PLAIN_IDENTIFIER.fullmatch(name) and name.upper() not in RESERVED_WORDS:
        return name
    return quote_identifier(name)


def connect_readonly(db_path: Path | str) -> sqlite3.Connection:
    """A read-only, immutable connection (``sqlensemble.readonly``: creates no file, not even beside a WAL
    database); raises :class:`CatalogError` when it cannot open."""
    path = Path(db_path)
    if not path.is_file():
        raise CatalogError(f"no such database file: {path}")
    try:
        conn = sqlite3.connect(readonly_uri(path), uri=True, check_same_thread=False)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as e:
        raise CatalogError(f"not a usable SQLite database: {path}: {e}") from e
    return conn


def one_line(text: str) -> str:
    """Whitespace (newlines included) collapsed to single spaces.

    >>> one_line('  School\\n name,\\tfull ')
    'School name, full'
    """
    return _WHITESPACE.sub(" ", text).strip()


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


def _format_value(value: object) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _examples(conn: sqlite3.Connection, table: str, column: str, limit: int) -> tuple[str, ...]:
    if limit <= 0:
        return ()
    col = quote_identifier(column)
    text = f"CAST({col} AS TEXT)"
    sql = (
        f"SELECT DISTINCT {col} FROM {quote_identifier(table)} NOT INDEXED "
        f"WHERE {col} IS NOT NULL AND typeof({col}) != 'blob' AND trim({text}) != '' "
        f"AND length({text}) <= ? AND instr({text}, char(10)) = 0 AND instr({text}, char(13)) = 0 "
        f"AND lower({text}) NOT LIKE 'http://%' AND lower({text}) NOT LIKE 'https://%' "
        f"AND lower({text}) NOT LIKE 'www.%' LIMIT ?"
    )
    try:
        rows = conn.execute(sql, (MAX_EXAMPLE_CHARS, limit)).fetchall()
    except sqlite3.Error:
        return ()
    return tuple(_format_value(row[0]) for row in rows)


def _foreign_keys(conn: sqlite3.Connection, tables: dict[str, Table]) -> list[ForeignKey]:
    by_lower = {name.lower(): table for name, table in tables.items()}
    keys: list[ForeignKey] = []
    for name in tables:
        rows = conn.execute(
            'SELECT "table", "from", "to" FROM pragma_foreign_key_list(?) ORDER BY id, seq', (name,)
        ).fetchall()
        for position, (ref_name, column, ref_column) in enumerate(rows):
            ref = by_lower.get(str(ref_name).lower())
            ref_table = ref.name if ref else str(ref_name)
            if ref_column is None:  # REFERENCES parent without columns: the parent's primary key
                pk = [c.name for c in ref.columns if c.primary_key] if ref else []
                if not pk:
                    continue
                ref_column = pk[min(position, len(pk) - 1)]
            elif ref is not None:
                ref_column = next(
                    (c.name for c in ref.columns if c.name.lower() == ref_column.lower()), ref_column
                )
            keys.append(ForeignKey(name, column, ref_table, ref_column))
    return keys


def read_schema(
    db_path: Path | str,
    db_id: str,
    description_dir: Path | None = None,
    max_examples: int = MAX_EXAMPLES,
) -> SchemaInfo:
    """Read tables (in creation order), columns, primary and foreign keys, examples and descriptions.

    Opens the file read-only; raises :class:`CatalogError` when it is missing or not SQLite.
    """
    conn = connect_readonly(db_path)
    try:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid"
            )
        ]
        descriptions = _description_files(description_dir)
        tables: dict[str, Table] = {}
        for name in names:
            try:
                info = conn.execute("SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid", (name,))
                column_rows = info.fetchall()
            except sqlite3.Error:  # e.g. a virtual table whose module is not loaded
                continue
            csv_path = descriptions.get(name.strip().lower())
            described = read_description_csv(csv_path) if csv_path else {}
            columns = tuple(
                Column(
                    name=col,
                    type=(col_type or "").strip().upper(),
                    description=described.get(col.strip().lower(), ""),
                    examples=_examples(conn, name, col, max_examples),
                    primary_key=bool(pk),
                )
                for col, col_type, pk in column_rows
            )
            tables[name] = Table(name, columns)
        foreign_keys = _foreign_keys(conn, tables)
    except sqlite3.DatabaseError as e:
        raise CatalogError(f"cannot read schema of {db_path}: {e}") from e
    finally:
        conn.close()
    return SchemaInfo(db_id, tuple(tables.values()), tuple(foreign_keys))


# ---------------------------------------------------------------------------------------------
# rendering


def _present_foreign_keys(schema: SchemaInfo) -> list[ForeignKey]:
    """Foreign keys whose both ends are columns of the schema (augmentation may drop either)."""
    columns = {(t.name, c.name) for t in schema.tables for c in t.columns}
    return [
        fk
        for fk in schema.foreign_keys
        if (fk.table, fk.column) in columns and (fk.ref_table, fk.ref_column) in columns
    ]


def simple_type(declared: str) -> str:
    """The declared type without its size, upper case, ``ANY`` when there is none.

    >>> simple_type('varchar(255)'), simple_type(''), simple_type('unsigned big int')
    ('VARCHAR', 'ANY', 'UNSIGNED BIG INT')
    """
    return declared.split("(")[0].strip().upper() or "ANY"


def shown_examples(column: Column, max_examples: int | None = None) -> tuple[str, ...]:
    """The examples a rendering shows: at most ``max_examples``, then XiYan's brevity rules.

    >>> shown_examples(Column("d", "DATE", examples=("2020-01-01", "2021-01-01")))
    ('2020-01-01',)
    >>> shown_examples(Column("n", "TEXT", examples=("Oak", "Lincoln High School of Arts")))
    ('Oak',)
    >>> shown_examples(Column("n", "INTEGER", examples=("1", "2", "3")), max_examples=2)
    ('1', '2')
    """
    examples = column.examples if max_examples is None else column.examples[: max(max_examples, 0)]
    if examples and (
        simple_type(column.type) in SINGLE_EXAMPLE_TYPES or max(map(len, examples)) > SHORT_EXAMPLE_CHARS
    ):
        return examples[:1]
    return examples


def _mschema_column(column: Column, refs: list[ForeignKey], max_examples: int | None) -> str:
    parts = [f"{column.name}:{simple_type(column.type)}"]
    if column.description:
        parts.append(one_line(column.description))
    if column.primary_key:
        parts.append("Primary Key")
    parts += [f"Maps to {fk.ref_table}({fk.ref_column})" for fk in refs]
    examples = shown_examples(column, max_examples)
    if examples:
        parts.append(f"Examples: [{', '.join(examples)}]")
    return "(" + ", ".join(parts) + ")"


def render_mschema(schema: SchemaInfo, max_examples: int | None = None) -> str:
    """XiYan-SQL's M-Schema text (no trailing newline); see the module docstring for an example."""
    foreign_keys = _present_foreign_keys(schema)
    lines = [f"【DB_ID】 {schema.db_id}", "【Schema】"]
    for table in schema.tables:
        lines += [f"# Table: {table.name}", "["]
        column_lines = [
            _mschema_column(
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


def _ddl_table(table: Table, foreign_keys: list[ForeignKey], max_examples: int | None) -> str:
    items: list[tuple[str, str]] = []  # (definition, comment)
    for column in table.columns:
        definition = " ".join(p for p in (ddl_identifier(column.name), one_line(column.type)) if p)
        notes = [one_line(column.description)] if column.description else []
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
    foreign_keys = _present_foreign_keys(schema)
    return "\n\n".join(_ddl_table(table, foreign_keys, max_examples) for table in schema.tables)


RENDERERS: dict[str, Callable[[SchemaInfo, int | None], str]] = {
    "mschema": render_mschema,
    "ddl": render_ddl,
}


def render_schema(schema: SchemaInfo, style: SchemaStyle = "mschema", max_examples: int | None = None) -> str:
    """Render in the named style; an unknown style is a :class:`ConfigError`."""
    try:
        renderer = RENDERERS[style]
    except KeyError:
        raise ConfigError(f"unknown schema style {style!r}; choose from {', '.join(RENDERERS)}") from None
    return renderer(schema, max_examples)
