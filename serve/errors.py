"""Errors of ``sqlensemble serve``.

SqlEnsembleError
└── ServeError                 a process the supervisor runs failed
    └── StartupError           an engine or the gateway did not become healthy; names its log file
"""

from __future__ import annotations

from pathlib import Path

from sqlensemble.errors import SqlEnsembleError


class ServeError(SqlEnsembleError):
    """A supervised process failed."""


class StartupError(ServeError):
    """A process exited or stayed unhealthy while starting; the message points at its log."""

    def __init__(self, name: str, reason: str, log_path: Path, log_tail: str = "") -> None:
        self.name = name
        self.reason = reason
        self.log_path = log_path
        self.log_tail = log_tail
        super().__init__(f"{name} {reason}; see {log_path}")
