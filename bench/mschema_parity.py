"""How many databases our ``mschema`` renders byte-identically to XiYan-SQL's reference renderer.

    python bench/mschema_parity.py --reference XiYan-SQL/XiYan-SQLTraining/data [--databases DIR]

``--reference`` is a folder from which ``data_utils.schema_engine`` imports (XiYan-SQL's
``XiYan-SQLTraining/data``, with its dependencies installed, llama-index among them). Each database
is rendered there in a child process, as the reference's ``data_processing.py`` does
(``SchemaEngine(engine, db_name=...).mschema.to_mschema()``), and here with ``read_schema`` +
``render_mschema``. ``--databases`` is searched for ``*.sqlite`` files (the db id is the file's stem);
without it a small synthetic benchmark (``sqlensemble synth --size small``) is written to a temp dir.
``--write DIR`` also saves the reference's text as ``DIR/<db_id>.txt`` (how the test data in
``tests/data/expected/mschema/`` is made). Prints one line per mismatch and a summary; exits 0 when all
match, 1 otherwise, 2 when no reference is available.

Note: llama-index's ``SQLDatabase`` keeps the usable table names in a ``set``, so the real
reference's table order follows string hashing (``PYTHONHASHSEED``); ours is the inspector's sorted
order, which the reference gives when its table set iterates sorted.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

REFERENCE_CALL = """
import contextlib, sys
sys.path.insert(0, sys.argv[1])
from sqlalchemy import create_engine
from data_utils.schema_engine import SchemaEngine
with contextlib.redirect_stdout(sys.stderr):
    mschema = SchemaEngine(engine=create_engine("sqlite:///" + sys.argv[2]), db_name=sys.argv[3]).mschema
sys.stdout.write(mschema.to_mschema())
"""


def reference_mschema(reference: Path, db_path: Path, db_id: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", REFERENCE_CALL, str(reference), str(db_path), db_id],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, help="folder holding data_utils/schema_engine.py")
    parser.add_argument("--databases", type=Path, help="folder searched for *.sqlite (default: fresh synth)")
    parser.add_argument("--write", type=Path, help="also save the reference's text as DIR/<db_id>.txt")
    args = parser.parse_args(argv)
    if args.reference is None or not (args.reference / "data_utils" / "schema_engine.py").is_file():
        print("no reference renderer: pass --reference DIR holding data_utils/schema_engine.py")
        return 2
    from sqlensemble.cli import main as cli
    from sqlensemble.schema import read_schema, render_mschema

    with tempfile.TemporaryDirectory() as tmp:
        root = args.databases
        if root is None:
            root = Path(tmp) / "synth"
            if cli(["synth", "--out", str(root), "--size", "small", "--seed", "0"]) != 0:
                return 1
        paths = sorted(root.rglob("*.sqlite"))
        same = 0
        for path in paths:
            expected = reference_mschema(args.reference, path, path.stem)
            if args.write is not None:
                args.write.mkdir(parents=True, exist_ok=True)
                (args.write / f"{path.stem}.txt").write_text(expected, encoding="utf-8")
            if render_mschema(read_schema(path, path.stem)) == expected:
                same += 1
            else:
                print(f"differs: {path}")
    print(f"{same}/{len(paths)} databases byte-identical to the reference")
    return 0 if same == len(paths) else 1


if __name__ == "__main__":
    raise SystemExit(main())
