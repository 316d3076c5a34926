"""Errors of the training pipeline; the CLI turns each into a one-line message.

SqlEnsembleError
└── TrainError                 anything training refuses to start with
    ├── PresetError            an unknown preset or a bad value in one
    ├── UnknownGeneratorError  a generator name that is not in augment_levels.yaml
    ├── MissingInputError      a data folder, dataset, base model or adapter that is not there
    └── StepFailedError        a process a step started (the selector's stack, a launch) failed
"""

from __future__ import annotations

from sqlensemble.errors import SqlEnsembleError


class TrainError(SqlEnsembleError):
    """Root of the errors the training pipeline raises on purpose."""


class PresetError(TrainError):
    """A preset that does not exist or does not validate."""


class UnknownGeneratorError(TrainError):
    """A generator name that is not one of the configured generators."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        super().__init__(f"unknown generator {name!r}; known: {', '.join(known)}")


class MissingInputError(TrainError):
    """An input file or folder the step needs is not there."""


class StepFailedError(TrainError):
    """A process a training step started failed: the selector's data-pass stack or evaluation, a launch."""
