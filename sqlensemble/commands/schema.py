"""Print the schema text the prompts use for one SQLite file.

    sqlensemble schema data/bird/dev_databases/california_schools/california_schools.sqlite
    sqlensemble schema some.sqlite --style ddl --db-id shop --max-examples 1

The db_id defaults to the file's stem; BIRD's description CSVs are picked up from a
``database_description/`` folder next to the file when there is one. The file is opened read-only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlensemble.errors import SqlEnsembleError
from sqlensemble.schema import MAX_EXAMPLES, RENDERERS, read_schema, render_schema

PROG = "sqlensemble schema"


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Print the schema text the prompts use.")
    parser.add_argument("db_path", metavar="DB_PATH", type=Path, help="a SQLite database file")
    parser.add_argument(
        "--style", choices=sorted(RENDERERS), default="mschema", help="M-Schema (default) or CREATE TABLE DDL"
    )
    parser.add_argument(
        "--db-id", default=None, help="the name shown as the database id (default: file stem)"
    )
    parser.add_argument(
        "--max-examples",
        type=int,
        default=MAX_EXAMPLES,
        help=f"example values shown per column (default {MAX_EXAMPLES}; 0 for none)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    path: Path = args.db_path
    if not path.is_file():
        print(f"{PROG}: no such database file: {path}", file=sys.stderr)
        return 2
    if args.max_examples < 0:
        print(f"{PROG}: --max-examples must be 0 or more, got {args.max_examples}", file=sys.stderr)
        return 2
    descriptions = path.parent / "database_description"
    try:
        schema = read_schema(
            path,
            args.db_id or path.stem,
            descriptions if descriptions.is_dir() else None,
            max_examples=args.max_examples,
        )
        text = render_schema(schema, args.style, max_examples=args.max_examples)
    except SqlEnsembleError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
