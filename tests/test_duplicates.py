"""No logic is copied between packages: what two of them need lives once, in the core."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))

from duplicates import code_lines, find_duplicates  # noqa: E402


def test_no_code_is_shared_between_packages() -> None:
    found = find_duplicates(REPO)
    assert found == [], "\n".join(", ".join(f"{p.path}:{p.line}" for p in d.places) for d in found)


def test_the_finder_sees_a_copy_across_packages(tmp_path: Path) -> None:
    body = "def check(a, b):\n    if not timeout_s > 0:\n        raise ValueError(f'bad {timeout_s}')\n"
    body += "    if max_rows < 1:\n        raise ValueError(f'bad {max_rows}')\n"
    for folder in ("sqlensemble", "eval"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "limits.py").write_text(body, encoding="utf-8")
    (dup,) = find_duplicates(tmp_path)
    assert {p.package for p in dup.places} == {"core", "eval"}
    assert "raise ValueError(f'bad {timeout_s}')" in dup.code


def test_comments_imports_and_short_lines_do_not_count() -> None:
    assert code_lines("from x import y\n# note\nelse:\n    total = price * quantity\n") == [
        (4, "total = price * quantity")
    ]
