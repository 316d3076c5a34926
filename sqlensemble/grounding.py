"""Literal grounding: the values a query compares against that the question and its evidence never name.

A generator that has not learnt to copy a value from the question writes a plausible one instead
(``Name = 'Pacific Airlines'`` for "Pacific Air", ``Stock > 488`` for "more than 478"); such a query
often runs and returns rows, and when several samples make the same slip their group can outvote the
right one. The vote therefore weighs a candidate that compares a column with a value found nowhere in
the question or evidence by ``gateway.ungrounded_weight`` (``sqlensemble.ensemble.candidates``).

Only literals that are an operand of a comparison (``=``, ``<>``, ``<``, ``<=``, ``>``, ``>=``,
``LIKE``, ``GLOB``, ``IN``, ``BETWEEN``) count: ``THEN 1 ELSE 0``, ``LIMIT 5`` and ``strftime('%Y', d)``
are structure, not values. A string is grounded when the text holds it as a whole phrase, case and
runs of whitespace ignored (split at the wildcards of ``LIKE`` and ``GLOB``, ``% _ * ?``, each piece
must be there: lenient for a plain string that holds one); a number when the text holds the same
number; 0 and 1 always are (flags and booleans).

Every gold query of the synthetic benchmark is grounded by this rule. BIRD's evidence names most coded
values (``female refers to gender = 'F'``) but a right query may still use a value in another form (a
date range for "in 2012"), which is why the weight is a discount and not a filter.

>>> import sqlglot
>>> source = grounding_text("How many flights operated by Pacific Air are there?", None)
>>> ungrounded(compared_literals(sqlglot.parse_one(
...     "SELECT COUNT(*) FROM Flight WHERE Airline = 'Pacific Airlines' AND Seats > 1")), source)
("'Pacific Airlines'",)
>>> ungrounded(compared_literals(sqlglot.parse_one(
...     "SELECT COUNT(*) FROM Flight WHERE Airline = 'pacific air'")), source)
()
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlglot import exp

COMPARISONS: tuple[type[exp.Expr], ...] = (
    exp.EQ,
    exp.NEQ,
    exp.NullSafeEQ,
    exp.NullSafeNEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.Like,
    exp.ILike,
    exp.Glob,
    exp.In,
    exp.Between,
)
ALWAYS_GROUNDED_NUMBERS: frozenset[float] = frozenset({0.0, 1.0})
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w])")
_PATTERN_WILDCARDS = re.compile(r"[%_*?]")


@dataclass(frozen=True)
class ValueLiteral:
    """A literal a query compares something with: its text and whether it was a quoted string."""

    text: str
    is_string: bool

    def __str__(self) -> str:
        return f"'{self.text}'" if self.is_string else self.text


def compared_literals(tree: exp.Expr) -> tuple[ValueLiteral, ...]:
    """The literals that are direct operands of a comparison in ``tree``, each once (in the order
    sqlglot walks the tree).

    >>> import sqlglot
    >>> tree = sqlglot.parse_one(
    ...     "SELECT SUM(CASE WHEN strftime('%Y', d) = '2019' THEN 1 ELSE 0 END) FROM t "
    ...     "WHERE x IN (3, 4) AND y BETWEEN -2 AND 5.5 AND z LIKE '%ab%' LIMIT 7")
    >>> [str(v) for v in compared_literals(tree)]
    ["'%ab%'", "'2019'", '3', '4', '-2', '5.5']
    """
    seen: dict[ValueLiteral, None] = {}
    for node in tree.find_all(*COMPARISONS):
        operands = list(node.iter_expressions())
        if isinstance(node, exp.In):
            operands += list(node.expressions)
        for operand in operands:
            value = _literal(operand)
            if value is not None:
                seen.setdefault(value)
    return tuple(seen)


def _literal(node: exp.Expr) -> ValueLiteral | None:
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        return ValueLiteral("-" + node.this.this, False)
    if isinstance(node, exp.Literal):
        return ValueLiteral(node.this, bool(node.is_string))
    return None


@dataclass(frozen=True)
class GroundingText:
    """What a value may be taken from: the question and evidence, lower-cased, whitespace runs as one,
    and the numbers it holds (read once, so each numeric literal is a set lookup, whatever the text's
    length or the query's number of literals)."""

    text: str
    numbers: frozenset[float]


def grounding_text(question: str, evidence: str | None) -> GroundingText:
    """The :class:`GroundingText` of a question and its evidence."""
    text = re.sub(r"\s+", " ", f"{question} {evidence or ''}").strip().lower()
    numbers = frozenset(n for n in map(_number, _NUMBER.findall(text)) if n is not None)
    return GroundingText(text, numbers)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def is_grounded(value: ValueLiteral, source: GroundingText) -> bool:
    """Whether ``source`` (from :func:`grounding_text`) names ``value``.

    >>> source = grounding_text("Tall players of the Phoenix Wolves", "tall refers to Height > 190")
    >>> [is_grounded(ValueLiteral(v, s), source) for v, s in
    ...  [("190", False), ("190.0", False), ("300", False), ("phoenix wolves", True), ("Phoenix", True),
    ...   ("Phoenix W", True), ("%Wolves%", True), ("0", False), ("ten", True)]]
    [True, True, False, True, True, False, True, True, False]
    """
    if value.is_string:
        pieces = [p.strip() for p in _PATTERN_WILDCARDS.split(value.text.lower())]
        pieces = [re.sub(r"\s+", " ", p) for p in pieces if p]
        text = source.text
        # The substring test first: a piece the text lacks costs no regex scan.
        return all(p in text and re.search(rf"(?<!\w){re.escape(p)}(?!\w)", text) for p in pieces)
    number = _number(value.text)
    return number is None or number in ALWAYS_GROUNDED_NUMBERS or number in source.numbers


def ungrounded(literals: tuple[ValueLiteral, ...], source: GroundingText) -> tuple[str, ...]:
    """The literals ``source`` does not name, as SQL writes them."""
    return tuple(str(v) for v in literals if not is_grounded(v, source))
