"""Errors of the shared core. Every error sqlensemble raises on purpose derives from one root.

    SqlEnsembleError
    ├── ConfigError            a settings or stack file is unsafe or inconsistent
    ├── DataError              a dataset file or record is missing or malformed
    ├── DownloadError          a checkpoint could not be fetched from its hub
    └── CatalogError           a database root is unusable
        └── UnknownDatabaseError   a db_id that is not in the root

Candidates that fail (refused, error, timeout) are values, not exceptions: see ``executor.ExecResult``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class SqlEnsembleError(Exception):
    """Root of every error sqlensemble raises on purpose."""


class ConfigError(SqlEnsembleError):
    """A configuration value is unsafe, inconsistent or missing."""


class DataError(SqlEnsembleError):
    """A dataset file or one of its records is missing or malformed."""


class DownloadError(SqlEnsembleError):
    """A checkpoint could not be fetched (no network, unknown id, gated repository, full disk)."""


class CatalogError(SqlEnsembleError):
    """A database root or one of its databases cannot be used."""


class UnknownDatabaseError(CatalogError):
    """A ``db_id`` that does not name a database under the catalog's root."""

    def __init__(self, db_id: str, known: list[str] | None = None) -> None:
        self.db_id = db_id
        self.known = known or []
        hint = f"; known: {', '.join(self.known[:20])}" if self.known else ""
        super().__init__(f"unknown database {db_id!r}{hint}")


def validation_problems(
    errors: Iterable[Mapping[str, Any]], *, skip: tuple[str, ...] = ()
) -> list[tuple[str, str]]:
    """pydantic's ``ValidationError.errors()`` as ``(field path, message)`` pairs.

    The path joins the location with dots, leaving out the parts in ``skip`` (FastAPI's ``body``);
    pydantic's ``Value error, `` prefix on a validator's message is dropped.

    >>> validation_problems([{"loc": ("body", "n"), "msg": "Input should be greater than 0"}], skip=("body",))
    [('n', 'Input should be greater than 0')]
    """
    problems = []
    for item in errors:
        path = ".".join(str(p) for p in item.get("loc", ()) if p not in skip)
        problems.append((path, str(item.get("msg", "invalid value")).removeprefix("Value error, ")))
    return problems


def format_validation(
    errors: Iterable[Mapping[str, Any]], *, limit: int | None = None, skip: tuple[str, ...] = ()
) -> str:
    """The one line every config and file reader reports a pydantic ``ValidationError`` with.

    >>> errs = [{"loc": ("lora", "r"), "msg": "Field required"}, {"loc": (), "msg": "Value error, no"}]
    >>> format_validation(errs)
    'lora.r: Field required; no'
    >>> format_validation(errs, limit=1)
    'lora.r: Field required (+1 more)'
    """
    problems = validation_problems(errors, skip=skip)
    shown = problems if limit is None else problems[:limit]
    text = "; ".join(f"{path}: {msg}" if path else msg for path, msg in shown)
    return f"{text} (+{len(problems) - len(shown)} more)" if len(shown) < len(problems) else text
