"""``mschema`` is byte-identical to XiYan-SQL's reference M-Schema renderer.

The expected files ``tests/data/expected/mschema/<db>.txt`` are the reference's output, produced by
``tests/data/mschema/make_expected.py --reference DIR`` (through ``bench/mschema_parity.py --write``)
with XiYan-SQL at github.com/rezaarrazi/XiYan-SQL, commit 608ea7fac7f6d9612d5d1665c49a3b677c1c49bd,
``XiYan-SQLTraining/data/data_utils``: ``SchemaEngine(create_engine("sqlite:///<db>"), db_name=<db>)``
then ``.mschema.to_mschema()`` with its defaults (``example_num=3``, ``each_example_max_len=30``,
``comment_mode='origin'``), as its ``data_processing.py`` calls it; SQLAlchemy 2.1.9. The reference
imports llama-index only for the base class ``SQLDatabase``; the expected files were made with a
throwaway stand-in for that class holding the inspector and the sorted table names (llama-index
iterates a set of names, in hash order). The databases are built from ``tests/data/mschema/*.sql``,
``tests/fixtures/{school,flights}.sql`` and the synthetic benchmark's ``football_league``
(``sqlensemble synth --size small --seed 0``, dev).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlensemble.schema import read_schema, render_mschema, render_schema

from .conftest import EXPECTED, FIXTURES
from .fixtures_exec import build_database

SQL_DIR = Path(__file__).resolve().parent.parent / "data" / "mschema"
CASES = sorted(p.stem for p in (EXPECTED / "mschema").glob("*.txt"))
SYNTH = {"football_league": "dev"}


def _database(name: str, tmp_path: Path, tiny_synth: Path) -> Path:
    if name in SYNTH:
        return tiny_synth / SYNTH[name] / f"{SYNTH[name]}_databases" / name / f"{name}.sqlite"
    sql = SQL_DIR / f"{name}.sql"
    return build_database(sql if sql.is_file() else FIXTURES / f"{name}.sql", tmp_path / f"{name}.sqlite")


def test_every_fixture_has_an_expected_file() -> None:
    assert {p.stem for p in SQL_DIR.glob("*.sql")} | {"school", "flights", *SYNTH} == set(CASES)


@pytest.mark.parametrize("name", CASES)
def test_mschema_is_the_reference_text(name: str, tmp_path: Path, tiny_synth: Path) -> None:
    db = _database(name, tmp_path, tiny_synth)
    expected = (EXPECTED / "mschema" / f"{name}.txt").read_text(encoding="utf-8")
    assert render_mschema(read_schema(db, name)) == expected
    assert render_schema(read_schema(db, name), "mschema", 3) == expected


def test_bird_descriptions_do_not_change_mschema(bird_root: Path) -> None:
    db = bird_root / "school" / "school.sqlite"
    described = read_schema(db, "school", db.parent / "database_description")
    assert any(c.description for t in described.tables for c in t.columns)
    assert render_mschema(described) == (EXPECTED / "mschema" / "school.txt").read_text(encoding="utf-8")
    assert "name of the school" in render_schema(described, "mschema_plus")
