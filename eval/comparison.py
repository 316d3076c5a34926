"""The ensemble against every other system of the EX table, with bootstrap error bars.

Each system is one 0/1 vector over the questions of the slice, in position order, taken from the same
query as the EX table (``report.SCORED_SQL``), so the differences here are differences of the EX
table's totals. The thesis of the demo is stated against the best single generator: the generator
whose first sample has the highest EX (the first such in the table on a tie).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlensemble.eval.bootstrap import PairedDifference, paired_bootstrap

Kind = Literal["ensemble", "first", "majority", "oracle"]
KINDS: tuple[Kind, ...] = ("ensemble", "first", "majority", "oracle")  # by the EX table's rank


@dataclass(frozen=True)
class SystemScores:
    """One row of the EX table as per-question outcomes, in position order."""

    system: str
    kind: Kind
    correct: tuple[bool, ...]

    @property
    def ex(self) -> float:
        return 100.0 * sum(self.correct) / len(self.correct) if self.correct else 0.0


@dataclass(frozen=True)
class Comparison:
    """The ensemble minus ``other``, in EX points, over the same questions."""

    other: SystemScores
    ensemble_ex: float
    difference: PairedDifference


def compare_systems(systems: Sequence[SystemScores]) -> list[Comparison]:
    """The ensemble against every other system, in table order; empty without an ensemble or questions.

    >>> rows = [SystemScores("ensemble", "ensemble", (True, True, False)),
    ...         SystemScores("a first", "first", (True, False, False))]
    >>> [(c.other.system, round(c.difference.points, 2)) for c in compare_systems(rows)]
    [('a first', 33.33)]
    """
    ensemble = next((s for s in systems if s.kind == "ensemble"), None)
    if ensemble is None or not ensemble.correct:
        return []
    return [
        Comparison(s, ensemble.ex, paired_bootstrap(ensemble.correct, s.correct))
        for s in systems
        if s.kind != "ensemble"
    ]


def best_single(comparisons: Sequence[Comparison]) -> Comparison | None:
    """The comparison with the best first-sample generator (highest EX, the first one on a tie)."""
    firsts = [c for c in comparisons if c.other.kind == "first"]
    return max(firsts, key=lambda c: c.other.ex, default=None)


def thesis(difference: PairedDifference) -> str:
    """The demo's claim, from the ensemble-minus-best difference; a negative one reads "trails".

    >>> thesis(PairedDifference(4.1667, -4.1667, 12.5, 0.95, 10000))
    'the vote beats the best single generator by 4.2 points (95% interval -4.2 to 12.5)'
    >>> thesis(PairedDifference(-5.0, -10.0, 0.5, 0.95, 10000))
    'the vote trails the best single generator by 5.0 points (95% interval -0.5 to 10.0)'
    """
    level = f"{100 * difference.confidence:g}%"
    if difference.points >= 0:
        verb, points, low, high = "beats", difference.points, difference.low, difference.high
    else:  # stated as the generator's lead, so the interval reads the same way round
        verb, points, low, high = "trails", -difference.points, -difference.high, -difference.low
    return (
        f"the vote {verb} the best single generator by {points:.1f} points "
        f"({level} interval {low + 0.0:.1f} to {high + 0.0:.1f})"
    )


def thesis_sentence(best: Comparison) -> str:
    """The thesis with the systems it names, as both reports print it."""
    return (
        f"{thesis(best.difference)}. Best single generator: {best.other.system} sample, "
        f"EX {best.other.ex:.2f}; the vote: EX {best.ensemble_ex:.2f}."
    )


def comparison_note(difference: PairedDifference, questions: int) -> str:
    """What the comparison table's numbers are, as both reports print it."""
    return (
        f"Ensemble EX minus the system's EX, in points, over the same {questions} questions; "
        f"{100 * difference.confidence:g}% percentile interval from {difference.resamples} resamples of "
        "the questions (with replacement, fixed seed)."
    )


COMPARISON_HEADER = ("ensemble vs", "system EX", "difference (points)")


def comparison_rows(comparisons: Sequence[Comparison]) -> list[list[str]]:
    """One row per compared system: its EX, the difference and the interval."""
    return [
        [c.other.system, f"{c.other.ex:.2f}", f"{c.difference.points:+.2f}",
         f"{c.difference.low:+.2f} to {c.difference.high:+.2f}"]
        for c in comparisons
    ]  # fmt: skip


def comparison_markdown(systems: Sequence[SystemScores]) -> list[str]:
    """The report's section: the thesis, then one row per system the ensemble is compared with."""
    comparisons = compare_systems(systems)
    lines = ["## Ensemble against each system (paired bootstrap)", ""]
    if not comparisons:
        return [*lines, "(no questions)", ""]
    best = best_single(comparisons)
    if best is not None:
        lines += [f"**Thesis:** {thesis_sentence(best)}", ""]
    d = comparisons[0].difference
    header = [*COMPARISON_HEADER, f"{100 * d.confidence:g}% interval"]
    lines += [
        comparison_note(d, len(systems[0].correct)),
        "",
        "| " + " | ".join(header) + " |",
        "| --- | ---: | ---: | ---: |",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in comparison_rows(comparisons)]
    return [*lines, ""]
