"""Fill template slots for one database: identifiers and nouns from the variant, values from its rows.

``Binder(variant, tables).bind(rng)`` draws one complete slot table; ``render`` fills a template with it.
Values are drawn from the rows themselves (a name that exists, a year that occurs, a threshold at a
quantile of the column), so most instantiations return rows; the generator still executes each one.

>>> nice_number(1473921.0, integer=True), nice_number(3.47, integer=False), nice_number(212.4, integer=False)
('1500000', '3.5', '212')
>>> article("age"), article("GPA"), article("unit price")
('an', 'a', 'a')
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from sqlensemble.schema import quote_identifier
from sqlensemble.synth.data import TableData, Value
from sqlensemble.synth.domains import ROLES, ColumnSpec, Role
from sqlensemble.synth.templates import SLOT, Template
from sqlensemble.synth.variants import Variant, pluralize


def nice_number(x: float, *, integer: bool) -> str:
    """Round a threshold the way a person would write it."""
    if integer or abs(x) >= 100:
        v = round(x)
        if abs(v) >= 10000:
            mag = 10 ** (len(str(abs(v))) - 2)
            v = round(v / mag) * mag
        return str(v)
    return f"{x:.1f}"


def article(noun: str) -> str:
    word = noun.lower()
    vowel = word[:1] in "aeiou" and not word.startswith(("uni", "use", "one", "eu"))
    return "an" if vowel else "a"


def _plain(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


@dataclass(frozen=True)
class Rendered:
    template: Template
    question: str
    sql: str
    evidence: str


class Binder:
    """Slot tables for one variant and its generated rows."""

    def __init__(self, variant: Variant, tables: dict[str, TableData]) -> None:
        self.variant = variant
        self.tables = tables
        self.static: dict[str, str] = {}
        self.values: dict[tuple[str, str], list[Value]] = {}
        self.sorted: dict[tuple[str, str], list[float]] = {}
        self.distinct: dict[tuple[str, str], list[str]] = {}
        self.means: dict[tuple[str, str], float] = {}
        for role in ROLES:
            self._static_slots(role)
            for col in tables[role].spec.columns:
                vals = tables[role].values(col.key)
                self.values[(role, col.key)] = vals
                if col.role == "num":
                    self.sorted[(role, col.key)] = sorted(float(v) for v in vals)
                elif col.role == "date":
                    self.distinct[(role, col.key)] = sorted({str(v)[:4] for v in vals})
                elif col.role in ("cat", "code"):
                    self.distinct[(role, col.key)] = sorted({str(v) for v in vals})
        self.group_sizes = {
            "EG": self._group_sizes("E", "G"),
            "FE": self._group_sizes("F", "E"),
            "FA": self._group_sizes("F", "A"),
        }
        self._keys = set(self.bind(random.Random(0)))

    def _ident(self, role: Role, col: ColumnSpec) -> str:
        return quote_identifier(self.variant.column_name(role, col.key), "bird")

    def _static_slots(self, role: Role) -> None:
        spec = self.tables[role].spec
        s = self.static
        s[role] = quote_identifier(self.variant.table_name(role), "bird")
        s[f"{role}.sing"], s[f"{role}.pl"], s[f"{role}.a"] = spec.sing, spec.pl, article(spec.sing)
        for col in spec.columns:
            if col.role == "pk":
                s[f"{role}.pk"] = self._ident(role, col)
            elif col.role == "fk" and col.ref is not None:
                s[f"{role}.fk.{col.ref}"] = self._ident(role, col)
            elif col.role in ("name", "code", "date"):
                s[f"{role}.{col.role}"] = self._ident(role, col)
                s[f"{role}.{col.role}.noun"] = col.noun
                s[f"{role}.{col.role}.nouns"] = pluralize(col.noun)
                s[f"{role}.{col.role}.a"] = article(col.noun)

    def _group_sizes(self, child: Role, parent: Role) -> list[int]:
        spec = self.tables[child].spec
        fk = next(c for c in spec.columns if c.role == "fk" and c.ref == parent)
        return sorted(Counter(self.tables[child].values(fk.key)).values())

    def _num_slots(self, role: Role, rng: random.Random, b: dict[str, str]) -> None:
        cols = self.tables[role].spec.by_role("num")
        picked = rng.sample(cols, len(cols))
        for prefix, col in zip((f"{role}.num", f"{role}.num2"), picked, strict=False):
            values = self.sorted[(role, col.key)]
            integer = col.type == "INTEGER"

            def at(q: float, values: list[float] = values) -> float:
                return values[min(len(values) - 1, int(q * len(values)))]

            lo, hi = at(rng.uniform(0.1, 0.4)), at(rng.uniform(0.6, 0.9))
            b[prefix] = self._ident(role, col)
            b[f"{prefix}.noun"], b[f"{prefix}.a"] = col.noun, article(col.noun)
            b[f"{prefix}.val"] = nice_number(at(rng.uniform(0.2, 0.8)), integer=integer)
            b[f"{prefix}.lo"] = nice_number(min(lo, hi), integer=integer)
            b[f"{prefix}.hi"] = nice_number(max(lo, hi), integer=integer)
            b[f"{prefix}.top"] = nice_number(at(rng.uniform(0.88, 0.97)), integer=integer)
            mean = self.means.setdefault((role, col.key), sum(values) / len(values))
            b[f"{prefix}.avg"] = nice_number(mean * rng.uniform(0.97, 1.02), integer=integer)

    def _value_slots(self, role: Role, rng: random.Random, b: dict[str, str]) -> None:
        data = self.tables[role]
        cats = data.spec.by_role("cat")
        if cats:
            col = rng.choice(cats)
            val = str(rng.choice(self.values[(role, col.key)]))
            others = [v for v in self.distinct[(role, col.key)] if v != val]
            b[f"{role}.cat"] = self._ident(role, col)
            b[f"{role}.cat.noun"], b[f"{role}.cat.nouns"] = col.noun, pluralize(col.noun)
            b[f"{role}.cat.val"] = val
            if others:
                b[f"{role}.cat.val2"] = rng.choice(others)
        for col in data.spec.by_role("name"):
            b[f"{role}.name.val"] = str(rng.choice(self.values[(role, col.key)]))
        for col in data.spec.by_role("code"):
            meaning = dict(col.codes)
            val = str(rng.choice(self.values[(role, col.key)]))
            val2 = rng.choice([c for c, _ in col.codes if c != val])
            b[f"{role}.code.val"], b[f"{role}.code.adj"] = val, meaning[val]
            b[f"{role}.code.val2"], b[f"{role}.code.adj2"] = val2, meaning[val2]
        for col in data.spec.by_role("date"):
            year = str(rng.choice(self.values[(role, col.key)]))[:4]
            b[f"{role}.date.year"] = year
            b[f"{role}.date.year2"] = rng.choice([y for y in self.distinct[(role, col.key)] if y != year])
        holds = [h for h in self.variant.domain.thresholds if h.table == role]
        if holds:
            h = rng.choice(holds)
            b[f"{role}.hold.col"] = self._ident(role, data.spec.column(h.column))
            b[f"{role}.hold.op"], b[f"{role}.hold.val"], b[f"{role}.hold.adj"] = h.op, _plain(h.value), h.adj

    def bind(self, rng: random.Random) -> dict[str, str]:
        """One full slot table: every role's slots, group thresholds and link phrases."""
        b = dict(self.static)
        for role in ROLES:
            self._num_slots(role, rng, b)
            self._value_slots(role, rng, b)
        b["k"] = str(rng.randint(3, 10))
        for key, sizes in self.group_sizes.items():
            lo_q = 0.5 if key == "EG" else 0.85
            b[f"n.{key}"] = str(sizes[min(len(sizes) - 1, int(rng.uniform(lo_q, 0.97) * len(sizes)))])
        domain = self.variant.domain
        for link, value_slot in (("EG", "G.name.val"), ("A", "E.name.val"), ("E", "A.name.val")):
            b[f"link.{link}"] = fill(domain.link(link), {**b, "v": b[value_slot]})
        return b

    def roles_for(self, template: Template) -> tuple[Role | None, ...]:
        """The table roles ``template`` applies to here; ``(None,)`` for a fixed-role template that fits."""
        slots = template.slots()
        if not template.on:
            return (None,) if slots <= self._keys else ()
        return tuple(r for r in template.on if {_retarget(s, r) for s in slots} <= self._keys)

    def render(self, template: Template, role: Role | None, rng: random.Random) -> Rendered | None:
        """Fill ``template`` (on ``role`` where it has ``on``) with fresh values; None if unusable."""
        b = self.bind(rng)
        if role is not None:
            b.update({"t" + k[1:]: v for k, v in b.items() if k == role or k.startswith(role + ".")})
        if any("'" in v for k, v in b.items() if k.endswith((".val", ".val2"))):
            return None
        phrasing = rng.choice(template.phrasings)
        return Rendered(
            template=template,
            question=fill(phrasing, b),
            sql=fill(template.sql, b),
            evidence=fill(template.evidence, b),
        )


def _retarget(slot: str, role: Role) -> str:
    return role + slot[1:] if slot == "t" or slot.startswith("t.") else slot


def fill(text: str, slots: dict[str, str]) -> str:
    """Replace every ``{slot}`` in ``text``.

    >>> fill("How many {E.pl}?", {"E.pl": "students"})
    'How many students?'
    """
    return SLOT.sub(lambda m: slots[m.group(1)], text)
