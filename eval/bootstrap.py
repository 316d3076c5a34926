"""Error bars for EX differences: a paired bootstrap over questions.

Two systems judged on the same questions give two 0/1 vectors of the same length. Their difference in
EX is the mean of the per-question differences; resampling question indices with replacement (the same
indices for both systems, which is what makes it paired) and taking the mean difference of each resample
gives the percentile interval. The seed is fixed, so a report rebuilt from the same results shows the
same interval.

>>> d = paired_bootstrap([1, 1, 1, 0], [0, 1, 1, 0], resamples=2000)
>>> d.points, d.low <= d.points <= d.high, 0.0 <= d.low, d.high <= 75.0
(25.0, True, True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 10_000
SEED = 0
CONFIDENCE = 0.95
_CELLS_PER_CHUNK = 2_000_000  # resampled question indices held at once (16 MB of int64)


@dataclass(frozen=True)
class PairedDifference:
    """``mean(a) - mean(b)`` in percentage points, and its bootstrap percentile interval."""

    points: float
    low: float
    high: float
    confidence: float
    resamples: int


def paired_bootstrap(
    a: Sequence[bool | int],
    b: Sequence[bool | int],
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    confidence: float = CONFIDENCE,
) -> PairedDifference:
    """The paired difference of two per-question 0/1 vectors with a bootstrap ``confidence`` interval.

    >>> paired_bootstrap([1, 0, 1], [1, 0, 1])
    PairedDifference(points=0.0, low=0.0, high=0.0, confidence=0.95, resamples=10000)
    >>> paired_bootstrap([1, 1], [0, 0], resamples=10)
    PairedDifference(points=100.0, low=100.0, high=100.0, confidence=0.95, resamples=10)
    >>> paired_bootstrap([1], [1, 0])
    Traceback (most recent call last):
    ...
    ValueError: paired vectors differ in length: 1 and 2
    """
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired vectors differ in length: {len(a)} and {len(b)}")
    if x.size == 0:
        raise ValueError("paired vectors are empty")
    if not (np.isin(x, (0.0, 1.0)).all() and np.isin(y, (0.0, 1.0)).all()):
        raise ValueError("paired vectors must hold 0/1 (wrong/right) values")
    if resamples < 1 or not 0.0 < confidence < 1.0:
        raise ValueError("resamples must be >= 1 and confidence in (0, 1)")
    diff = x - y
    n = diff.size
    rng = np.random.default_rng(seed)
    means = np.empty(resamples, dtype=np.float64)
    chunk = max(1, _CELLS_PER_CHUNK // n)
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        means[start : start + size] = diff[rng.integers(0, n, size=(size, n))].mean(axis=1)
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(100.0 * means, [tail, 100.0 - tail])
    return PairedDifference(
        points=_round(100.0 * float(diff.mean())),
        low=_round(float(low)),
        high=_round(float(high)),
        confidence=confidence,
        resamples=resamples,
    )


def _round(value: float) -> float:
    """Round off floating noise (12 digits), and never show ``-0.0``.

    >>> _round(-0.0), _round(33.33333333333333)
    (0.0, 33.333333333333)
    """
    return round(value, 12) + 0.0
