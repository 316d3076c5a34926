"""Write ``tests/data/expected/mschema/<db>.txt`` with XiYan-SQL's reference renderer.

    .venv/bin/python tests/data/mschema/make_expected.py --reference XiYan-SQL/XiYan-SQLTraining/data

Builds each ``tests/data/mschema/*.sql`` and the fixtures ``tests/fixtures/{school,flights}.sql`` into
SQLite files in a temp folder, plus ``football_league`` from ``sqlensemble synth --size small --seed 0``
(dev), and lets ``bench/mschema_parity.py --write`` render them with the reference.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
FIXTURES = [*sorted(HERE.glob("*.sql")), REPO / "tests/fixtures/school.sql", REPO / "tests/fixtures/flights.sql"]
SYNTH_DB = "football_league"


def build(sql: Path, path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.executescript(sql.read_text(encoding="utf-8"))
        conn.commit()
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for sql in FIXTURES:
            build(sql, root / f"{sql.stem}.sqlite")
        synth = root / "synth"
        subprocess.run([sys.executable, "-m", "sqlensemble", "synth", "--out", str(synth), "--size", "small",
                        "--seed", "0"], check=True, capture_output=True)
        shutil.copy(synth / "dev" / "dev_databases" / SYNTH_DB / f"{SYNTH_DB}.sqlite", root)
        shutil.rmtree(synth)
        bench = [sys.executable, str(REPO / "bench/mschema_parity.py"), "--reference", str(args.reference)]
        out = REPO / "tests/data/expected/mschema"
        return subprocess.run([*bench, "--databases", str(root), "--write", str(out)], check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
