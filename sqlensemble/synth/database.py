"""Write one variant as a BIRD database folder: ``<db_id>.sqlite`` and ``database_description/*.csv``.

The SQLite file is written by the same statements in the same order on every run (one transaction,
rows in generation order), so one seed gives byte-identical files.
"""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

from sqlensemble.schema import quote_identifier
from sqlensemble.synth.data import TableData
from sqlensemble.synth.domains import ColumnSpec, TableSpec
from sqlensemble.synth.variants import Variant

DESCRIPTION_HEADER = (
    "original_column_name",
    "column_name",
    "column_description",
    "data_format",
    "value_description",
)
_FORMATS = {"INTEGER": "integer", "REAL": "real", "TEXT": "text", "DATE": "date"}


def create_table_sql(variant: Variant, table: TableSpec) -> str:
    """The ``CREATE TABLE`` statement of one table, keys declared as BIRD's schemas declare them."""

    def q(name: str) -> str:
        return quote_identifier(name, "bird")

    lines = []
    fks = []
    for col in table.columns:
        name = q(variant.column_name(table.role, col.key))
        suffix = " PRIMARY KEY" if col.role == "pk" else ""
        lines.append(f"    {name} {col.type}{suffix}")
        if col.role == "fk" and col.ref is not None:
            ref = variant.domain.table(col.ref)
            ref_pk = ref.by_role("pk")[0]
            fks.append(
                f"    FOREIGN KEY ({name}) REFERENCES {q(variant.table_name(col.ref))}"
                f" ({q(variant.column_name(col.ref, ref_pk.key))})"
            )
    body = ",\n".join(lines + fks)
    return f"CREATE TABLE {q(variant.table_name(table.role))}\n(\n{body}\n);"


def write_sqlite(path: Path, variant: Variant, tables: dict[str, TableData]) -> None:
    """Create ``path`` afresh with every table of ``variant`` and its rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        for data in tables.values():
            conn.execute(create_table_sql(variant, data.spec))
            marks = ", ".join("?" for _ in data.spec.columns)
            table = quote_identifier(variant.table_name(data.spec.role), "bird")
            conn.executemany(f"INSERT INTO {table} VALUES ({marks})", data.rows)
        conn.execute("COMMIT")
    finally:
        conn.close()


def _value_description(variant: Variant, col: ColumnSpec) -> str:
    if col.role == "code":
        return "; ".join(f"'{code}' stands for {meaning}" for code, meaning in col.codes)
    if col.role == "fk" and col.ref is not None:
        ref_pk = variant.domain.table(col.ref).by_role("pk")[0]
        return f"references {variant.table_name(col.ref)}.{variant.column_name(col.ref, ref_pk.key)}"
    if col.type == "DATE":
        return "format: YYYY-MM-DD"
    if col.unit:
        return f"unit: {col.unit}"
    return ""


def write_descriptions(folder: Path, variant: Variant) -> None:
    """One ``<table>.csv`` per table with column and value descriptions, in BIRD's columns."""
    folder.mkdir(parents=True, exist_ok=True)
    for table in variant.domain.tables:
        path = folder / f"{variant.table_name(table.role)}.csv"
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(DESCRIPTION_HEADER)
            for col in table.columns:
                writer.writerow(
                    (
                        variant.column_name(table.role, col.key),
                        col.noun,
                        col.desc,
                        _FORMATS[col.type],
                        _value_description(variant, col),
                    )
                )


def write_database(folder: Path, variant: Variant, tables: dict[str, TableData]) -> Path:
    """Write ``folder/<db_id>.sqlite`` and its descriptions; return the SQLite path."""
    path = folder / f"{variant.db_id}.sqlite"
    write_sqlite(path, variant, tables)
    write_descriptions(folder / "database_description", variant)
    return path
