"""A link tree that shows static tools (mypy, editors) the installed package layout.

``pyproject.toml`` maps the top-level folders ``train/ serve/ ensemble/ eval/`` onto
``sqlensemble.train`` ... with ``package-dir``. At run time setuptools' editable finder resolves them;
static tools read folders, and there ``sqlensemble/train`` does not exist, so every import between
packages would turn into ``Any``. This script mirrors the installed layout with symbolic links:

    build/typecheck/sqlensemble/<each entry of sqlensemble/>  -> ../../../sqlensemble/<entry>
    build/typecheck/sqlensemble/{train,serve,ensemble,eval}   -> ../../../{train,serve,ensemble,eval}

mypy finds it through ``mypy_path`` in ``pyproject.toml``; editors through their extra search path
(README, "Working on the code"). The links point at the real files, so an edit through a link is an
edit of the source. It is rebuilt by ``make lint`` (cheap, and idempotent: links are only added or
removed), so a new module appears the next time lint runs.

    python tools/typecheck_tree.py [--out build/typecheck]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "sqlensemble"
MAPPED = ("train", "serve", "ensemble", "eval")  # pyproject.toml [tool.setuptools] package-dir
SKIP = {"__pycache__"}


def wanted_links(root: Path) -> dict[str, Path]:
    """Link name inside ``<out>/sqlensemble`` -> the source it must point at."""
    links = {p.name: p for p in sorted((root / PACKAGE).iterdir()) if p.name not in SKIP}
    for name in MAPPED:
        if name in links:
            raise SystemExit(f"{PACKAGE}/{name} exists and would hide the mapped folder {name}/")
        links[name] = root / name
    return links


def build_tree(root: Path, out: Path) -> Path:
    """Create or refresh the link tree under ``out``; returns ``out/sqlensemble``."""
    package = out / PACKAGE
    package.mkdir(parents=True, exist_ok=True)
    links = wanted_links(root)
    for entry in package.iterdir():
        if entry.name not in links or not entry.is_symlink():
            if entry.is_dir() and not entry.is_symlink():
                raise SystemExit(f"{entry} is a real folder; remove it and run again")
            entry.unlink()
    for name, source in links.items():
        link = package / name
        target = os.path.relpath(source, package)
        if link.is_symlink() and os.readlink(link) == target:
            continue
        if link.is_symlink():
            link.unlink()
        tmp = package / f".{name}.{os.getpid()}.tmp"
        tmp.symlink_to(target, target_is_directory=source.is_dir())
        tmp.replace(link)  # atomic: a concurrent mypy run never sees the link missing
    return package


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "typecheck")
    args = parser.parse_args(argv)
    build_tree(ROOT, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
