"""Session fixtures shared by the end-to-end tests of every area.

``tiny_run`` builds, once per test session, what the real pipeline builds: a small synthetic BIRD
benchmark (``sqlensemble synth --size small``) and the four generators trained and merged on it with
the ``cpu-smoke`` preset (``sqlensemble train all``), so serving, gateway and eval tests can start real
engines on real merged models. The models are far too small to write good SQL; tests that need
accuracy train with ``cpu-tiny`` themselves. Treat the folders as read-only (copy before changing).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class TinyRun:
    data: Path  # the synthetic benchmark: data/train, data/dev (BIRD layout)
    run: Path  # the training run: datasets/, base/, adapters/, merged/
    manifest: Path  # run/generators.yaml

    @property
    def train(self) -> Path:
        return self.data / "train"

    @property
    def dev(self) -> Path:
        return self.data / "dev"


# Fixtures that train models: a test that asks for one is slow, marked or not, so `make test-fast`
# (``-m "not slow"``) can never start a training run.
TRAINING_FIXTURES = frozenset({"tiny_run"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if (
            TRAINING_FIXTURES & set(getattr(item, "fixturenames", ()))
            and item.get_closest_marker("slow") is None
        ):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def tiny_synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``sqlensemble synth --size small --seed 0`` in a session temp folder."""
    from sqlensemble.cli import main

    out = tmp_path_factory.mktemp("tiny_synth")
    assert main(["synth", "--out", str(out), "--size", "small", "--seed", "0"]) == 0
    return out


@pytest.fixture(scope="session")
def tiny_run(tiny_synth: Path, tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    """Four cpu-smoke generators trained and merged on ``tiny_synth`` (about a minute on 2 cores)."""
    from sqlensemble.cli import main

    run = tmp_path_factory.mktemp("tiny_run")
    argv = ["train", "all", "--preset", "cpu-smoke", "--data", str(tiny_synth / "train"), "--run", str(run)]
    assert main(argv) == 0
    manifest = run / "generators.yaml"
    assert manifest.is_file()
    return TinyRun(data=tiny_synth, run=run, manifest=manifest)
