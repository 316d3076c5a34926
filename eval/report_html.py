"""``report.html``: the evaluation as one self-contained page beside ``report.md``.

Every figure is a PNG drawn with matplotlib and inlined as a ``data:`` URI, the style sheet is inline and
there is no script, so the file opens anywhere, offline, and can be mailed as is. It holds the EX table,
EX by difficulty, the vote against vote + selector where a selection model answered (as in ``report.md``,
``selection_report``), a calibration plot (the vote's confidence against how often the answer was right), the
agreement histogram (the share of candidates in the winning group), the latency figures, the candidate
statuses and the flags. Every number is a SQL query over ``results.duckdb``, as in ``report.md``.
"""

from __future__ import annotations

import base64
import html
import io
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from sqlensemble.eval.comparison import (
    COMPARISON_HEADER,
    SystemScores,
    best_single,
    compare_systems,
    comparison_note,
    comparison_rows,
    thesis_sentence,
)
from sqlensemble.eval.cost import THROUGHPUT_SQL
from sqlensemble.eval.report import (
    DIFFICULTIES,
    FLAGS_SQL,
    LATENCY_SQL,
    STATUS_SQL,
    Cell,
    ExRow,
    ex_table,
    render_figure,
    system_scores,
)
from sqlensemble.eval.selection_report import (
    HEADING,
    SelectionSummary,
    interval_note,
    selection_summary,
    verdict,
)

HTML_FILE = "report.html"
CALIBRATION_BINS = 5
AGREEMENT_BINS = 10

POINTS_SQL = """
SELECT confidence, ensemble_correct,
       CASE WHEN n_candidates > 0 THEN coalesce(winning_cluster_size, 0) / n_candidates ELSE 0 END,
       latency_ms
FROM questions WHERE answered ORDER BY position
"""

STYLE = """
body { font-family: system-ui, sans-serif; color: #1d2430; max-width: 70rem; margin: 0 auto;
  padding: 1rem; line-height: 1.45; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #d9dde3; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { padding: .3rem .7rem; border-bottom: 1px solid #d9dde3; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f0f2f5; }
.scroll { overflow-x: auto; }
figure { margin: 1rem 0; } img { max-width: 100%; height: auto; border: 1px solid #d9dde3; }
figcaption, .muted { color: #5b6575; font-size: .9rem; }
"""


@dataclass(frozen=True)
class Bin:
    low: float
    high: float
    count: int
    correct: int
    mean_confidence: float | None

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.count if self.count else None


def calibration_bins(points: Sequence[tuple[float, bool]], bins: int = CALIBRATION_BINS) -> list[Bin]:
    """Questions grouped by confidence into ``bins`` equal ranges over [0, 1] (1.0 in the last).

    >>> [(b.count, b.correct, b.mean_confidence) for b in calibration_bins([(0.1, False), (1.0, True),
    ...     (0.9, False)], bins=2)]
    [(1, 0, 0.1), (2, 1, 0.95)]
    """
    grouped: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for confidence, correct in points:
        grouped[min(int(confidence * bins), bins - 1)].append((confidence, correct))
    return [
        Bin(
            low=i / bins,
            high=(i + 1) / bins,
            count=len(members),
            correct=sum(1 for _, ok in members if ok),
            mean_confidence=round(sum(c for c, _ in members) / len(members), 6) if members else None,
        )
        for i, members in enumerate(grouped)
    ]


def calibration_error(bins: Sequence[Bin]) -> float | None:
    """Expected calibration error: the count-weighted gap between confidence and accuracy.

    >>> calibration_error([Bin(0, .5, 2, 1, 0.25), Bin(.5, 1, 2, 2, 1.0)])
    0.125
    """
    total = sum(b.count for b in bins)
    if not total:
        return None
    gaps = (b.count * abs((b.accuracy or 0.0) - (b.mean_confidence or 0.0)) for b in bins if b.count)
    return round(sum(gaps) / total, 6)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) with linear interpolation, as duckdb's ``quantile_cont``.

    >>> percentile([10, 20, 30, 40], 0.5), percentile([], 0.5)
    (25.0, None)
    """
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


# ---- figures: each returns PNG bytes ----


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    _pyplot().close(fig)
    return buffer.getvalue()


def ex_figure(table: list[ExRow]) -> bytes:
    """The grouped EX bar chart of ``report.png``."""
    with tempfile.TemporaryDirectory(prefix="sqlensemble-report-") as tmp:
        path = Path(tmp) / "ex.png"
        render_figure(table, path)
        return path.read_bytes()


def calibration_figure(bins: Sequence[Bin]) -> bytes:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="#8a94a6", label="perfectly calibrated")
    filled = [b for b in bins if b.count]
    xs = [b.mean_confidence or 0.0 for b in filled]
    ys = [b.accuracy or 0.0 for b in filled]
    ax.plot(xs, ys, marker="o", color="#2457c5", label="ensemble")
    for b, x, y in zip(filled, xs, ys, strict=True):
        ax.annotate(f"n={b.count}", (x, y), textcoords="offset points", xytext=(4, -12), fontsize="small")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("vote confidence (mean per bin)")
    ax.set_ylabel("accuracy (share of answers correct)")
    ax.set_title("Calibration of the vote's confidence")
    ax.legend(loc="upper left", fontsize="small")
    return _png(fig)


def agreement_figure(shares: Sequence[tuple[float, bool]], bins: int = AGREEMENT_BINS) -> bytes:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    edges = [i / bins for i in range(bins + 1)]
    right = [s for s, ok in shares if ok]
    wrong = [s for s, ok in shares if not ok]
    ax.hist(
        [right, wrong], bins=edges, stacked=True, color=["#1a7f37", "#b42318"], label=["correct", "wrong"]
    )
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the question's candidates in the winning group")
    ax.set_ylabel("questions")
    ax.set_title("Agreement among the candidates")
    ax.legend(fontsize="small")
    return _png(fig)


def latency_figure(latencies: Sequence[float]) -> bytes:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    ax.hist(latencies, bins=min(30, max(1, len(latencies))), color="#2457c5")
    for q, style in ((0.5, "-"), (0.95, "--")):
        value = percentile(latencies, q)
        if value is not None:
            ax.axvline(value, color="#1d2430", linestyle=style, label=f"p{int(q * 100)} {value:.0f} ms")
    ax.set_xlabel("/v1/sql call, seen by the client (ms)")
    ax.set_ylabel("questions")
    ax.set_title("Latency per question")
    if latencies:
        ax.legend(fontsize="small")
    return _png(fig)


# ---- HTML ----


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def html_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A table with every cell escaped.

    >>> html_table(["a"], [["<b>"]]).split("<tbody>")[1]
    '<tr><td>&lt;b&gt;</td></tr></tbody></table></div>'
    """
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def html_figure(png: bytes, alt: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img alt="{_e(alt)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def ex_html_table(table: Sequence[ExRow]) -> str:
    """An EX table (one row per system, a column per difficulty and the total) of a non-empty ``table``."""
    first = table[0]
    header = ["system"]
    header += [f"{d} (n={c.total})" for d, c in zip(DIFFICULTIES, first.by_difficulty, strict=True)]
    header.append(f"total (n={first.total.total})")
    return html_table(
        header, [[r.system, *(c.render() for c in r.by_difficulty), r.total.render()] for r in table]
    )


def _ex_section(table: list[ExRow]) -> list[str]:
    if not table:
        return ["<h2>Execution accuracy (EX, %)</h2>", '<p class="muted">No answered questions.</p>']
    return [
        "<h2>Execution accuracy (EX, %)</h2>",
        ex_html_table(table),
        '<p class="muted">EX as BIRD\'s evaluation.py computes it: set(predicted rows) == set(gold rows). '
        "Each generator is judged on its first sample and on its own majority vote; the oracle counts a "
        "question when any candidate was right.</p>",
        "<h2>EX by difficulty</h2>",
        html_figure(ex_figure(table), "EX by difficulty for each system", "EX per difficulty and in total."),
    ]


def _comparison_section(systems: list[SystemScores]) -> list[str]:
    """The ensemble against every other system with its bootstrap interval, as in report.md."""
    comparisons = compare_systems(systems)
    if not comparisons:
        return []
    best = best_single(comparisons)
    d = comparisons[0].difference
    return [
        "<h2>Ensemble against each system (paired bootstrap)</h2>",
        *([f"<p><strong>Thesis:</strong> {_e(thesis_sentence(best))}</p>"] if best is not None else []),
        f'<p class="muted">{_e(comparison_note(d, len(systems[0].correct)))}</p>',
        html_table([*COMPARISON_HEADER, f"{100 * d.confidence:g}% interval"], comparison_rows(comparisons)),
    ]


def _selection_section(summary: SelectionSummary | None) -> list[str]:
    if summary is None:
        return []
    counts = [[what, cell.correct, cell.render(), among] for what, cell, among in summary.counts.rows()]
    return [
        f"<h2>{_e(HEADING)}</h2>",
        ex_html_table(summary.table),
        f"<p><strong>Result:</strong> {_e(verdict(summary.difference))}.</p>",
        f'<p class="muted">{_e(interval_note(summary.difference, summary.counts.questions))}</p>',
        html_table(["selector", "questions", "share (%)", "of"], counts),
    ]


def _calibration_section(points: list[tuple[float, bool]]) -> list[str]:
    bins = calibration_bins(points)
    error = calibration_error(bins)
    rows = [
        [
            f"[{b.low:.1f}, {b.high:.1f}{']' if b.high >= 1 else ')'}",
            b.count,
            "–" if b.mean_confidence is None else f"{b.mean_confidence:.3f}",
            Cell(b.correct, b.count).render(),
        ]
        for b in bins
    ]
    summary = "–" if error is None else f"{error:.3f}"
    return [
        "<h2>Calibration</h2>",
        f"<p>Expected calibration error: {summary} over {len(points)} questions with a confidence "
        "(0 means the confidence is exactly how often the answer is right).</p>",
        html_figure(
            calibration_figure(bins),
            "calibration plot: vote confidence against accuracy",
            "Each point is one confidence range: the mean confidence and the share of answers correct.",
        ),
        html_table(["confidence", "questions", "mean confidence", "ensemble EX"], rows),
    ]


def _agreement_section(shares: list[tuple[float, bool]]) -> list[str]:
    return [
        "<h2>Agreement</h2>",
        html_figure(
            agreement_figure(shares),
            "agreement histogram",
            "How many of a question's candidates fell in the winning group, split by whether the "
            "ensemble's answer was right.",
        ),
    ]


def _latency_section(con: duckdb.DuckDBPyConnection, latencies: list[float]) -> list[str]:
    rows = [
        [name, _ms(p50), _ms(p95), _ms(mean), n]
        for name, p50, p95, mean, n in con.execute(LATENCY_SQL).fetchall()
    ]
    answered, span, sessions = con.execute(THROUGHPUT_SQL).fetchone() or (0, 0.0, 0)
    rate = f"{answered / span:.3f} questions/s" if span else "–"
    return [
        "<h2>Latency</h2>",
        html_table(["measure (ms)", "p50", "p95", "mean", "n"], rows),
        f"<p>Throughput: {_e(rate)} ({answered} questions in {span:.1f} s over {sessions} session(s)).</p>",
        html_figure(latency_figure(latencies), "latency histogram", "Client-side latency of each question."),
    ]


def _status_section(con: duckdb.DuckDBPyConnection) -> list[str]:
    gold_failed, truncated = con.execute(FLAGS_SQL).fetchone() or (0, 0)
    return [
        "<h2>Candidate status</h2>",
        html_table(
            ["gateway status", "local execution", "candidates", "correct"], con.execute(STATUS_SQL).fetchall()
        ),
        "<h2>Flags</h2>",
        "<ul>",
        f"<li>questions whose gold query failed (every answer counts wrong): {gold_failed}</li>",
        f"<li>questions where a compared result was truncated at the row cap: {truncated}</li>",
        "</ul>",
    ]


def render_html(con: duckdb.DuckDBPyConnection, title: str, context: list[str]) -> str:
    """The whole page; ``context`` lines (data, gateway, model, slice) go under the title."""
    points = con.execute(POINTS_SQL).fetchall()
    confidences = [(float(c), bool(ok)) for c, ok, _, _ in points if c is not None]
    shares = [(float(s), bool(ok)) for _, ok, s, _ in points]
    latencies = [float(ms) for _, _, _, ms in points if ms is not None]
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        "<ul>" + "".join(f"<li>{_e(line)}</li>" for line in context) + "</ul>",
        *_ex_section(ex_table(con)),
        *_comparison_section(system_scores(con)),
        *_selection_section(selection_summary(con)),
        *_calibration_section(confidences),
        *_agreement_section(shares),
        *_latency_section(con, latencies),
        *_status_section(con),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def write_html_report(db_path: Path, out_dir: Path, title: str, context: list[str]) -> Path:
    """Write ``report.html`` into ``out_dir`` from the duckdb file; return its path."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        page = render_html(con, title, context)
    finally:
        con.close()
    path = out_dir / HTML_FILE
    path.write_text(page, encoding="utf-8")
    return path
