"""Question templates, read from ``templates.yaml``, and the rule that grades SQL difficulty.

Each template is one SQL pattern with one fixed style, at least three phrasings, an optional evidence
pattern and a difficulty; ``sql_difficulty`` recomputes the difficulty from the SQL so the declared
one can be checked (and is, at load time).

>>> sql_difficulty("SELECT COUNT(*) FROM t WHERE a > 1")
'simple'
>>> sql_difficulty("SELECT a FROM t GROUP BY a ORDER BY COUNT(*) DESC LIMIT 1")
'moderate'
>>> sql_difficulty("SELECT a FROM t WHERE b > (SELECT AVG(b) FROM t)")
'challenging'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlensemble.bird import DIFFICULTIES, Difficulty
from sqlensemble.errors import DataError
from sqlensemble.synth.domains import ROLES, Role, read_package_yaml

MIN_PHRASINGS = 3
TEMPLATE_FIELDS = {"id", "difficulty", "sql", "phrasings", "evidence", "over"}
SLOT = re.compile(r"\{([A-Za-z0-9_.]+)\}")


@dataclass(frozen=True)
class Template:
    id: str
    difficulty: Difficulty
    sql: str
    phrasings: tuple[str, ...]
    evidence: str = ""
    on: tuple[Role, ...] = ()

    def slots(self) -> set[str]:
        texts = (self.sql, self.evidence, *self.phrasings)
        return {m.group(1) for text in texts for m in SLOT.finditer(text)}


def sql_difficulty(sql: str) -> Difficulty:
    """Grade SQL by its structure: tables joined, subqueries, grouping and CASE/CAST."""
    s = " ".join(sql.upper().split())
    tables = s.count(" JOIN ") + 1
    nested = s.count("SELECT ") > 1
    if tables >= 3 or nested or (tables == 2 and "CAST(" in s):
        return "challenging"
    if tables == 2 or "GROUP BY" in s or "CASE WHEN" in s or "CAST(" in s:
        return "moderate"
    return "simple"


def _template(raw: dict[Any, Any]) -> Template:
    tid = str(raw.get("id"))
    unknown = set(raw) - TEMPLATE_FIELDS
    if unknown:
        raise DataError(f"template {tid!r}: unknown fields {sorted(map(str, unknown))}")
    phrasings = tuple(str(p) for p in raw.get("phrasings", []))
    over: tuple[Role, ...] = tuple(raw.get("over", ()))
    if len(phrasings) < MIN_PHRASINGS:
        raise DataError(f"template {tid!r}: needs at least {MIN_PHRASINGS} phrasings")
    if any(role not in ROLES for role in over):
        raise DataError(f"template {tid!r}: 'over' roles must be among {ROLES}")
    if raw.get("difficulty") not in DIFFICULTIES:
        raise DataError(f"template {tid!r}: difficulty must be one of {DIFFICULTIES}")
    t = Template(
        id=tid,
        difficulty=raw["difficulty"],
        sql=str(raw["sql"]),
        phrasings=phrasings,
        evidence=str(raw.get("evidence", "")),
        on=over,
    )
    graded = sql_difficulty(SLOT.sub("x", t.sql))
    if t.difficulty != graded:
        raise DataError(f"template {tid!r}: declared {t.difficulty} but its SQL grades as {graded}")
    return t


@cache
def load_templates() -> tuple[Template, ...]:
    """All templates in file order; ids are unique."""
    templates = tuple(_template(raw) for raw in read_package_yaml("templates.yaml"))
    ids = [t.id for t in templates]
    if len(set(ids)) != len(ids):
        raise DataError("templates.yaml: template ids must be unique")
    return templates
