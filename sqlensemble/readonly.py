"""How every reader in sqlensemble opens a database file: read-only and immutable.

``mode=ro`` alone still creates files: a reader of a WAL-mode database makes ``-wal`` and ``-shm``
beside it (and cannot delete them, being read-only). ``immutable=1`` tells SQLite that the file cannot
change, so it takes no locks and opens no journal, WAL or shared-memory file: reading creates nothing,
anywhere. The executor, the schema reader, the catalog and ``/v1/databases`` all open files this way.

The price, for a database that another process writes while it is served: an immutable reader sees the
main file only. Transactions still in the writer's ``-wal`` (not yet checkpointed) are not visible,
and a checkpoint that rewrites pages while a query reads them can give that query a wrong result or a
"database disk image is malformed" error (a value, status ``error``). Served databases are meant to be
read-only inputs: replace one by writing a new file and renaming it over the old (the catalog notices
the new size or time and reads the schema again; a query already running keeps the old file).

>>> readonly_uri(Path("/data/my db?.sqlite"))
'file:///data/my%20db%3F.sqlite?mode=ro&immutable=1'
"""

from __future__ import annotations

from pathlib import Path

READONLY_PARAMETERS = "mode=ro&immutable=1"


def readonly_uri(path: Path) -> str:
    """The ``file:`` URI (percent-encoded, absolute) that opens ``path`` read-only and immutable."""
    return f"{path.resolve().as_uri()}?{READONLY_PARAMETERS}"
