"""EX tables: right answers per difficulty and in total, for each system of a *scored* query, as markdown.

A scored query yields one row per (system, question) with the columns ``system, rank, generator,
difficulty, correct, position`` (``report.SCORED_SQL`` for the EX table, ``selection_report`` for the vote
against vote + selector). :func:`ex_sql` counts it per difficulty, :func:`scores_sql` lists each system's
outcomes in position order for the paired bootstrap, and :func:`ex_markdown` renders the counts as the
report's tables do: "EX (right/questions)" per cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from sqlensemble.bird import DIFFICULTIES


@dataclass(frozen=True)
class Cell:
    correct: int
    total: int

    @property
    def ex(self) -> float | None:
        return 100.0 * self.correct / self.total if self.total else None

    def render(self) -> str:
        """EX with its counts, or a dash for an empty cell.

        >>> Cell(5, 8).render(), Cell(0, 0).render()
        ('62.50 (5/8)', '–')
        """
        ex = self.ex
        return "–" if ex is None else f"{ex:.2f} ({self.correct}/{self.total})"


@dataclass(frozen=True)
class ExRow:
    system: str
    by_difficulty: tuple[Cell, ...]  # in DIFFICULTIES order
    total: Cell


def ex_sql(scored: str, order: str) -> str:
    """Per system of ``scored``, in ``order``: right answers and questions for each difficulty, then in all.

    >>> con = duckdb.connect()
    >>> scored = "SELECT 'a' AS system, 0 AS rank, '' AS generator, 'simple' AS difficulty, true AS correct"
    >>> con.execute(ex_sql(scored, "rank")).fetchall()
    [('a', 1, 1, 0, 0, 0, 0, 1, 1)]
    """
    counts = ", ".join(
        f"count(*) FILTER (WHERE difficulty = '{d}' AND correct), count(*) FILTER (WHERE difficulty = '{d}')"
        for d in DIFFICULTIES
    )
    return f"""
SELECT system, {counts}, count(*) FILTER (WHERE correct), count(*)
FROM ({scored}) GROUP BY system, rank, generator
ORDER BY {order}
"""


def scores_sql(scored: str, order: str) -> str:
    """Per system of ``scored``, in ``order``: its rank and its outcomes in position order."""
    return f"""
SELECT system, rank, list(correct ORDER BY position)
FROM ({scored}) GROUP BY system, rank, generator
ORDER BY {order}
"""


def ex_rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[ExRow]:
    """The rows of an :func:`ex_sql` query as cells."""
    rows = []
    for record in con.execute(sql).fetchall():
        counts = [int(v) for v in record[1:]]
        cells = tuple(Cell(counts[2 * i], counts[2 * i + 1]) for i in range(len(DIFFICULTIES)))
        rows.append(ExRow(str(record[0]), cells, Cell(counts[-2], counts[-1])))
    return rows


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "---:") -> list[str]:
    """A markdown table, the first column left-aligned and the others ``align``-ed.

    >>> markdown_table(["a", "b"], [["x", "1"]])
    ['| a | b |', '| --- | ---: |', '| x | 1 |']
    """
    lines = ["| " + " | ".join(header) + " |", "| --- | " + " | ".join([align] * (len(header) - 1)) + " |"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def ex_markdown(table: list[ExRow]) -> list[str]:
    """An EX table: one row per system, one column per difficulty (with its question count) and the total."""
    if not table:
        return ["(no questions)"]
    first = table[0]
    header = ["system"] + [
        f"{d} (n={c.total})" for d, c in zip(DIFFICULTIES, first.by_difficulty, strict=True)
    ]
    header.append(f"total (n={first.total.total})")
    return markdown_table(
        header, [[r.system, *(c.render() for c in r.by_difficulty), r.total.render()] for r in table]
    )
