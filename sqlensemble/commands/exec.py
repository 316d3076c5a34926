"""``sqlensemble exec``: run one SQL statement through the guard and the read-only executor.

    sqlensemble exec data/dev_databases/concert_singer/concert_singer.sqlite "SELECT count(*) FROM singer"

Prints the result as one JSON object on stdout: ``status``, ``columns``, ``rows`` (blobs as hex),
``truncated``, ``elapsed_ms``, ``error`` and the executed ``sql``.

The query runs in a worker process (``sqlensemble.workers``), as in the gateway: it answers within
``--timeout-s`` plus half a second whatever it does (the worker is killed at the deadline), under the
worker's memory limit, and a result above ``--max-result-bytes`` is an ``error``.

Exit status: 0 when the query ran (``ok`` or ``empty``); 1 when it did not (``error``, ``timeout`` or
``refused``; the JSON says which); 2 for a usage mistake or a database file that is missing or cannot be
opened (one line on stderr, no JSON).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

EXIT_CODES: dict[str, int] = {"ok": 0, "empty": 0, "error": 1, "timeout": 1, "refused": 1}
DEFAULT_MAX_RESULT_BYTES = 16 * 2**20


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sqlensemble exec",
        description="Run SQL through the guard and the read-only executor; print the result as JSON.",
    )
    parser.add_argument("db_path", metavar="DB_PATH", help="an existing SQLite file (opened read-only)")
    parser.add_argument("sql", metavar="SQL", help="one read-only statement")
    parser.add_argument(
        "--timeout-s", type=_positive_float, default=30.0, help="time limit in seconds (default: 30)"
    )
    parser.add_argument(
        "--max-rows", type=_positive_int, default=10000, help="rows to return at most (default: 10000)"
    )
    parser.add_argument(
        "--max-result-bytes",
        type=_positive_int,
        default=DEFAULT_MAX_RESULT_BYTES,
        help=f"most bytes a result may hold, else error (default: {DEFAULT_MAX_RESULT_BYTES})",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    # sqlglot logs a warning when it falls back to a generic command; the refusal reason says enough.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)

    from sqlensemble.errors import CatalogError
    from sqlensemble.workers import WorkerPool

    try:
        with WorkerPool(1) as pool:
            result = pool.execute(
                args.db_path,
                args.sql,
                timeout_s=args.timeout_s,
                max_rows=args.max_rows,
                max_result_bytes=args.max_result_bytes,
            )
    except (CatalogError, OSError) as e:  # OSError: no worker process could be started
        print(f"sqlensemble exec: {e}", file=sys.stderr)
        return 2
    print(json.dumps(result.to_dict(), ensure_ascii=False))
    return EXIT_CODES[result.status]


if __name__ == "__main__":
    raise SystemExit(main())
