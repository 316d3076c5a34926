"""EX against generation cost over several evaluation runs: the table for the README and a plot.

    .venv/bin/python bench/cost_curve.py runs/cost-full runs/cost-adaptive-0.75 runs/cost-g1 \
        --labels "full" "adaptive 0.75" "sqlg1 alone" --plot runs/cost.png

Each argument is a run folder written by ``sqlensemble eval`` (its ``results.duckdb``). Prints one markdown
row per run (the columns of report.md's cost table, the run's label first) and, with ``--plot``, draws EX
against completion tokens per question, one point per run. ``--against RUN ...`` also compares every
run with each of those (issue 17's target): the paired EX difference over the questions both answered,
with its bootstrap 95% interval, the share of the other's completion tokens and the ratio of questions
per second.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

from sqlensemble.eval.bootstrap import paired_bootstrap
from sqlensemble.eval.cost import COST_HEADER, CostRow, cost_line, cost_row
from sqlensemble.eval.store import STORE_FILE


def read_row(run: Path) -> CostRow:
    path = run / STORE_FILE
    if not path.is_file():
        raise SystemExit(f"cost_curve: no {STORE_FILE} in {run} (run `sqlensemble eval --out {run}` first)")
    con = duckdb.connect(str(path), read_only=True)
    try:
        return cost_row(con)
    finally:
        con.close()


def correct_by_question(run: Path) -> dict[object, bool]:
    """Whether the run's answer (the ensemble's, or the one generator asked) was right, per question."""
    con = duckdb.connect(str(run / STORE_FILE), read_only=True)
    try:
        rows = con.execute("SELECT question_id, ensemble_correct FROM questions").fetchall()
    finally:
        con.close()
    return {qid: bool(ok) for qid, ok in rows}


def against_line(
    label: str,
    row: CostRow,
    mine: dict[object, bool],
    other_label: str,
    base: CostRow,
    theirs: dict[object, bool],
) -> str:
    shared = sorted(set(mine) & set(theirs), key=str)
    d = paired_bootstrap([mine[q] for q in shared], [theirs[q] for q in shared])
    parts = [
        f"{label} vs {other_label}: EX {d.points:+.1f} points "
        f"({d.low:+.1f} to {d.high:+.1f}, n={len(shared)})"
    ]
    if row.completion_tokens is not None and base.completion_tokens:
        parts.append(f"{100 * row.completion_tokens / base.completion_tokens:.0f}% of its completion tokens")
    if row.questions_per_s is not None and base.questions_per_s:
        parts.append(f"{row.questions_per_s / base.questions_per_s:.2f}x its questions/s")
    return ", ".join(parts)


def plot(rows: list[tuple[str, CostRow]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, row in rows:
        if row.completion_tokens is None or row.ex is None:
            continue
        ax.scatter(row.completion_tokens, row.ex, s=36)
        ax.annotate(
            label, (row.completion_tokens, row.ex), textcoords="offset points", xytext=(5, 4), fontsize=8
        )
    ax.set_xlabel("completion tokens per question")
    ax.set_ylabel("EX (%)")
    ax.set_title("Execution accuracy against generation cost")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="evaluation run folders")
    parser.add_argument("--labels", nargs="*", default=None, help="one label per run (default: the policy)")
    parser.add_argument("--plot", type=Path, default=None, help="write the plot to this PNG")
    parser.add_argument("--against", nargs="+", type=Path, default=[], help="compare every run with these")
    args = parser.parse_args(argv)
    if args.labels is not None and len(args.labels) != len(args.runs):
        parser.error("--labels needs one label per run")
    rows = [read_row(run) for run in args.runs]
    labels = args.labels or [row.policy for row in rows]
    print(COST_HEADER.replace("| policy |", "| run |", 1))
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, row in zip(labels, rows, strict=True):
        print(cost_line(row, label))
    named = dict(zip(args.runs, labels, strict=True))
    costs = dict(zip(args.runs, rows, strict=True))
    for other in args.against:
        if other not in costs:
            costs[other] = read_row(other)  # names a missing results.duckdb in one line
    correct = {run: correct_by_question(run) for run in costs} if args.against else {}
    for other in args.against:
        base = costs[other]
        for label, run, row in zip(labels, args.runs, rows, strict=True):
            if run != other:
                print(
                    against_line(label, row, correct[run], named.get(other, str(other)), base, correct[other])
                )
    if args.plot is not None:
        plot(list(zip(labels, rows, strict=True)), args.plot)
        print(f"plot: {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
