"""The databases a service may query: a root folder in BIRD's layout.

    <root>/<db_id>/<db_id>.sqlite
    <root>/<db_id>/database_description/<table>.csv      (optional)

Callers name databases by ``db_id`` only; an id resolves only when it is one of the folders listed
under the root, so no caller-supplied path (absolute, with separators, ``..``) ever reaches the file
system. Schemas and their rendered texts are cached per database and options (reading and rendering a
large database costs seconds); the cache is safe to use from several threads, and a database file that
changes on disk (new size or modification time) is read again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlensemble.errors import CatalogError, ConfigError, UnknownDatabaseError
from sqlensemble.schema import MAX_EXAMPLES, RENDERERS, SchemaInfo, SchemaStyle, read_schema, render_schema
from sqlensemble.schemainfo import reorder

DESCRIPTION_DIR = "database_description"
_FORBIDDEN_IN_ID = ("/", "\\", "\x00", ":")

T = TypeVar("T")


@dataclass(frozen=True)
class Database:
    db_id: str
    path: Path
    description_dir: Path | None


def check_db_id(db_id: object) -> str:
    """The id itself when it can only name a folder directly under a root; :class:`UnknownDatabaseError`.

    >>> check_db_id("california_schools")
    'california_schools'
    >>> check_db_id("../etc")
    Traceback (most recent call last):
    ...
    sqlensemble.errors.UnknownDatabaseError: unknown database '../etc'
    """
    if (
        not isinstance(db_id, str)
        or db_id.strip() != db_id
        or db_id in {"", ".", ".."}
        or any(ch in db_id for ch in _FORBIDDEN_IN_ID)
        or Path(db_id).is_absolute()
    ):
        raise UnknownDatabaseError(str(db_id))
    return db_id


class Catalog:
    """Databases under one root; see the module docstring.

    ``max_examples`` is the number of example values read per column (the schema cache key includes
    it, so the training helper can ask for other counts).
    """

    def __init__(self, root: Path | str, *, max_examples: int = MAX_EXAMPLES) -> None:
        path = Path(root)
        if not path.is_dir():
            raise CatalogError(f"database root is not a folder: {path}")
        self.root = path.resolve()
        self.max_examples = max_examples
        self._lock = threading.Lock()
        self._key_locks: dict[tuple[object, ...], threading.Lock] = {}
        self._cache: dict[tuple[object, ...], object] = {}

    def db_ids(self) -> list[str]:
        """Sorted ids of the folders under the root that hold ``<db_id>.sqlite``."""
        try:
            entries = list(self.root.iterdir())
        except OSError as e:
            raise CatalogError(f"cannot list database root {self.root}: {e}") from e
        return sorted(p.name for p in entries if p.is_dir() and (p / f"{p.name}.sqlite").is_file())

    def resolve(self, db_id: str) -> Database:
        """The database named ``db_id``; :class:`UnknownDatabaseError` unless it is listed under the root.

        Listed means what :meth:`db_ids` lists: a folder directly under the root (``check_db_id`` allows
        no separator) holding ``<db_id>.sqlite``. That is checked on the folder itself, not by listing
        the whole root on every request; the root is listed only to name the known ids in the error.
        """
        check_db_id(db_id)
        folder = self.root / db_id
        if not (folder.is_dir() and (folder / f"{db_id}.sqlite").is_file()):
            raise UnknownDatabaseError(db_id, self.db_ids())
        descriptions = folder / DESCRIPTION_DIR
        return Database(db_id, folder / f"{db_id}.sqlite", descriptions if descriptions.is_dir() else None)

    def schema(self, db_id: str, max_examples: int | None = None) -> SchemaInfo:
        """The database's :class:`SchemaInfo`, read once per file version and example count."""
        database = self.resolve(db_id)
        examples = self.max_examples if max_examples is None else max_examples
        key = ("schema", db_id, examples, *self._file_version(database))
        return self._cached(
            key, lambda: read_schema(database.path, db_id, database.description_dir, max_examples=examples)
        )

    def schema_text(
        self,
        db_id: str,
        style: SchemaStyle = "mschema",
        max_examples: int | None = None,
        order: int | None = None,
    ) -> str:
        """The rendered schema text the prompts carry, cached per database, style, example count and
        order (a :func:`~sqlensemble.schemainfo.reorder` seed; ``None``: as read)."""
        if style not in RENDERERS:
            raise ConfigError(f"unknown schema style {style!r}; choose from {', '.join(RENDERERS)}")
        key, examples = self._text_key(db_id, style, max_examples, order)
        return self._cached(
            key,
            lambda: render_schema(
                reorder(self.schema(db_id, max_examples=examples), order), style, max_examples=examples
            ),
        )

    def cached_schema_text(
        self,
        db_id: str,
        style: SchemaStyle = "mschema",
        max_examples: int | None = None,
        order: int | None = None,
    ) -> str | None:
        """:meth:`schema_text` when it is already cached for the file as it is now, else ``None``
        (a stat, no reading or rendering: cheap enough for the event loop)."""
        key, _ = self._text_key(db_id, style, max_examples, order)
        with self._lock:
            cached = self._cache.get(key)
        return cached if isinstance(cached, str) else None

    def _text_key(
        self, db_id: str, style: SchemaStyle, max_examples: int | None, order: int | None
    ) -> tuple[tuple[object, ...], int]:
        """The cache key of a rendered text for the file as it is now, and the example count it uses."""
        database = self.resolve(db_id)
        examples = self.max_examples if max_examples is None else max_examples
        return ("text", db_id, style, examples, order, *self._file_version(database)), examples

    def tables(self, db_id: str) -> list[str]:
        """Table names of the database, in the order the schema holds them (the inspector's: alphabetical)."""
        return [table.name for table in self.schema(db_id).tables]

    @staticmethod
    def _file_version(database: Database) -> tuple[int, int]:
        try:
            stat = database.path.stat()
        except OSError as e:
            raise CatalogError(f"cannot read {database.path}: {e}") from e
        return stat.st_size, stat.st_mtime_ns

    def _cached(self, key: tuple[object, ...], compute: Callable[[], T]) -> T:
        """Compute each key once, even when several threads ask for it at the same time."""
        with self._lock:
            if key in self._cache:
                return self._cache[key]  # type: ignore[return-value]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._cache:
                    return self._cache[key]  # type: ignore[return-value]
            value = compute()
            with self._lock:
                self._cache[key] = value
                self._key_locks.pop(key, None)
            return value
