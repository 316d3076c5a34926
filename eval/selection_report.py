"""The report's section on the selection model: the vote against vote + selector, on the same questions.

With ``selection.mode: model`` the gateway answers with the vote's pick, or, when the vote was unsure and
the selection model named another group, with that group's answer. ``questions.vote_correct`` judges the
vote's own pick and ``ensemble_correct`` the answer given (vote + selector); both rows have the slice as
their denominator, as the EX table's rows have (a question without an answer counts wrong in both). Their
difference is a paired bootstrap over the same questions (``bootstrap``), and the counts say how often the
selector was consulted, overruled the vote and was right when it did. A run without a question answered
in mode ``model`` has no such section.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from sqlensemble.eval.accuracy import Cell, ExRow, ex_markdown, ex_rows, ex_sql, markdown_table, scores_sql
from sqlensemble.eval.bootstrap import PairedDifference, paired_bootstrap

HEADING = "Selection: vote and vote + selector"

SELECTION_SCORED_SQL = """
SELECT 'vote' AS system, 0 AS rank, '' AS generator, difficulty, vote_correct AS correct, position
FROM questions
UNION ALL
SELECT 'vote + selector', 1, '', difficulty, ensemble_correct, position FROM questions
"""
SELECTION_EX_SQL = ex_sql(SELECTION_SCORED_SQL, "rank")
SELECTION_SCORES_SQL = scores_sql(SELECTION_SCORED_SQL, "rank")

USED_SQL = "SELECT count(*) FILTER (WHERE answered AND selection_mode = 'model') FROM questions"

COUNTS_SQL = """
SELECT count(*),
    count(*) FILTER (WHERE selection_consulted),
    count(*) FILTER (WHERE selection_consulted AND NOT selection_overruled AND NOT selection_fell_back),
    count(*) FILTER (WHERE selection_overruled),
    count(*) FILTER (WHERE selection_overruled AND ensemble_correct),
    count(*) FILTER (WHERE selection_overruled AND vote_correct AND NOT ensemble_correct),
    count(*) FILTER (WHERE selection_fell_back)
FROM questions
"""

# The counts table: what the row says, the SelectorCounts field counted, the field it is a share of.
COUNT_ROWS: tuple[tuple[str, str, str], ...] = (
    ("consulted", "consulted", "questions"),
    ("agreed with the vote", "agreed", "consulted"),
    ("overruled the vote", "overruled", "consulted"),
    ("right when it overruled (answer given correct)", "overruled_right", "overruled"),
    ("overruled a correct vote (vote right, answer given wrong)", "overruled_correct_vote", "overruled"),
    ("fell back to the vote (no valid label, or the call failed)", "fell_back", "consulted"),
)


@dataclass(frozen=True)
class SelectorCounts:
    """What the selector did, in questions of the slice."""

    questions: int
    consulted: int
    agreed: int  # consulted and named the vote's own group
    overruled: int  # named another group, whose answer was given
    overruled_right: int  # ... and that answer is correct
    overruled_correct_vote: int  # ... where the vote's pick was correct and the answer given is not
    fell_back: int  # consulted without a valid pick (failed, timed out, no single label): the vote answers

    def rows(self) -> list[tuple[str, Cell, str]]:
        """Each count as a share of the count it is taken among (``COUNT_ROWS``): (what, cell, among).

        >>> [cell.render() for _, cell, _ in SelectorCounts(10, 4, 1, 2, 1, 1, 1).rows()]
        ['40.00 (4/10)', '25.00 (1/4)', '50.00 (2/4)', '50.00 (1/2)', '50.00 (1/2)', '25.00 (1/4)']
        """
        return [
            (what, Cell(int(getattr(self, count)), int(getattr(self, among))), among)
            for what, count, among in COUNT_ROWS
        ]


@dataclass(frozen=True)
class SelectionSummary:
    table: list[ExRow]  # vote, then vote + selector
    difference: PairedDifference  # vote + selector minus vote
    counts: SelectorCounts


def selection_summary(con: duckdb.DuckDBPyConnection) -> SelectionSummary | None:
    """The section's numbers, or ``None`` when no question was answered with ``selection.mode: model``."""
    used = con.execute(USED_SQL).fetchone()
    if used is None or not used[0]:
        return None
    scores = {str(system): correct for system, _, correct in con.execute(SELECTION_SCORES_SQL).fetchall()}
    difference = paired_bootstrap(
        [bool(v) for v in scores["vote + selector"]], [bool(v) for v in scores["vote"]]
    )
    counts = SelectorCounts(*(int(v) for v in con.execute(COUNTS_SQL).fetchone() or ()))
    return SelectionSummary(ex_rows(con, SELECTION_EX_SQL), difference, counts)


def verdict(difference: PairedDifference) -> str:
    """The section's claim, from the vote + selector minus vote difference; a negative one reads "costs".

    >>> verdict(PairedDifference(12.5, 4.1667, 20.8333, 0.95, 10000))
    'the selector adds 12.5 points over the vote (95% interval 4.2 to 20.8)'
    >>> verdict(PairedDifference(-5.0, -10.0, 0.5, 0.95, 10000))
    'the selector costs 5.0 points against the vote (95% interval -0.5 to 10.0)'
    """
    level = f"{100 * difference.confidence:g}%"
    if difference.points >= 0:
        claim, low, high = f"adds {difference.points:.1f} points over", difference.low, difference.high
    else:  # stated as the loss, so the interval reads the same way round
        claim, low, high = f"costs {-difference.points:.1f} points against", -difference.high, -difference.low
    return f"the selector {claim} the vote ({level} interval {low + 0.0:.1f} to {high + 0.0:.1f})"


def interval_note(difference: PairedDifference, questions: int) -> str:
    """How the interval was drawn, under the claim."""
    return (
        f"vote + selector EX minus vote EX, in points, over the same {questions} questions; "
        f"{100 * difference.confidence:g}% percentile interval from {difference.resamples} resamples of the "
        "questions (with replacement, fixed seed)."
    )


def selection_markdown(summary: SelectionSummary | None) -> list[str]:
    """The report's section; nothing without a question answered in mode ``model``."""
    if summary is None:
        return []
    d, counts = summary.difference, summary.counts
    lines = [f"## {HEADING}", "", *ex_markdown(summary.table), ""]
    lines += [f"**Result:** {verdict(d)}.", "", interval_note(d, counts.questions), ""]
    lines += markdown_table(
        ["selector", "questions", "share (%)", "of"],
        [[what, str(cell.correct), cell.render(), base] for what, cell, base in counts.rows()],
    )
    return [*lines, ""]
