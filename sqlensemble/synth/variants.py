"""Variants of a domain: the same design with renamed tables and columns and other data.

Variant ``k`` of a domain takes the ``k``-th identifier words of every table and column and renders
them in one naming style, so the same question maps to different SQL on each variant and a model has
to read the schema. Styles differ per domain, so every style occurs in every split.

>>> render_identifier("grade point average", "pascal")
'GradePointAverage'
>>> render_identifier("grade point average", "spaced")
'Grade Point Average'
>>> render_identifier("student id", "camel")
'studentID'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlensemble.errors import DataError
from sqlensemble.synth.domains import Domain, Role

Style = Literal["snake", "pascal", "spaced", "camel"]
STYLES: tuple[Style, ...] = ("snake", "pascal", "spaced", "camel")
ACRONYMS = {"id": "ID", "gpa": "GPA", "mpaa": "MPAA", "isbn": "ISBN", "sku": "SKU", "mrn": "MRN"}


def _cap(word: str) -> str:
    return ACRONYMS.get(word, word[:1].upper() + word[1:])


def render_identifier(words: str, style: Style) -> str:
    """Render space-separated words as an identifier in ``style``."""
    parts = words.lower().split()
    if style == "snake":
        return "_".join(parts)
    if style == "pascal":
        return "".join(_cap(p) for p in parts)
    if style == "camel":
        return parts[0] + "".join(_cap(p) for p in parts[1:])
    return " ".join(_cap(p) for p in parts)


def pluralize(word: str) -> str:
    """
    >>> pluralize("class"), pluralize("orders"), pluralize("category"), pluralize("status")
    ('classes', 'orders', 'categories', 'statuses')
    """
    if word.endswith(("ss", "us", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("s"):
        return word
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


@dataclass(frozen=True)
class Variant:
    """One database: a domain rendered with one set of identifiers and one data seed."""

    db_id: str
    domain: Domain
    index: int
    style: Style
    seed: str
    tables: tuple[tuple[Role, str], ...]
    columns: tuple[tuple[tuple[Role, str], str], ...]

    def table_name(self, role: Role) -> str:
        return dict(self.tables)[role]

    def column_name(self, role: Role, key: str) -> str:
        return dict(self.columns)[(role, key)]


def _table_name(words: str, style: Style, plural: bool) -> str:
    name = render_identifier(words, "snake" if style == "camel" else style)
    name = name.replace(" ", "")  # table names never need quoting
    return pluralize(name) if plural else name


def make_variant(domain: Domain, domain_index: int, k: int, seed: int) -> Variant:
    """Variant ``k`` of ``domain`` (the ``domain_index``-th domain picks the style rotation)."""
    if k >= len(domain.db_ids):
        raise DataError(f"domain {domain.key!r} has only {len(domain.db_ids)} variants, asked for {k + 1}")
    style = STYLES[(k + domain_index) % len(STYLES)]
    db_id = domain.db_ids[k]
    tables: list[tuple[Role, str]] = []
    columns: list[tuple[tuple[Role, str], str]] = []
    for table in domain.tables:
        tables.append((table.role, _table_name(table.names[k % len(table.names)], style, k % 2 == 1)))
    for table in domain.tables:
        seen: set[str] = set()
        for col in table.columns:
            key_style: Style = "pascal" if style == "spaced" and col.role in ("pk", "fk") else style
            for shift in range(len(col.names)):
                name = render_identifier(col.names[(k + shift) % len(col.names)], key_style)
                if name.lower() not in seen:
                    break
            else:
                raise DataError(f"{db_id}: no free identifier for column {col.key!r} of {table.role}")
            seen.add(name.lower())
            columns.append(((table.role, col.key), name))
    if len({name.lower() for _, name in tables}) != len(tables):
        raise DataError(f"{db_id}: two tables share a name")
    return Variant(
        db_id=db_id,
        domain=domain,
        index=k,
        style=style,
        seed=f"{seed}:{db_id}",
        tables=tuple(tables),
        columns=tuple(columns),
    )


def make_variants(domains: tuple[Domain, ...], per_domain: int, seed: int) -> list[Variant]:
    """``per_domain`` variants of each domain, domain by domain."""
    return [make_variant(d, i, k, seed) for i, d in enumerate(domains) for k in range(per_domain)]
