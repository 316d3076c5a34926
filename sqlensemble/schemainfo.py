"""Database schemas as values: what :mod:`sqlensemble.reflect` reads and the renderers show.

``Column.type`` is the type as SQLAlchemy's inspector names it (``INT`` → ``INTEGER``, no type →
``NULL``), which M-Schema prints; ``declared_type`` is the text the ``CREATE TABLE`` wrote, which DDL
and ``mschema_plus`` print. ``comment`` is the database's own comment (SQLite has none);
``description`` comes from BIRD's description CSVs. ``examples`` are the values the reader kept, in
the order it read them; each renderer chooses which of them to show.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from typing import Literal

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
    declared_type: str = ""
    comment: str = ""

    @property
    def ddl_type(self) -> str:
        """The declared type when the reader saw one, else ``type`` (values built by hand)."""
        return self.declared_type or self.type


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    comment: str = ""


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


def reorder(schema: SchemaInfo, seed: int | None) -> SchemaInfo:
    """The schema with its tables, and each table's columns, in an order drawn from ``seed`` and the
    database id; ``None`` leaves it as read (tables alphabetical, columns as declared).

    The order is the same in every process (a string seed is hashed the same way everywhere), so a
    generator trained on one seed's order is shown that order by the gateway. Different seeds give
    the generators of an ensemble different views of one schema, and so errors less alike.

    >>> info = SchemaInfo("d", tuple(Table(n, (Column("a", "TEXT"), Column("b", "TEXT"))) for n in "tuvw"))
    >>> [t.name for t in reorder(info, 3).tables] == [t.name for t in reorder(info, 3).tables]
    True
    >>> reorder(info, None) is info, sorted(t.name for t in reorder(info, 3).tables)
    (True, ['t', 'u', 'v', 'w'])
    """
    if seed is None:
        return schema
    rng = random.Random(f"{seed}:{schema.db_id}")
    tables = list(schema.tables)
    rng.shuffle(tables)
    shuffled = []
    for table in tables:
        columns = list(table.columns)
        rng.shuffle(columns)
        shuffled.append(replace(table, columns=tuple(columns)))
    return replace(schema, tables=tuple(shuffled))


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


def one_line(text: str) -> str:
    """Whitespace (newlines included) collapsed to single spaces.

    >>> one_line('  School\\n name,\\tfull ')
    'School name, full'
    """
    return _WHITESPACE.sub(" ", text).strip()
