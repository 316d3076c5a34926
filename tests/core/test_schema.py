"""Schema reading and rendering, pinned by expected-output files."""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from sqlensemble.errors import CatalogError, ConfigError
from sqlensemble.mschema import mschema_examples
from sqlensemble.schema import (
    Column,
    ForeignKey,
    SchemaInfo,
    Table,
    read_description_csv,
    read_schema,
    render_ddl,
    render_mschema,
    render_mschema_plus,
    render_schema,
)

from .conftest import expected


@pytest.fixture()
def school(school_db: Path) -> SchemaInfo:
    return read_schema(school_db, "school", school_db.parent / "database_description")


def _table(schema: SchemaInfo, name: str) -> Table:
    return next(t for t in schema.tables if t.name == name)


def _column(schema: SchemaInfo, table: str, name: str) -> Column:
    return next(c for c in _table(schema, table).columns if c.name == name)


def test_mschema_matches_expected_file(school: SchemaInfo) -> None:
    assert render_mschema(school) + "\n" == expected("school.mschema.txt")


def test_mschema_plus_matches_expected_file(school: SchemaInfo) -> None:
    assert render_mschema_plus(school) + "\n" == expected("school.mschema_plus.txt")


def test_ddl_matches_expected_file(school: SchemaInfo) -> None:
    assert render_ddl(school) + "\n" == expected("school.ddl.txt")


def test_ddl_executes_in_sqlite(school: SchemaInfo) -> None:
    conn = sqlite3.connect(":memory:")
    conn.executescript(render_ddl(school))
    names = [
        row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid")
    ]
    assert names == ["district", "school", "test score"]
    fks = conn.execute('SELECT "table", "from", "to" FROM pragma_foreign_key_list(\'test score\')').fetchall()
    assert sorted(fks) == [("district", "district", "district_id"), ("school", "cds", "CDSCode")]


def test_tables_columns_and_keys(school: SchemaInfo) -> None:
    assert [t.name for t in school.tables] == ["district", "school", "test score"]
    assert [c.name for c in _table(school, "test score").columns] == [
        "cds",
        "year",
        "AvgScrMath",
        "group",
        "district",
    ]
    assert [c.name for c in _table(school, "test score").columns if c.primary_key] == ["cds", "year"]
    assert _column(school, "district", "County").type == "VARCHAR(40)"
    assert _column(school, "district", "County").declared_type == "VARCHAR(40)"
    # Kept as written ("REFERENCES SCHOOL (cdscode)"), as the inspector gives it; "REFERENCES district"
    # names the parent's primary key.
    assert ForeignKey("test score", "cds", "SCHOOL", "cdscode") in school.foreign_keys
    assert ForeignKey("test score", "district", "district", "district_id") in school.foreign_keys


def test_examples_are_distinct_non_null_and_leave_out_urls(school: SchemaInfo) -> None:
    assert _column(school, "school", "Website").examples == ()
    mission = _column(school, "school", "Mission")
    assert mission.examples[1:] == ("Learn.", "Grow.", "Thrive\ntogether.")  # all read, long ones too
    assert mschema_examples(mission) == ("Learn.", "Grow.")  # the long one left out when shown
    assert _column(school, "school", "Enrollment (K-12)").examples == ("1250.5", "410.0", "88.0")
    assert _column(school, "test score", "group").examples == ("all", "grade 5")  # NULL and '' left out
    assert all(len(c.examples) <= 5 for t in school.tables for c in t.columns)


def test_examples_are_deterministic_and_limited(school_db: Path) -> None:
    first = read_schema(school_db, "school")
    assert first == read_schema(school_db, "school")
    assert _column(first, "district", "district_id").examples == ("3", "5", "7", "12")
    assert all(
        c.examples == () for t in read_schema(school_db, "school", max_examples=0).tables for c in t.columns
    )


def test_descriptions_from_csvs(school: SchemaInfo, school_db: Path) -> None:
    assert _column(school, "school", "School Name").description == "name of the school"  # newline collapsed
    assert _column(school, "school", "OpenDate").description == "open date"  # expanded name as fallback
    assert _column(school, "school", "Website").description == ""
    # latin-1 file without data_format / value_description; trailing space in a column name matched
    assert (
        _column(school, "district", "District Name").description == "Name of the district, e.g. Café Unified"
    )
    assert _column(school, "school", "Enrollment (K-12)").description.startswith("Enrollment, kindergarten")
    assert all(c.description == "" for t in read_schema(school_db, "school").tables for c in t.columns)


@pytest.mark.parametrize(
    ("encoding", "description"),
    [
        ("utf-8", "“Crème” brûlée"),
        ("utf-8-sig", "“Crème” brûlée"),
        ("cp1252", "“Crème” brûlée"),  # curly quotes are bytes 0x93/0x94 here, invalid UTF-8
        ("latin-1", "«Crème» brûlée"),
    ],
)
def test_description_csv_encodings(tmp_path: Path, encoding: str, description: str) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(f"original_column_name,column_description\nnaïve ,{description}\n".encode(encoding))
    assert read_description_csv(path) == {"naïve": description}


def test_reading_does_not_modify_the_file(school_db: Path) -> None:
    before = hashlib.sha256(school_db.read_bytes()).hexdigest()
    read_schema(school_db, "school")
    assert hashlib.sha256(school_db.read_bytes()).hexdigest() == before


def test_missing_or_invalid_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="no such database file"):
        read_schema(tmp_path / "nope.sqlite", "nope")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database, just some bytes " * 40)
    with pytest.raises(CatalogError, match="not a usable SQLite database"):
        read_schema(junk, "junk")


def test_rendering_depends_only_on_contents_and_order(school: SchemaInfo) -> None:
    tables = list(reversed(school.tables))
    shuffled = replace(school, tables=tuple(tables), foreign_keys=tuple(reversed(school.foreign_keys)))
    text = render_mschema(shuffled)
    assert [line.split("# Table: ")[1] for line in text.splitlines() if line.startswith("# Table")] == [
        t.name for t in tables
    ]
    fk_lines = text.split("【Foreign keys】\n")[1].splitlines()
    assert fk_lines == [
        f"{fk.table}.{fk.column}={fk.ref_table}.{fk.ref_column}" for fk in shuffled.foreign_keys
    ]
    assert render_mschema(shuffled) == text  # pure: same input, same text


def test_dropped_table_drops_its_foreign_keys_in_the_extended_styles(school: SchemaInfo) -> None:
    without_district = replace(school, tables=tuple(t for t in school.tables if t.name != "district"))
    text = render_mschema_plus(without_district)
    assert "district.district_id" not in text and "Maps to district" not in text
    assert "test score.cds=school.CDSCode" in text
    assert "REFERENCES district" not in render_ddl(without_district)
    # M-Schema prints the foreign keys it is given, even dangling ones, as the reference does.
    assert "test score.district=district.district_id" in render_mschema(without_district)


def test_max_examples_when_rendering(school: SchemaInfo) -> None:
    assert "Examples" not in render_mschema(school, max_examples=0)
    one = render_mschema(school, max_examples=1)
    assert "(district_id:INTEGER, Primary Key, Examples: [3])" in one
    plus = render_mschema_plus(school, max_examples=1)
    assert "(district_id:INTEGER, district identifier, Primary Key, Examples: [3])" in plus
    assert "examples:" not in render_ddl(school, max_examples=0)


def test_render_schema_styles(school: SchemaInfo) -> None:
    assert render_schema(school, "mschema") == render_mschema(school)
    assert render_schema(school, "mschema_plus") == render_mschema_plus(school)
    assert render_schema(school, "ddl") == render_ddl(school)
    with pytest.raises(ConfigError, match="mschema, mschema_plus, ddl"):
        render_schema(school, "json")  # type: ignore[arg-type]


def test_empty_database(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    sqlite3.connect(path).close()
    info = read_schema(path, "empty")
    assert info == SchemaInfo("empty", (), ())
    assert render_mschema(info) == "【DB_ID】 empty\n【Schema】"
    assert render_ddl(info) == ""
