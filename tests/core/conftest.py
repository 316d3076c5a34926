"""Fixtures for the shared-core tests: a BIRD-layout database root built from SQL text files."""

from __future__ import annotations

from pathlib import Path

import pytest

from .fixtures_exec import build_database

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
EXPECTED = Path(__file__).resolve().parent.parent / "data" / "expected"
DATABASES = ("school", "flights")
# How each description CSV is written, as real BIRD files come in several encodings.
DESCRIPTION_ENCODINGS = {"school.csv": "utf-8-sig", "district.csv": "latin-1"}


@pytest.fixture(scope="session")
def bird_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<root>/<db_id>/<db_id>.sqlite`` for each fixture database, plus school's descriptions."""
    root = tmp_path_factory.mktemp("bird")
    for db_id in DATABASES:
        build_database(FIXTURES / f"{db_id}.sql", root / db_id / f"{db_id}.sqlite")
    descriptions = root / "school" / "database_description"
    descriptions.mkdir()
    for name, encoding in DESCRIPTION_ENCODINGS.items():
        text = (FIXTURES / "school_description" / name).read_text(encoding="utf-8")
        (descriptions / name).write_bytes(text.encode(encoding))
    # Not databases: a folder without its .sqlite file and a stray file.
    (root / "empty").mkdir()
    (root / "notes.txt").write_text("not a database\n")
    return root


@pytest.fixture()
def school_db(bird_root: Path) -> Path:
    return bird_root / "school" / "school.sqlite"


def expected(name: str) -> str:
    return (EXPECTED / name).read_text(encoding="utf-8")
