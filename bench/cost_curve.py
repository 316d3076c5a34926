"""EX against generation cost over several evaluation runs: the table for the README and a plot.

    .venv/bin/python bench/cost_curve.py runs/cost-full runs/cost-adaptive-0.75 runs/cost-g1 \
        --labels "full" "adaptive 0.75" "sqlg1 alone" --plot runs/cost.png

Each argument is a run folder written by ``sqlensemble eval`` (its ``results.duckdb``). Prints one markdown
row per run (the columns of report.md's cost table, the run's label first) and, with ``--plot``, draws EX
against completion tokens per question, one point per run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

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
    args = parser.parse_args(argv)
    if args.labels is not None and len(args.labels) != len(args.runs):
        parser.error("--labels needs one label per run")
    rows = [read_row(run) for run in args.runs]
    labels = args.labels or [row.policy for row in rows]
    print(COST_HEADER.replace("| policy |", "| run |", 1))
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, row in zip(labels, rows, strict=True):
        print(cost_line(row, label))
    if args.plot is not None:
        plot(list(zip(labels, rows, strict=True)), args.plot)
        print(f"plot: {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
