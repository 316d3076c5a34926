"""Domains, variants and the databases written for them."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

from sqlensemble.schema import quote_identifier
from sqlensemble.synth.data import generate_tables
from sqlensemble.synth.database import DESCRIPTION_HEADER, write_database
from sqlensemble.synth.domains import load_domains
from sqlensemble.synth.variants import make_variants
from sqlensemble.synth.writer import SIZES


def test_at_least_eight_domains_of_three_to_six_tables() -> None:
    domains = load_domains()
    assert len(domains) >= 8
    for d in domains:
        assert 3 <= len(d.tables) <= 6
        assert d.thresholds, d.key
        for t in d.tables:
            assert len(t.by_role("pk")) == 1


def test_default_size_has_at_least_24_databases_with_distinct_identifiers() -> None:
    variants = make_variants(load_domains(), SIZES["default"].per_domain, seed=0)
    assert len(variants) >= 24
    assert len({v.db_id for v in variants}) == len(variants)
    for d in load_domains():
        mine = [v for v in variants if v.domain.key == d.key]
        assert len({v.tables for v in mine}) == len(mine)  # each variant renames its tables
        assert len({v.columns for v in mine}) == len(mine)
    names = [name for v in variants for _, name in v.columns]
    assert any(quote_identifier(n, "bird") != n for n in names)  # some need quoting (spaces), as BIRD's do
    assert any(n != n.lower() and " " not in n for n in names)  # and some are mixed case


def test_rows_are_deterministic_and_realistically_sized() -> None:
    variant = make_variants(load_domains(), 2, seed=5)[1]
    tables = generate_tables(variant)
    assert tables == generate_tables(variant)
    other = make_variants(load_domains(), 2, seed=6)[1]
    assert generate_tables(other)["E"].rows != tables["E"].rows
    sizes = {role: len(t.rows) for role, t in tables.items()}
    assert all(n >= 20 for n in sizes.values())
    assert sizes["E"] >= 500 and sizes["F"] >= 2000


def test_written_database_has_keys_rows_and_descriptions(tmp_path: Path) -> None:
    variant = make_variants(load_domains(), 3, seed=0)[2]
    tables = generate_tables(variant, scale=0.2)
    path = write_database(tmp_path / variant.db_id, variant, tables)
    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert len(names) == len(variant.domain.tables)
        fks = sum(
            len(conn.execute(f"PRAGMA foreign_key_list({quote_identifier(n, 'bird')})").fetchall())
            for n in names
        )
        assert fks == 3
        for role, data in tables.items():
            table = quote_identifier(variant.table_name(role), "bird")  # type: ignore[arg-type]
            assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == len(data.rows)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()
    for name in names:
        with (path.parent / "database_description" / f"{name}.csv").open(encoding="utf-8") as f:
            rows = list(csv.reader(f))
        assert tuple(rows[0]) == DESCRIPTION_HEADER
        assert all(row[1] and row[2] and row[3] for row in rows[1:])
    described = "".join(
        (path.parent / "database_description").joinpath(f"{n}.csv").read_text() for n in names
    )
    assert "stands for" in described and "format: YYYY-MM-DD" in described
