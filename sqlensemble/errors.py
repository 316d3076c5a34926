"""Errors of the shared core. Every error sqlensemble raises on purpose derives from one root.

    SqlEnsembleError
    ├── ConfigError            a settings or stack file is unsafe or inconsistent
    ├── DataError              a dataset file or record is missing or malformed
    └── CatalogError           a database root is unusable
        └── UnknownDatabaseError   a db_id that is not in the root

Candidates that fail (refused, error, timeout) are values, not exceptions: see ``executor.ExecResult``.
"""

from __future__ import annotations


class SqlEnsembleError(Exception):
    """Root of every error sqlensemble raises on purpose."""


class ConfigError(SqlEnsembleError):
    """A configuration value is unsafe, inconsistent or missing."""


class DataError(SqlEnsembleError):
    """A dataset file or one of its records is missing or malformed."""


class CatalogError(SqlEnsembleError):
    """A database root or one of its databases cannot be used."""


class UnknownDatabaseError(CatalogError):
    """A ``db_id`` that does not name a database under the catalog's root."""

    def __init__(self, db_id: str, known: list[str] | None = None) -> None:
        self.db_id = db_id
        self.known = known or []
        hint = f"; known: {', '.join(self.known[:20])}" if self.known else ""
        super().__init__(f"unknown database {db_id!r}{hint}")
