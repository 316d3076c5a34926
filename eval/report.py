"""``report.md`` and ``report.png``: every number is a SQL query over ``results.duckdb``.

The EX table has one row per system judged on the same candidates: the ensemble's answer, each
generator's first sample and its own majority vote, and the oracle (any candidate correct). A generator
that returned nothing for a question counts as wrong on it, and so does every system on a question of the
slice that has no answer (its call failed): every row has the slice as its denominator, as BIRD's script
scoring ``predict_dev.json`` has. The ensemble is compared with every other row by a paired bootstrap
over the same per-question records (``comparison``). A run whose gateway let a selection model answer
among the vote's groups also gets the vote against vote + selector (``selection_report``).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from sqlensemble.bird import DIFFICULTIES
from sqlensemble.eval.accuracy import Cell, ExRow, ex_markdown, ex_rows, ex_sql, markdown_table, scores_sql
from sqlensemble.eval.comparison import KINDS, SystemScores, comparison_markdown
from sqlensemble.eval.cost import THROUGHPUT_SQL, cost_markdown
from sqlensemble.eval.selection_report import selection_markdown, selection_summary

REPORT_FILE = "report.md"
FIGURE_FILE = "report.png"

SCORED_SQL = """
WITH gens AS (SELECT DISTINCT generator FROM generators),
grid AS (
    SELECT q.position, q.difficulty, g.generator, gen.first_correct, gen.majority_correct
    FROM questions q CROSS JOIN gens g
    LEFT JOIN generators gen ON gen.position = q.position AND gen.generator = g.generator
)
SELECT 'ensemble' AS system, 0 AS rank, '' AS generator, difficulty, ensemble_correct AS correct, position
FROM questions
UNION ALL
SELECT generator || ' first', 1, generator, difficulty, coalesce(first_correct, false), position FROM grid
UNION ALL
SELECT generator || ' majority', 2, generator, difficulty, coalesce(majority_correct, false), position
FROM grid
UNION ALL
SELECT 'oracle', 3, '', difficulty, oracle_correct, position FROM questions
"""
SYSTEM_ORDER = "CASE WHEN rank IN (1, 2) THEN 1 ELSE rank END, generator, rank"

EX_SQL = ex_sql(SCORED_SQL, SYSTEM_ORDER)
SCORES_SQL = scores_sql(SCORED_SQL, SYSTEM_ORDER)

LATENCY_SQL = """
SELECT '/v1/sql call, client (ms)', quantile_cont(latency_ms, 0.5), quantile_cont(latency_ms, 0.95),
       avg(latency_ms), count(latency_ms) FROM questions WHERE answered
UNION ALL
SELECT 'gateway total_ms', quantile_cont(gateway_total_ms, 0.5), quantile_cont(gateway_total_ms, 0.95),
       avg(gateway_total_ms), count(gateway_total_ms) FROM questions WHERE answered
"""

STATUS_SQL = """
SELECT gateway_status, exec_status, count(*), count(*) FILTER (WHERE correct)
FROM candidates GROUP BY ALL ORDER BY count(*) DESC, gateway_status, exec_status
"""

CONFIDENCE_SQL = """
SELECT CASE WHEN confidence IS NULL THEN 'n/a'
            WHEN confidence >= 1 THEN '1.00'
            ELSE printf('[%.2f, %.2f)', floor(confidence * 4) / 4, floor(confidence * 4) / 4 + 0.25)
       END AS bucket,
       count(*), count(*) FILTER (WHERE ensemble_correct)
FROM questions WHERE answered GROUP BY bucket ORDER BY bucket
"""

CLUSTER_SQL = """
SELECT winning_cluster_size, n_candidates, count(*), count(*) FILTER (WHERE ensemble_correct)
FROM questions WHERE answered GROUP BY ALL ORDER BY n_candidates, winning_cluster_size
"""

FLAGS_SQL = """
SELECT count(*) FILTER (WHERE gold_status NOT IN ('ok', 'empty')), count(*) FILTER (WHERE truncated)
FROM questions WHERE answered
"""

UNANSWERED_SQL = """
SELECT count(*) FILTER (WHERE NOT answered), count(*) FROM questions
"""


def ex_table(con: duckdb.DuckDBPyConnection) -> list[ExRow]:
    """The EX table: ensemble, then each generator's first sample and majority, then the oracle."""
    return ex_rows(con, EX_SQL)


def system_scores(con: duckdb.DuckDBPyConnection) -> list[SystemScores]:
    """Each row of the EX table as its per-question outcomes (position order), for the bootstrap."""
    return [
        SystemScores(str(system), KINDS[int(rank)], tuple(bool(v) for v in correct))
        for system, rank, correct in con.execute(SCORES_SQL).fetchall()
    ]


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def unanswered_line(unanswered: int, total: int) -> str:
    """The sentence under the EX table that says how many questions of the slice have no answer.

    >>> unanswered_line(2, 24)
    'Unanswered (the call failed; each counts wrong for every system): 2 of 24 questions.'
    """
    reason = "the call failed; each counts wrong for every system"
    return f"Unanswered ({reason}): {unanswered} of {total} questions."


def render_report(con: duckdb.DuckDBPyConnection, title: str, context: list[str]) -> str:
    """The markdown report; ``context`` lines (data, gateway, model, slice) go under the title."""
    lines = [f"# {title}", "", *(f"- {line}" for line in context), ""]
    lines += ["## Execution accuracy (EX, %)", "", *ex_markdown(ex_table(con)), ""]
    unanswered, total = con.execute(UNANSWERED_SQL).fetchone() or (0, 0)
    lines += [unanswered_line(int(unanswered), int(total)), ""]
    lines += ["EX as BIRD's evaluation.py computes it: set(predicted rows) == set(gold rows).", ""]
    lines += comparison_markdown(system_scores(con))
    lines += selection_markdown(selection_summary(con))

    lines += cost_markdown(con)
    lines += ["## Latency", ""]
    latency = con.execute(LATENCY_SQL).fetchall()
    lines += markdown_table(
        ["measure", "p50", "p95", "mean", "n"],
        [[str(name), _ms(p50), _ms(p95), _ms(mean), str(n)] for name, p50, p95, mean, n in latency],
    )
    answered, span, sessions = con.execute(THROUGHPUT_SQL).fetchone() or (0, 0.0, 0)
    rate = f"{answered / span:.3f} questions/s" if span else "–"
    lines += [
        "",
        f"Throughput: {rate} ({answered} questions in {span:.1f} s over {sessions} session(s)).",
        "",
    ]

    lines += ["## Candidate status", ""]
    statuses = con.execute(STATUS_SQL).fetchall()
    lines += markdown_table(
        ["gateway status", "local execution", "candidates", "correct"],
        [[str(g), str(e), str(n), str(c)] for g, e, n, c in statuses],
    )

    lines += [
        "",
        "## Vote agreement",
        "",
        "Ensemble confidence (the winning cluster's share of the vote):",
        "",
    ]
    lines += markdown_table(
        ["confidence", "questions", "ensemble EX"],
        [
            [str(b), str(n), Cell(int(c), int(n)).render()]
            for b, n, c in con.execute(CONFIDENCE_SQL).fetchall()
        ],
    )
    lines += ["", "Winning cluster size out of the question's candidates:", ""]
    lines += markdown_table(
        ["winning cluster", "candidates", "questions", "ensemble EX"],
        [
            [str(s), str(t), str(n), Cell(int(c), int(n)).render()]
            for s, t, n, c in con.execute(CLUSTER_SQL).fetchall()
        ],
    )
    gold_failed, truncated = con.execute(FLAGS_SQL).fetchone() or (0, 0)
    lines += ["", "## Flags", ""]
    lines += [f"- questions whose gold query failed (every answer counts wrong): {gold_failed}"]
    lines += [f"- questions where a compared result was truncated at the row cap: {truncated}", ""]
    return "\n".join(lines)


def render_figure(table: list[ExRow], path: Path) -> None:
    """A grouped bar chart of EX by difficulty (and total) for each row of the EX table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [*DIFFICULTIES, "total"]
    width = 0.8 / len(labels)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(table) + 2), 4.5))
    for i, label in enumerate(labels):
        values = [((*r.by_difficulty, r.total)[i].ex or 0.0) for r in table]
        ax.bar(
            [x + (i - (len(labels) - 1) / 2) * width for x in range(len(table))], values, width, label=label
        )
    ax.set_xticks(range(len(table)), [r.system for r in table], rotation=30, ha="right")
    ax.set_ylabel("EX (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Execution accuracy by difficulty")
    ax.legend(ncols=len(labels), fontsize="small", loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(db_path: Path, out_dir: Path, title: str, context: list[str]) -> list[ExRow]:
    """Write ``report.md`` and ``report.png`` into ``out_dir`` from the duckdb file; return the EX table."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        table = ex_table(con)
        (out_dir / REPORT_FILE).write_text(render_report(con, title, context), encoding="utf-8")
    finally:
        con.close()
    render_figure(table, out_dir / FIGURE_FILE)
    return table
