"""The duplicate finder: code that two packages share line for line, which belongs in the core instead.

Every module is reduced to its code lines (blank lines, comments, imports, docstring delimiters and
doctest lines left out; whitespace collapsed; lines under 12 characters, such as ``return x`` or
``else:``, skipped) and every run of ``WINDOW`` consecutive lines is compared across the packages
``sqlensemble`` (the core), ``train``, ``serve``, ``ensemble``, ``eval`` and ``bench``. A run found in
two packages is reported once per pair of places. ``tests/test_duplicates.py`` requires none.

    python tools/duplicates.py [--window 4]
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"core": "sqlensemble", "train": "train", "serve": "serve", "ensemble": "ensemble", "eval": "eval",
            "bench": "bench"}  # fmt: skip
WINDOW = 4
MIN_CHARS = 12
SKIPPED_PREFIXES = ("#", "import ", "from ", '"""', ">>>", "...")


@dataclass(frozen=True)
class Place:
    package: str
    path: str
    line: int


@dataclass(frozen=True)
class Duplicate:
    places: tuple[Place, ...]
    code: str


def code_lines(text: str) -> list[tuple[int, str]]:
    """``(line number, normalized line)`` for every line that counts.

    >>> code_lines("import os\\n\\n# c\\nvalue = compute(1, 2)\\nreturn x\\n")
    [(4, 'value = compute(1, 2)')]
    """
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if len(stripped) < MIN_CHARS or stripped.startswith(SKIPPED_PREFIXES):
            continue
        out.append((number, re.sub(r"\s+", " ", stripped)))
    return out


def find_duplicates(root: Path = ROOT, window: int = WINDOW) -> list[Duplicate]:
    """Every run of ``window`` code lines that appears in more than one package."""
    seen: dict[str, set[Place]] = defaultdict(set)
    for package, folder in PACKAGES.items():
        for path in sorted((root / folder).rglob("*.py")):
            lines = code_lines(path.read_text(encoding="utf-8"))
            for i in range(len(lines) - window + 1):
                key = "\n".join(text for _, text in lines[i : i + window])
                seen[key].add(Place(package, str(path.relative_to(root)), lines[i][0]))
    found: dict[tuple[str, ...], Duplicate] = {}
    for code, places in seen.items():
        if len({p.package for p in places}) > 1:
            files = tuple(sorted({p.path for p in places}))
            found.setdefault(files, Duplicate(tuple(sorted(places, key=lambda p: (p.path, p.line))), code))
    return list(found.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--window", type=int, default=WINDOW, help="consecutive code lines that must match")
    args = parser.parse_args(argv)
    duplicates = find_duplicates(ROOT, args.window)
    for dup in duplicates:
        print(", ".join(f"{p.path}:{p.line}" for p in dup.places))
        print("    " + dup.code.replace("\n", "\n    "))
    print(f"{len(duplicates)} piece(s) of code shared between packages")
    return 1 if duplicates else 0


if __name__ == "__main__":
    raise SystemExit(main())
