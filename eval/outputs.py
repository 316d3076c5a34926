"""The files a run leaves in RUN_DIR besides ``results.jsonl``, all rebuilt from the answered questions of
the slice (a question without an answer counts wrong in each): ``results.duckdb``, ``report.md``,
``report.png``, ``report.html``, ``predict_dev.json`` and ``predict_dev.<generator>.json``; and the EX table
on stdout."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sqlensemble.bird import DIFFICULTIES, Example
from sqlensemble.eval.predictions import write_all_predictions
from sqlensemble.eval.records import QuestionRecord
from sqlensemble.eval.report import ExRow, write_report
from sqlensemble.eval.report_html import write_html_report
from sqlensemble.eval.store import STORE_FILE, build_store


def write_outputs(
    out_dir: Path, examples: Sequence[Example], records: list[QuestionRecord], context: list[str]
) -> list[ExRow]:
    """Write every derived file for the slice ``examples``; return the EX table."""
    ordered = sorted(records, key=lambda r: r.position)
    build_store(out_dir / STORE_FILE, ordered, examples)
    slice_ = [(position, e.db_id) for position, e in enumerate(examples)]
    by_position = {r.position: r for r in ordered if r.position < len(examples)}
    write_all_predictions(out_dir, slice_, by_position)
    title = f"BIRD evaluation: {out_dir.name}"
    table = write_report(out_dir / STORE_FILE, out_dir, title, context)
    write_html_report(out_dir / STORE_FILE, out_dir, title, context)
    return table


def print_ex_table(table: list[ExRow], console: Console | None = None) -> None:
    """The EX table as the report shows it, on stdout."""
    out = console or Console(width=160)
    view = Table(title="Execution accuracy (EX, %)")
    view.add_column("system")
    first = table[0] if table else None
    for i, difficulty in enumerate(DIFFICULTIES):
        n = first.by_difficulty[i].total if first else 0
        view.add_column(f"{difficulty} (n={n})", justify="right")
    view.add_column(f"total (n={first.total.total if first else 0})", justify="right")
    for row in table:
        view.add_row(row.system, *(c.render() for c in row.by_difficulty), row.total.render())
    out.print(view)
