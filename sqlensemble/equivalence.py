"""When two query results count as the same answer.

``bird`` (the default) is exactly BIRD's execution-accuracy test, ``set(predicted) == set(gold)`` over the
row tuples that sqlite3 returns: column order matters, row order and duplicate rows do not, and values
compare with Python's ``==`` (so ``1 == 1.0``, but ``1 != '1'``). ``multiset`` also counts duplicates;
``ordered`` compares the row lists as they are.

Each mode is a key function: two results are equivalent exactly when their keys are equal, so voting can
group candidates with a dict.

>>> equivalent([(1, "a"), (2, "b")], [(2, "b"), (1, "a"), (1, "a")])
True
>>> equivalent([(1, "a")], [("a", 1)])
False
>>> equivalent([(1,), (1,)], [(1,)], "multiset")
False
>>> equivalent([(1,), (2,)], [(2,), (1,)], "ordered")
False
>>> equivalent([(3,)], [(3.0,)])
True
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, Literal, get_args

Equivalence = Literal["bird", "multiset", "ordered"]

Row = Sequence[Any]


def _rows(rows: Iterable[Row]) -> list[tuple[Any, ...]]:
    # Rows read back from JSON are lists; tuples are what sqlite3 gives and what BIRD compares.
    return [tuple(row) for row in rows]


def _bird_key(rows: Iterable[Row]) -> Hashable:
    return frozenset(_rows(rows))


def _multiset_key(rows: Iterable[Row]) -> Hashable:
    return frozenset(Counter(_rows(rows)).items())


def _ordered_key(rows: Iterable[Row]) -> Hashable:
    return tuple(_rows(rows))


KEY_FUNCTIONS: dict[str, Callable[[Iterable[Row]], Hashable]] = {
    "bird": _bird_key,
    "multiset": _multiset_key,
    "ordered": _ordered_key,
}

MODES: tuple[str, ...] = get_args(Equivalence)


def result_key(rows: Iterable[Row], mode: Equivalence = "bird") -> Hashable:
    """A hashable key that is equal for two results exactly when they are equivalent under ``mode``.

    >>> result_key([(1,), (1,), (2,)]) == result_key([(2,), (1,)])
    True
    >>> result_key([(1,)], "sorted")
    Traceback (most recent call last):
    ...
    ValueError: unknown equivalence 'sorted'; choose from bird, multiset, ordered
    """
    try:
        key_function = KEY_FUNCTIONS[mode]
    except KeyError:
        raise ValueError(f"unknown equivalence {mode!r}; choose from {', '.join(MODES)}") from None
    return key_function(rows)


def equivalent(a_rows: Iterable[Row], b_rows: Iterable[Row], mode: Equivalence = "bird") -> bool:
    """Whether two results are the same answer under ``mode`` (see the module docstring)."""
    return result_key(a_rows, mode) == result_key(b_rows, mode)
