"""The database catalog: listing, resolving only ids under the root, and the schema cache."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import sqlensemble.catalog as catalog_module
from sqlensemble.catalog import Catalog, Database
from sqlensemble.errors import CatalogError, ConfigError, UnknownDatabaseError
from sqlensemble.schema import SchemaInfo

from .conftest import build_database, expected


def test_db_ids_are_sorted_and_only_real_databases(bird_root: Path) -> None:
    assert Catalog(bird_root).db_ids() == ["flights", "school"]


def test_resolve(bird_root: Path) -> None:
    catalog = Catalog(bird_root)
    school = catalog.resolve("school")
    assert school == Database(
        "school", bird_root.resolve() / "school" / "school.sqlite", school.description_dir
    )
    assert school.description_dir == bird_root.resolve() / "school" / "database_description"
    assert catalog.resolve("flights").description_dir is None


@pytest.mark.parametrize(
    "db_id",
    [
        "",
        ".",
        "..",
        "../school",
        "school/../school",
        "school/school.sqlite",
        "/etc/passwd",
        "C:\\x",
        "..\\school",
        "school\x00",
        " school",
        "empty",
        "notes.txt",
        "SCHOOL",
        "missing",
    ],
)
def test_resolve_refuses_anything_not_listed(bird_root: Path, db_id: str) -> None:
    with pytest.raises(UnknownDatabaseError) as info:
        Catalog(bird_root).resolve(db_id)
    assert info.value.db_id == db_id


def test_unknown_database_lists_known_ids(bird_root: Path) -> None:
    with pytest.raises(UnknownDatabaseError, match="known: flights, school"):
        Catalog(bird_root).schema_text("missing")


def test_absolute_path_to_a_real_database_is_refused(bird_root: Path, tmp_path: Path) -> None:
    outside = build_database(
        Path(__file__).parent.parent / "fixtures" / "flights.sql", tmp_path / "o" / "o.sqlite"
    )
    with pytest.raises(UnknownDatabaseError):
        Catalog(bird_root).resolve(str(outside))


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_unusable_root(tmp_path: Path, kind: str) -> None:
    root = tmp_path / "root"
    if kind == "file":
        root.write_text("x")
    with pytest.raises(CatalogError, match="not a folder"):
        Catalog(root)


def test_schema_text_and_tables(bird_root: Path) -> None:
    catalog = Catalog(bird_root)
    assert catalog.schema_text("school") + "\n" == expected("school.mschema.txt")
    assert catalog.schema_text("school", style="ddl") + "\n" == expected("school.ddl.txt")
    assert catalog.tables("school") == ["district", "school", "test score"]
    assert "Examples" not in catalog.schema_text("school", max_examples=0)
    with pytest.raises(ConfigError, match="unknown schema style"):
        catalog.schema_text("school", style="xml")  # type: ignore[arg-type]


def _counting_reader(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = catalog_module.read_schema

    def counting(*args: object, **kwargs: object) -> SchemaInfo:
        calls.append(str(args[1]))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(catalog_module, "read_schema", counting)
    return calls


def test_schema_is_read_once_per_database_and_options(
    bird_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _counting_reader(monkeypatch)
    catalog = Catalog(bird_root)
    first = catalog.schema_text("school")
    assert catalog.schema_text("school") is first
    catalog.schema_text("school", style="ddl")
    catalog.schema("school")
    assert calls == ["school"]
    catalog.schema_text("school", max_examples=1)
    catalog.schema_text("flights")
    assert calls == ["school", "school", "flights"]


def test_cache_is_thread_safe(bird_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting_reader(monkeypatch)
    catalog = Catalog(bird_root)
    with ThreadPoolExecutor(max_workers=8) as pool:
        texts = list(pool.map(lambda i: catalog.schema_text(("school", "flights")[i % 2]), range(64)))
    assert set(texts[0::2]) == {catalog.schema_text("school")}
    assert set(texts[1::2]) == {catalog.schema_text("flights")}
    assert sorted(calls) == ["flights", "school"]


def test_changed_file_is_read_again(tmp_path: Path) -> None:
    root = tmp_path / "root"
    db = build_database(Path(__file__).parent.parent / "fixtures" / "flights.sql", root / "f" / "f.sqlite")
    catalog = Catalog(root)
    assert "gate" not in catalog.schema_text("f")
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE gate (code TEXT)")
    conn.close()
    assert "# Table: gate" in catalog.schema_text("f")
