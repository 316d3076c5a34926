"""Reading ``report.md`` back in tests: the table rows of one section, by their first cell."""

from __future__ import annotations


def section(report: str, heading: str) -> str:
    """The text of the section ``## heading`` up to the next section."""
    return report.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]


def table_rows(report: str, heading: str) -> dict[str, list[str]]:
    """Every body row of the section's tables (headers and rules left out): first cell -> the others."""
    lines = [line for line in section(report, heading).splitlines() if line.startswith("| ")]
    body = [
        line
        for i, line in enumerate(lines)
        if not line.startswith("| --- ") and not (i + 1 < len(lines) and lines[i + 1].startswith("| --- "))
    ]
    cells = ([c.strip() for c in row.strip().strip("|").split("|")] for row in body)
    return {row[0]: row[1:] for row in cells}
