"""A SQLite database reflected into a :class:`~sqlensemble.schemainfo.SchemaInfo`, the way XiYan-SQL's
reference M-Schema builder reflects it.

The reference (``SchemaEngine.init_mschema`` in XiYan-SQL's training code) reads everything through
SQLAlchemy's inspector, so this module does too: tables in the order ``get_table_names()`` gives
(alphabetical on SQLite), column types as SQLAlchemy names them (``str(column["type"])``: ``INT`` →
``INTEGER``, no type → ``NULL``, ``LONG`` → ``NUMERIC``), primary keys from ``get_pk_constraint``,
foreign keys from ``get_foreign_keys`` (one :class:`ForeignKey` per column pair, as written in the
``REFERENCES`` clause), table and column comments where the dialect has them. Example values come
from the reference's own query, ``select distinct `col` from `table` where `col` is not null limit 5;``
(same text, so same row order; a name SQLite cannot parse in backticks gets no examples), and are
kept or dropped by :func:`example_strings`. The file is opened read-only and immutable
(:mod:`sqlensemble.readonly`).
"""

from __future__ import annotations

import datetime
import decimal
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.engine.reflection import Inspector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from sqlensemble.errors import CatalogError
from sqlensemble.readonly import readonly_uri
from sqlensemble.schemainfo import Column, ForeignKey, SchemaInfo, Table

EXAMPLE_ROWS = 5
"""Distinct values the reference's example query reads per column (``limit 5``)."""
_EMAIL = re.compile(r"^[\w\.-]+@[\w\.-]+\.\w+$")


def example_strings(values: Sequence[object]) -> tuple[str, ...]:
    """Example values as the reference keeps them: scanning in order, a date or time ends the list
    with that one value, a decimal becomes its float, and an e-mail address or a value containing
    ``http://``/``https://`` empties the whole list; then NULLs and empty strings are left out.

    >>> example_strings([3, "", None, 1.5, "Oak"])
    ('3', '1.5', 'Oak')
    >>> example_strings(["a", "see https://x.org", "b"]), example_strings(["x", "ann@example.com"])
    ((), ())
    >>> example_strings([decimal.Decimal("2.50"), datetime.date(2020, 1, 2), 7])
    ('2020-01-02',)
    >>> example_strings([b"\\x00\\x01"])
    ("b'\\\\x00\\\\x01'",)
    """
    kept = list(values)
    for i, value in enumerate(kept):
        if isinstance(value, datetime.date):  # datetime.datetime included
            kept = [value]
            break
        if isinstance(value, decimal.Decimal):
            kept[i] = str(float(value))
        elif _EMAIL.match(str(value)) or "http://" in str(value) or "https://" in str(value):
            kept = []
            break
    return tuple(str(v) for v in kept if v is not None and len(str(v)) > 0)


def _examples(conn: Connection, table: str, column: str) -> tuple[str, ...]:
    sql = f"select distinct `{column}` from `{table}` where `{column}` is not null limit {EXAMPLE_ROWS};"
    try:
        rows = conn.execute(text(sql)).fetchall()
    except (SQLAlchemyError, sqlite3.Error, ValueError):  # e.g. a backtick in a name, bad UTF-8
        return ()
    return example_strings([row[0] for row in rows])


def _declared_types(conn: Connection, table: str) -> dict[str, str]:
    rows = conn.exec_driver_sql("SELECT name, type FROM pragma_table_info(?)", (table,)).fetchall()
    return {str(name): str(declared or "").strip().upper() for name, declared in rows}


def _table_comment(inspector: Inspector, table: str) -> str:
    try:
        comment = inspector.get_table_comment(table)["text"]
    except NotImplementedError:  # SQLite keeps no comments
        return ""
    return "" if comment is None else comment.strip()


def _reflect_table(
    inspector: Inspector, conn: Connection, name: str, with_examples: bool
) -> tuple[Table, list[ForeignKey]]:
    primary = inspector.get_pk_constraint(name)["constrained_columns"]
    keys = [
        ForeignKey(name, column, fk["referred_table"], ref_column)
        for fk in inspector.get_foreign_keys(name)
        if fk.get("referred_schema") is None
        for column, ref_column in zip(fk["constrained_columns"], fk["referred_columns"], strict=False)
    ]
    declared = _declared_types(conn, name)
    columns = tuple(
        Column(
            name=col["name"],
            type=str(col["type"]),
            examples=_examples(conn, name, col["name"]) if with_examples else (),
            primary_key=col["name"] in primary,
            declared_type=declared.get(col["name"], ""),
            comment=(col.get("comment") or "").strip(),
        )
        for col in inspector.get_columns(name)
    )
    return Table(name, columns, _table_comment(inspector, name)), keys


def reflect_schema(db_path: Path | str, db_id: str, *, with_examples: bool = True) -> SchemaInfo:
    """Tables, columns, keys, comments and (unless ``with_examples`` is false) example values.

    Raises :class:`CatalogError` when the file is missing or not a usable SQLite database. A table the
    inspector cannot read (a virtual table whose module is not loaded) is left out.
    """
    path = Path(db_path)
    if not path.is_file():
        raise CatalogError(f"no such database file: {path}")
    uri = readonly_uri(path)
    engine = create_engine(
        "sqlite://",
        creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False),
        poolclass=NullPool,
    )
    tables: list[Table] = []
    foreign_keys: list[ForeignKey] = []
    try:
        with engine.connect() as conn:
            inspector = inspect(conn)
            names = inspector.get_table_names()
            for name in names:
                try:
                    table, keys = _reflect_table(inspector, conn, name, with_examples)
                except SQLAlchemyError:
                    continue
                tables.append(table)
                foreign_keys += keys
    except SQLAlchemyError as e:
        raise CatalogError(f"not a usable SQLite database: {path}: {e.__cause__ or e}") from e
    finally:
        engine.dispose()
    return SchemaInfo(db_id, tuple(tables), tuple(foreign_keys))
