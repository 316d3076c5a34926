"""Fixtures for the training tests: a tiny BIRD-format split built from SQL text in ``data/``."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def build_bird_split(root: Path, split: str = "train") -> Path:
    """``root/<split>/<split>.json`` and ``<split>_databases/<db>/<db>.sqlite`` from ``data/*.sql``."""
    folder = root / split
    for script in sorted(DATA.glob("*.sql")):
        db_dir = folder / f"{split}_databases" / script.stem
        db_dir.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(db_dir / f"{script.stem}.sqlite")
        conn.executescript(script.read_text(encoding="utf-8"))
        conn.commit()
        conn.close()
    shutil.copy(DATA / "questions.json", folder / f"{split}.json")
    return folder


@pytest.fixture(scope="session")
def mini_bird(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-database, ten-question training split (read-only: copy before changing it)."""
    return build_bird_split(tmp_path_factory.mktemp("mini_bird"))
