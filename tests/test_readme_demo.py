"""The README's `make demo` output is what `report.md` writes: same tables, same rows, figures that add up.

The figures themselves come from a fresh-clone run and cannot be recomputed here; what is checked is that
the README shows them in the exact format the report renders (each line's skeleton, numbers aside,
equals the report's for the same systems), and that they are consistent with one another: every cell's
percentage is its count over its n, the difficulties add up to the total, the comparison table repeats
the EX table's totals and subtracts them from the ensemble's, and the thesis names the best
first-sample generator with the difference the table gives it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sqlensemble.eval.comparison import SystemScores, comparison_markdown
from sqlensemble.eval.report import Cell, ExRow, ex_markdown

README = Path(__file__).resolve().parents[1] / "README.md"
CELL = re.compile(r"^(\d+\.\d\d) \((\d+)/(\d+)\)$")
NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")
THESIS = re.compile(
    r"\*\*Thesis:\*\* the vote (beats|trails) the best single generator by (\d+\.\d) points "
    r"\(95% interval (-?\d+\.\d) to (-?\d+\.\d)\)\. Best single generator: (.+) sample, "
    r"EX (\d+\.\d\d); the vote: EX (\d+\.\d\d)\."
)


def _demo_block() -> list[str]:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"```text\n\$ make demo\n(.*?)```", text, re.S)
    assert match, "README: no ```text block starting with `$ make demo`"
    return match.group(1).splitlines()


def _table(lines: list[str], header_start: str) -> list[str]:
    start = next((i for i, line in enumerate(lines) if line.startswith(header_start)), None)
    assert start is not None, f"README demo output: no table starting {header_start!r}"
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return lines[start:end]


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _skeleton(line: str) -> str:
    return NUMBER.sub("#", line)


@pytest.fixture(scope="module")
def ex_lines() -> list[str]:
    return _table(_demo_block(), "| system |")


@pytest.fixture(scope="module")
def ex_rows(ex_lines: list[str]) -> dict[str, list[tuple[float, int, int]]]:
    rows: dict[str, list[tuple[float, int, int]]] = {}
    for line in ex_lines[2:]:
        name, *cells = _cells(line)
        parsed = []
        for cell in cells:
            m = CELL.match(cell)
            assert m, f"README EX cell {cell!r} is not 'EX (correct/total)'"
            parsed.append((float(m.group(1)), int(m.group(2)), int(m.group(3))))
        rows[name] = parsed
    return rows


def _kind(name: str) -> str:
    return name if name in ("ensemble", "oracle") else name.rsplit(" ", 1)[1]


def test_the_ex_table_has_the_reports_format(ex_lines: list[str], ex_rows) -> None:
    names = list(ex_rows)
    assert names[0] == "ensemble" and names[-1] == "oracle"
    assert {_kind(n) for n in names[1:-1]} == {"first", "majority"}
    rendered = ex_markdown([ExRow(name, (Cell(1, 3), Cell(1, 3), Cell(1, 3)), Cell(3, 9)) for name in names])
    assert [_skeleton(line) for line in ex_lines] == [_skeleton(line) for line in rendered]


def test_the_ex_figures_add_up(ex_lines: list[str], ex_rows) -> None:
    header_ns = [int(n) for n in re.findall(r"\(n=(\d+)\)", ex_lines[0])]
    assert sum(header_ns[:-1]) == header_ns[-1]
    for name, cells in ex_rows.items():
        for (ex, correct, total), n in zip(cells, header_ns, strict=True):
            assert total == n, (name, total, n)
            assert abs(ex - 100 * correct / total) < 0.006, (name, ex, correct, total)
        assert sum(c for _, c, _ in cells[:-1]) == cells[-1][1], name
    oracle = ex_rows["oracle"][-1][1]
    assert all(cells[-1][1] <= oracle for cells in ex_rows.values())


def test_the_comparison_matches_the_ex_table_and_the_thesis(ex_rows) -> None:
    lines = _demo_block()
    table = _table(lines, "| ensemble vs |")
    names = [n for n in ex_rows if n != "ensemble"]
    n = ex_rows["ensemble"][-1][2]
    rendered = comparison_markdown(
        [SystemScores(name, _kind(name), (True, False) * (n // 2)) for name in ["ensemble", *names]]
    )
    rendered_table = [line for line in rendered if line.startswith("|")]
    assert [_skeleton(line) for line in table] == [_skeleton(line) for line in rendered_table]
    ensemble = ex_rows["ensemble"][-1][0]
    differences = {}
    for line in table[2:]:
        name, system_ex, difference, interval = _cells(line)
        assert float(system_ex) == ex_rows[name][-1][0], name
        assert abs(float(difference) - (ensemble - float(system_ex))) < 0.006, name
        low, high = (float(v) for v in interval.split(" to "))
        assert low <= float(difference) <= high, name
        differences[name] = float(difference)
    assert [_cells(line)[0] for line in table[2:]] == names

    thesis = next((line for line in lines if line.startswith("**Thesis:**")), None)
    assert thesis is not None, "README demo output: no **Thesis:** line"
    m = THESIS.match(thesis)
    assert m, thesis
    verb, points, best, best_ex, vote_ex = m.group(1), float(m.group(2)), m.group(5), m.group(6), m.group(7)
    firsts = {name: cells[-1][0] for name, cells in ex_rows.items() if _kind(name) == "first"}
    assert best == max(firsts, key=lambda k: firsts[k])
    assert float(best_ex) == firsts[best] and float(vote_ex) == ensemble
    signed = points if verb == "beats" else -points
    assert abs(signed - differences[best]) < 0.051
