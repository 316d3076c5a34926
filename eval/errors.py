"""Errors of the evaluator; each one is a user-facing, one-line message at the CLI.

SqlEnsembleError
└── EvalError                 an evaluation cannot start or go on
    ├── GatewayCallError      the gateway is unreachable, does not serve the model, or a call failed
    └── RunDirError           RUN_DIR holds a run that cannot be resumed with these arguments
"""

from __future__ import annotations

from sqlensemble.errors import SqlEnsembleError


class EvalError(SqlEnsembleError):
    """Root of the evaluator's errors."""


class GatewayCallError(EvalError):
    """The gateway cannot be used, or one call to it failed.

    ``retryable`` is true for failures worth another try within the run (network, 5xx, 429).
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class RunDirError(EvalError):
    """The output folder belongs to another run."""
