"""The paired bootstrap behind report.md's error bars: reproducible, paired, and as wide as theory says."""

from __future__ import annotations

import math

import pytest

from sqlensemble.eval.bootstrap import paired_bootstrap
from sqlensemble.eval.comparison import SystemScores, best_single, compare_systems, comparison_markdown


def pattern(n: int, every: int, offset: int = 0) -> list[bool]:
    return [(i + offset) % every == 0 for i in range(n)]


def test_the_same_seed_gives_the_same_interval_and_another_seed_another() -> None:
    a, b = pattern(200, 2), pattern(200, 3)
    first, again = paired_bootstrap(a, b), paired_bootstrap(a, b)
    assert first == again
    other = paired_bootstrap(a, b, seed=1)
    assert other.points == first.points and (other.low, other.high) != (first.low, first.high)


def test_resampling_is_paired() -> None:
    # b is a with 10 of 200 answers turned wrong: every resample's difference is >= 0, so the paired
    # interval cannot dip below zero; resampling each system on its own indices would.
    a = pattern(200, 2)
    b = list(a)
    for i in range(0, 40, 4):
        b[i] = False
    d = paired_bootstrap(a, b)
    assert d.points == 5.0
    assert 0.0 <= d.low < d.points < d.high


def test_the_interval_matches_the_normal_approximation() -> None:
    # n = 400 with differences +1 on 60 questions, -1 on 20: mean 0.1, sd of the mean = s / sqrt(n).
    n = 400
    a = [i < 60 or 100 <= i < 200 for i in range(n)]
    b = [100 <= i < 220 for i in range(n)]
    diffs = [int(x) - int(y) for x, y in zip(a, b, strict=True)]
    mean = sum(diffs) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / n)
    half = 100 * 1.96 * sd / math.sqrt(n)
    got = paired_bootstrap(a, b)
    assert got.points == pytest.approx(100 * mean)
    assert (got.high - got.low) / 2 == pytest.approx(half, rel=0.1)
    assert got.low == pytest.approx(100 * mean - half, abs=1.0)


def test_many_questions_are_resampled_in_chunks() -> None:
    # 2 500 questions x 10 000 resamples is more than one chunk; the result is still the whole count.
    a, b = pattern(2500, 2), pattern(2500, 2, offset=1)
    d = paired_bootstrap(a, b, resamples=10_000)
    assert d.resamples == 10_000 and d.points == 0.0 and d.low < 0.0 < d.high


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [([], [], "empty"), ([1, 0], [1], "differ in length"), ([2, 0], [1, 0], "0/1")],
)
def test_bad_vectors_are_refused(a: list[int], b: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        paired_bootstrap(a, b)


def test_the_thesis_names_the_best_first_sample_and_trails_when_behind() -> None:
    systems = [
        SystemScores("ensemble", "ensemble", tuple(pattern(20, 2))),  # 10 right
        SystemScores("a first", "first", tuple(pattern(20, 4))),  # 5
        SystemScores("a majority", "majority", tuple(pattern(20, 1))),  # 20, not a single sample
        SystemScores("b first", "first", tuple(pattern(20, 1)[:12] + [False] * 8)),  # 12
        SystemScores("oracle", "oracle", tuple(pattern(20, 1))),
    ]
    best = best_single(compare_systems(systems))
    assert best is not None and best.other.system == "b first"
    text = "\n".join(comparison_markdown(systems))
    assert "**Thesis:** the vote trails the best single generator by 10.0 points (95% interval " in text
    assert "Best single generator: b first sample, EX 60.00; the vote: EX 50.00." in text
    assert "| a first | 25.00 | +25.00 |" in text and "| oracle | 100.00 | -50.00 |" in text
