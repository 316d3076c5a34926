"""Ties at a LIMIT boundary: SQL whose answer depends on how SQLite happens to break them.

``SELECT name FROM player ORDER BY age DESC LIMIT 1`` has one right answer only if a single player is
the oldest; when two share the top age, SQLite returns whichever it meets first, and a correct query
written another way may return the other. The same holds for every query with ``ORDER BY ... LIMIT k``,
at any depth (``WHERE id = (SELECT id FROM t ORDER BY x DESC LIMIT 1)``): the answer is well defined
only when the k-th and the (k+1)-th rows differ in their ORDER BY keys (and, with ``OFFSET o``, rows o
and o+1 too).

For each such query, ``boundary_probes`` builds a probe: the same query with one column added,
``RANK() OVER (ORDER BY <the same keys>)`` (result aliases and ordinals spelled out, as a window needs),
and one more row fetched past the end of the LIMIT (and one before its start when there is an OFFSET).
Ranking in SQLite itself ties exactly the rows SQLite's sort considers equal (collations, NULLs, numeric
affinity), and ``tied_at_boundary`` compares the ranks across the boundary. ``find_boundary_tie`` runs
the probes on a connection and reports the first tie; a query that cannot be checked on its own (a
correlated subquery, a non-literal LIMIT, a compound query) is reported too, as it cannot be shown to
have one answer. A LIMIT without ORDER BY is out of scope.

>>> [p.sql for p in boundary_probes("SELECT name FROM player ORDER BY age DESC LIMIT 3")]
['SELECT name, RANK() OVER (ORDER BY age DESC) AS _boundary_rank FROM player ORDER BY age DESC LIMIT 4']
>>> probe = boundary_probes("SELECT a FROM t WHERE b = (SELECT b FROM u ORDER BY 1 LIMIT 1)")[0]
>>> probe.nested, probe.sql
(True, 'SELECT b, RANK() OVER (ORDER BY b) AS _boundary_rank FROM u ORDER BY 1 LIMIT 2')
>>> tied_at_boundary(probe, [1, 1]), tied_at_boundary(probe, [1, 2]), tied_at_boundary(probe, [1])
(True, False, False)
>>> boundary_probes("SELECT COUNT(*) FROM t ORDER BY 1")
[]
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

import sqlglot
from sqlglot import exp
from sqlglot.dialects.sqlite import SQLite

from sqlensemble.errors import DataError

RANK_ALIAS = "_boundary_rank"


class _BacktickSQLite(SQLite):
    """SQLite that writes identifiers in backticks.

    A double-quoted name that matches no column is a string literal to SQLite, so a nested probe written
    with double quotes would quietly turn an outer (correlated) column into a constant; a backticked one
    fails with "no such column" instead, which is how a correlated subquery is recognised.
    """

    class Tokenizer(SQLite.Tokenizer):
        IDENTIFIERS: ClassVar[list[str | tuple[str, str]]] = ["`", '"', ("[", "]")]


@dataclass(frozen=True)
class Probe:
    """How to check one ``ORDER BY ... LIMIT`` query for a tie; ``sql`` is None where it cannot be."""

    query: str  # the (sub)query with ORDER BY ... LIMIT: the SQL as given, or a subquery's text
    sql: str | None  # the query plus a rank column, one more row on each boundary
    limit: int
    offset: int
    nested: bool
    reason: str = ""  # why ``sql`` is None


@dataclass(frozen=True)
class BoundaryTie:
    """A query whose rows at a LIMIT boundary are not ordered by its keys, or cannot be shown to be."""

    query: str
    kind: Literal["tie", "unchecked"]
    reason: str


def _int(node: exp.Expression | None) -> int | None:
    value = node.args.get("expression") if node is not None else None
    return int(value.name) if isinstance(value, exp.Literal) and value.is_int else None


def _unaliased(node: exp.Expression) -> exp.Expression:
    return node.this if isinstance(node, exp.Alias) else node


def _resolved_keys(select: exp.Select) -> list[exp.Ordered] | None:
    """The ORDER BY terms with result aliases and ordinals replaced by the expressions they name.

    A window's ORDER BY sees neither, unlike the query's own ORDER BY. None if a term names ``*``.
    """
    projections = select.expressions
    aliases = {p.alias.lower(): p.this for p in projections if isinstance(p, exp.Alias)}
    keys: list[exp.Ordered] = []
    for ordered in select.args["order"].expressions:
        term = ordered.this
        if isinstance(term, exp.Literal) and term.is_int:
            index = int(term.name) - 1
            if not 0 <= index < len(projections) or isinstance(projections[index], exp.Star):
                return None
            term = _unaliased(projections[index]).copy()
        else:
            term = term.copy()
            named = [c for c in term.find_all(exp.Column) if not c.table and c.name.lower() in aliases]
            for col in named:
                replacement = aliases[col.name.lower()].copy()
                term = replacement if col is term else term
                col.replace(replacement)  # a no-op on ``term`` itself, which has no parent
        keys.append(exp.Ordered(**{**ordered.args, "this": term}))
    return keys


def _probe(query: exp.Query, root: exp.Expr, sql: str) -> Probe:
    nested = query is not root
    dialect: type[SQLite] = _BacktickSQLite if nested else SQLite
    text = query.sql(dialect=dialect) if nested else sql
    limit = _int(query.args.get("limit"))
    offset = _int(query.args["offset"]) if query.args.get("offset") is not None else 0
    if limit is None or offset is None:
        return Probe(text, None, 0, 0, nested, "LIMIT or OFFSET is not a number")
    if not isinstance(query, exp.Select):
        return Probe(text, None, limit, offset, nested, "compound query")
    keys = _resolved_keys(query)
    if keys is None:
        return Probe(text, None, limit, offset, nested, "ORDER BY names a * column")
    probe = query.copy() if nested else query  # the root is probed last, so it may be changed in place
    if nested and root.args.get("with_") is not None and probe.args.get("with_") is None:
        probe.set("with_", root.args["with_"].copy())
    rank = exp.Window(this=exp.Rank(), order=exp.Order(expressions=keys), over="OVER")
    probe.select(exp.alias_(rank, RANK_ALIAS), append=True, copy=False)
    skip = 1 if offset else 0
    probe.set("limit", exp.Limit(expression=exp.Literal.number(limit + 1 + skip)))
    probe.set("offset", exp.Offset(expression=exp.Literal.number(offset - skip)) if offset else None)
    return Probe(text, probe.sql(dialect=dialect), limit, offset, nested)


def boundary_probes(sql: str) -> list[Probe]:
    """One probe per query in ``sql`` (outermost first) that has both ORDER BY and LIMIT.

    >>> [p.reason for p in boundary_probes("SELECT a FROM t UNION SELECT b FROM u ORDER BY 1 LIMIT 2")]
    ['compound query']
    >>> boundary_probes("SELECT a FROM t ORDER BY b LIMIT 2 OFFSET 5")[0].sql
    'SELECT a, RANK() OVER (ORDER BY b) AS _boundary_rank FROM t ORDER BY b LIMIT 4 OFFSET 4'
    """
    if "limit" not in sql.lower():
        return []
    try:
        root = sqlglot.parse_one(sql, read="sqlite")
    except sqlglot.errors.ParseError as e:
        raise DataError(f"cannot parse SQL to check for ties: {e}: {sql}") from e
    queries = [
        q
        for q in root.find_all(exp.Select, exp.SetOperation, bfs=True)
        if q.args.get("order") is not None and q.args.get("limit") is not None
    ]
    return [_probe(q, root, sql) for q in reversed(queries)][::-1]


def tied_at_boundary(probe: Probe, ranks: Sequence[int]) -> bool:
    """Whether the ranks of the probe's rows tie across the start or the end of the LIMIT window.

    ``ranks`` holds the rank column of the probe's rows in order: the row before the window when there
    is an OFFSET, then the window's rows, then the row after it.

    >>> p = Probe("", "", limit=2, offset=3, nested=False)
    >>> [tied_at_boundary(p, ranks) for ranks in ([4, 4, 6, 7], [3, 4, 5, 5], [3, 4, 5, 6], [3, 4])]
    [True, True, False, False]
    """
    skip = 1 if probe.offset else 0
    if skip and len(ranks) >= 2 and ranks[0] == ranks[1]:
        return True
    last = skip + probe.limit - 1
    return probe.limit > 0 and len(ranks) > last + 1 and ranks[last] == ranks[last + 1]


def find_boundary_tie(conn: sqlite3.Connection, sql: str) -> BoundaryTie | None:
    """The first ``ORDER BY ... LIMIT`` query in ``sql`` whose boundary rows tie on ``conn``, if any.

    A query that cannot be checked is reported as well, as ``"unchecked"``: see ``Probe.reason``, or a
    probe SQLite refuses (mostly a nested query that refers to its outer query). An interrupted probe
    raises ``sqlite3.OperationalError``, so a caller's time limit (a progress handler) applies to the
    probes as it does to the query itself.
    """
    for probe in boundary_probes(sql):
        if probe.sql is None:
            return BoundaryTie(probe.query, "unchecked", probe.reason)
        try:
            rows = conn.execute(probe.sql).fetchall()
        except sqlite3.OperationalError as e:
            if "interrupted" in str(e):
                raise
            return BoundaryTie(probe.query, "unchecked", f"probe fails: {e}")
        if tied_at_boundary(probe, [row[-1] for row in rows]):
            return BoundaryTie(probe.query, "tie", f"rows tie on the ORDER BY keys at LIMIT {probe.limit}")
    return None
