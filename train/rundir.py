"""The run folder: every path training writes under ``RUN``, and whether each stage is done.

    RUN/datasets/<name>.jsonl                 assemble: one per generator (+ base.jsonl for a built base)
    RUN/base/                                 train base: done when it holds config.json
    RUN/base-train/, RUN/base.tmp/            the base's work and staging folders
    RUN/adapters/<name>/                      sft: checkpoints and training.log
    RUN/adapters/<name>/checkpoint-final/     sft: done when it holds adapter_config.json
    RUN/adapters/<name>/tensorboard/          sft: TensorBoard event files (with report_to: tensorboard)
    RUN/merged/<name>/                        merge: done when it holds config.json
    RUN/generators.yaml                       the manifest (:mod:`sqlensemble.manifest`)

Every module of ``sqlensemble.train`` takes its paths from here, and ``train all`` asks the ``*_done``
functions which stages to skip, so a layout change is one edit.

>>> run = Path("runs/x")
>>> str(final_adapter(run, "g1")), str(merged_dir(run, "g1")), str(manifest_path(run))
('runs/x/adapters/g1/checkpoint-final', 'runs/x/merged/g1', 'runs/x/generators.yaml')
>>> adapter_done(run, "g1"), merged_done(run, "g1"), base_done(run)
(False, False, False)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from sqlensemble.manifest import ADAPTERS_DIR, BASE_DIR, FINAL_CHECKPOINT, MERGED_DIR
from sqlensemble.train.errors import MissingInputError

DATASETS_DIR = "datasets"
BASE_DATASET = "base"  # RUN/datasets/base.jsonl: the built base's pretraining examples
MANIFEST_FILE = "generators.yaml"


def datasets_dir(run: Path) -> Path:
    return run / DATASETS_DIR


def dataset_path(datasets: Path, name: str) -> Path:
    """``<datasets>/<name>.jsonl`` (``datasets`` is ``RUN/datasets`` or a folder given to ``assemble``)."""
    return datasets / f"{name}.jsonl"


def base_dir(run: Path) -> Path:
    return run / BASE_DIR


def base_work_dir(run: Path) -> Path:
    return run / "base-train"


def base_staging_dir(run: Path) -> Path:
    return run / "base.tmp"


def adapter_dir(run: Path, name: str) -> Path:
    return run / ADAPTERS_DIR / name


def final_adapter(run: Path, name: str) -> Path:
    return adapter_dir(run, name) / FINAL_CHECKPOINT


def tensorboard_dir(run: Path, name: str) -> Path:
    return adapter_dir(run, name) / "tensorboard"


def merged_dir(run: Path, name: str) -> Path:
    return run / MERGED_DIR / name


def manifest_path(run: Path) -> Path:
    return run / MANIFEST_FILE


def datasets_done(run: Path, names: Iterable[str]) -> bool:
    """Every named dataset has been assembled."""
    return all(dataset_path(datasets_dir(run), name).is_file() for name in names)


def base_done(run: Path) -> bool:
    return (base_dir(run) / "config.json").is_file()


def adapter_done(run: Path, name: str) -> bool:
    return (final_adapter(run, name) / "adapter_config.json").is_file()


def merged_done(run: Path, name: str) -> bool:
    return (merged_dir(run, name) / "config.json").is_file()


def check_run_folder(run: Path) -> None:
    """Refuse a run folder that is a file, or that cannot be created or written, before any work.

    >>> check_run_folder(Path("/proc/version"))
    Traceback (most recent call last):
    ...
    sqlensemble.train.errors.MissingInputError: run folder /proc/version is a file, not a folder
    """
    if run.exists() and not run.is_dir():
        raise MissingInputError(f"run folder {run} is a file, not a folder")
    existing = run
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise MissingInputError(f"run folder {run}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise MissingInputError(f"run folder {run}: {existing} is not writable")
