"""``sqlensemble synth``: write a synthetic benchmark in BIRD's layout.

sqlensemble synth --out data/synth                     # >= 3000 train, >= 500 dev, 32 databases
sqlensemble synth --out data/synth_xd --cross-domain    # dev on databases train never sees
sqlensemble synth --out /tmp/tiny --size small --seed 7 # a few hundred questions, for tests
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from sqlensemble.errors import SqlEnsembleError
from sqlensemble.synth.writer import SIZES, Summary, write_benchmark


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sqlensemble synth", description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True, help="output folder (must be empty or absent)")
    p.add_argument("--seed", type=int, default=0, help="seed; one seed gives byte-identical files")
    p.add_argument(
        "--cross-domain",
        action="store_true",
        help="hold out one variant of every domain for dev, so dev databases are unseen in train",
    )
    p.add_argument("--size", choices=sorted(SIZES), default="default", help="dataset size")
    p.add_argument("--force", action="store_true", help="replace train/ and dev/ in a non-empty --out")
    return p


def _prepare(out: Path, force: bool) -> str | None:
    """Return an error message when ``out`` cannot be written."""
    if out.exists() and not out.is_dir():
        return f"--out {out} exists and is not a folder"
    if out.is_dir() and any(out.iterdir()):
        if not force:
            return f"--out {out} is not empty; pass --force to replace its train/ and dev/"
        for sub in ("train", "dev"):
            shutil.rmtree(out / sub, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    return None


def _report(s: Summary) -> str:
    lines = [f"wrote {s.out}", f"{'split':<6} {'questions':>9} {'dbs':>4}  simple/moderate/challenging"]
    for name, qs, dbs in (("train", s.train, s.train_dbs), ("dev", s.dev, s.dev_dbs)):
        mix = s.mix(name)  # type: ignore[arg-type]
        pct = "/".join(f"{100 * n / max(1, len(qs)):.0f}%" for n in mix.values())
        lines.append(f"{name:<6} {len(qs):>9} {len(dbs):>4}  {'/'.join(map(str, mix.values()))} ({pct})")
    lines.append(f"generated in {s.seconds:.1f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    error = _prepare(args.out, args.force)
    if error:
        print(f"sqlensemble synth: {error}", file=sys.stderr)
        return 2
    try:
        summary = write_benchmark(args.out, seed=args.seed, cross_domain=args.cross_domain, size=args.size)
    except (SqlEnsembleError, OSError) as e:
        print(f"sqlensemble synth: {e}", file=sys.stderr)
        return 1
    print(_report(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
