"""Small synthetic benchmarks written once per session (``--size small``), in both split modes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sqlensemble.synth.writer import Summary, write_benchmark


@dataclass(frozen=True)
class Written:
    out: Path
    summary: Summary

    def records(self, split: str) -> list[dict[str, Any]]:
        return json.loads((self.out / split / f"{split}.json").read_text(encoding="utf-8"))

    def db_path(self, split: str, db_id: str) -> Path:
        return self.out / split / f"{split}_databases" / db_id / f"{db_id}.sqlite"


@pytest.fixture(scope="session")
def small_default(tmp_path_factory: pytest.TempPathFactory) -> Written:
    out = tmp_path_factory.mktemp("synth_default")
    return Written(out, write_benchmark(out, seed=0, size="small"))


@pytest.fixture(scope="session")
def small_cross(tmp_path_factory: pytest.TempPathFactory) -> Written:
    out = tmp_path_factory.mktemp("synth_cross")
    return Written(out, write_benchmark(out, seed=0, size="small", cross_domain=True))
