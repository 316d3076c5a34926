"""Execution-based voting: candidates that return the same result form a group; the heaviest group wins.

Rules, in order (each later rule only breaks ties left by the earlier ones):

1. Only successful candidates (status ``ok`` or ``empty``) vote; they are grouped by the equivalence of
   their rows (``equivalence.result_key``; with ``bird`` only the rows count, not the column names).
2. The winning group has the largest total weight (sums compared after rounding to 9 decimals). The
   gateway's weights already hold its discounts (``ensemble.candidates.Weighing``: a value the question
   never names, a result with no rows).
3. A group with rows beats a group whose result is empty.
4. The group holding the highest-priority generator's first sample wins: each group is ranked by its
   best member in ``(priority, index)`` order (priority 1 is the highest), so a group holding a
   priority-1 generator's sample 0 beats one whose best member is sample 1 of that generator, which
   beats one holding only priority-2 samples.
5. The group with the shortest SQL (fewest characters, surrounding whitespace ignored) wins.
6. The group whose first member comes first in the input wins (so the result never depends on dict
   order).

A group's answer (its representative) is its member from the highest-priority generator; among that
generator's samples the shortest SQL, then the lowest sample index, then input order. Failed candidates
never win; when every candidate failed the decision is ``all_failed`` and carries the highest-priority
candidate (lowest priority number, then lowest sample index, then input order) with its error.
Confidence is the winning group's weight over the weight of all candidates, failed ones included.

Cluster ids follow the ranking: 0 is the winning group, then by weight and the rules above.

>>> from sqlensemble.executor import ExecResult
>>> def ran(sql, rows):
...     return ExecResult("ok" if rows else "empty", ("x",), rows, False, 0.0, None, sql)
>>> decision = vote([
...     Candidate("a", 0, "SELECT 1", "ok", ran("SELECT 1", ((1,),))),
...     Candidate("b", 0, "SELECT 2", "ok", ran("SELECT 2", ((2,),)), priority=2),
...     Candidate("b", 1, "SELECT 1.0", "ok", ran("SELECT 1.0", ((1.0,),)), priority=2),
...     Candidate("c", 0, "SELEC", "error", None, error="syntax error"),
... ])
>>> decision.status, decision.winner.sql, decision.assignments, decision.confidence
('ok', 'SELECT 1', (0, 1, 0, None), 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlensemble.equivalence import Equivalence, result_key
from sqlensemble.executor import ExecResult

CandidateStatus = Literal["ok", "empty", "error", "timeout", "refused", "no_sql", "backend_error"]
SUCCESS_STATUSES: frozenset[str] = frozenset({"ok", "empty"})
WEIGHT_DECIMALS = 9


@dataclass(frozen=True)
class Candidate:
    """One sampled SQL and what became of it.

    ``index`` is the sample's position among its generator's samples; ``priority`` 1 is the highest.
    ``error`` holds a failure's message when there is no ``result`` to carry it (``no_sql``,
    ``backend_error``); otherwise the result's error is used.
    """

    generator: str
    index: int
    sql: str | None
    status: CandidateStatus
    result: ExecResult | None
    weight: float = 1.0
    priority: int = 1
    error: str | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.weight) and self.weight >= 0):
            raise ValueError(f"weight must be a finite number >= 0, got {self.weight}")
        if self.priority < 1:
            raise ValueError(f"priority must be >= 1 (1 is the highest), got {self.priority}")
        if self.index < 0:
            raise ValueError(f"index must be >= 0, got {self.index}")
        if self.status in SUCCESS_STATUSES and self.result is None:
            raise ValueError(f"a candidate with status {self.status!r} needs its execution result")

    @property
    def succeeded(self) -> bool:
        return self.status in SUCCESS_STATUSES and self.result is not None

    @property
    def error_message(self) -> str | None:
        if self.error is not None:
            return self.error
        return self.result.error if self.result is not None else None


@dataclass(frozen=True)
class Cluster:
    """A group of equivalent results. ``members`` and ``representative`` are input positions."""

    id: int
    members: tuple[int, ...]
    size: int
    weight: float
    representative: int


@dataclass(frozen=True)
class Decision:
    """The vote's outcome; ``assignments[i]`` is the cluster id of input candidate ``i`` (None: failed)."""

    status: Literal["ok", "all_failed"]
    winner: Candidate
    cluster: int | None
    clusters: tuple[Cluster, ...]
    confidence: float
    assignments: tuple[int | None, ...]

    @property
    def error(self) -> str | None:
        """The carried candidate's error when every candidate failed."""
        return self.winner.error_message if self.status == "all_failed" else None


def _sql_length(candidate: Candidate) -> float:
    return len(candidate.sql.strip()) if candidate.sql is not None else math.inf


def _weight(candidates: Sequence[Candidate], members: Sequence[int]) -> float:
    return sum(candidates[p].weight for p in members)


def _representative(candidates: Sequence[Candidate], members: Sequence[int]) -> int:
    def order(p: int) -> tuple[int, float, int, int]:
        c = candidates[p]
        return (c.priority, _sql_length(c), c.index, p)

    return min(members, key=order)


def _group_rank(candidates: Sequence[Candidate], members: Sequence[int]) -> tuple[object, ...]:
    """Sort key of a group: the lower, the better (rules 2-6 of the module docstring)."""
    first = candidates[members[0]]
    is_empty = first.result is None or not first.result.rows
    return (
        -round(_weight(candidates, members), WEIGHT_DECIMALS),
        is_empty,
        min((candidates[p].priority, candidates[p].index) for p in members),
        min(_sql_length(candidates[p]) for p in members),
        members[0],
    )


def vote(candidates: Sequence[Candidate], equivalence: Equivalence = "bird") -> Decision:
    """Group successful candidates by result and pick the winning group (see the module docstring).

    >>> vote([Candidate("a", 0, None, "no_sql", None, error="no SQL in output")]).error
    'no SQL in output'
    """
    if not candidates:
        raise ValueError("vote needs at least one candidate")
    groups: dict[Hashable, list[int]] = {}
    for position, candidate in enumerate(candidates):
        if candidate.succeeded and candidate.result is not None:
            groups.setdefault(result_key(candidate.result.rows, equivalence), []).append(position)
    total = sum(c.weight for c in candidates)
    if not groups:
        carried = min(range(len(candidates)), key=lambda p: (candidates[p].priority, candidates[p].index, p))
        return Decision(
            status="all_failed",
            winner=candidates[carried],
            cluster=None,
            clusters=(),
            confidence=0.0,
            assignments=(None,) * len(candidates),
        )
    ranked = sorted(groups.values(), key=lambda members: _group_rank(candidates, members))
    clusters = tuple(
        Cluster(
            id=cluster_id,
            members=tuple(members),
            size=len(members),
            weight=_weight(candidates, members),
            representative=_representative(candidates, members),
        )
        for cluster_id, members in enumerate(ranked)
    )
    assignments: list[int | None] = [None] * len(candidates)
    for cluster in clusters:
        for position in cluster.members:
            assignments[position] = cluster.id
    best = clusters[0]
    return Decision(
        status="ok",
        winner=candidates[best.representative],
        cluster=best.id,
        clusters=clusters,
        confidence=best.weight / total if total > 0 else 0.0,
        assignments=tuple(assignments),
    )
