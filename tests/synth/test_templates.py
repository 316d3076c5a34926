"""The template set: counts, phrasings, difficulty grading, applicability across domains."""

from __future__ import annotations

import random

import pytest

from sqlensemble.errors import DataError
from sqlensemble.synth.binding import Binder
from sqlensemble.synth.data import generate_tables
from sqlensemble.synth.domains import load_domains
from sqlensemble.synth.templates import _template, load_templates, sql_difficulty
from sqlensemble.synth.variants import make_variants


def test_at_least_40_templates_with_3_phrasings_each() -> None:
    templates = load_templates()
    assert len(templates) >= 40
    assert all(len(set(t.phrasings)) >= 3 for t in templates)
    assert len({t.id for t in templates}) == len(templates)


def test_every_difficulty_and_sql_feature_is_covered() -> None:
    templates = load_templates()
    by_difficulty = {
        d: [t for t in templates if t.difficulty == d] for d in ("simple", "moderate", "challenging")
    }
    assert all(len(ts) >= 10 for ts in by_difficulty.values())
    sql = " ".join(t.sql for t in templates)
    for feature in (
        "GROUP BY",
        "HAVING",
        "ORDER BY",
        "LIMIT",
        "DISTINCT",
        "CASE WHEN",
        "CAST(",
        "AS REAL) * 100 / COUNT(*)",
        "strftime('%Y'",
        " IN (SELECT",
        "> (SELECT AVG(",
        "BETWEEN",
        "INNER JOIN {G} AS T3",
    ):
        assert feature in sql, feature
    assert sum(bool(t.evidence) for t in templates) >= 10
    assert any(".hold." in t.evidence for t in templates)  # "senior refers to age > 60" mappings


def test_declared_difficulty_matches_the_sql_grade() -> None:
    for t in load_templates():
        assert sql_difficulty(t.sql.replace("{", "").replace("}", "")) == t.difficulty, t.id


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT COUNT(*) FROM a WHERE x = 1", "simple"),
        ("SELECT MAX(x) FROM a", "simple"),
        ("SELECT y FROM a GROUP BY y HAVING COUNT(*) > 3", "moderate"),
        ("SELECT COUNT(*) FROM a AS T1 INNER JOIN b AS T2 ON T1.k = T2.k", "moderate"),
        ("SELECT CAST(SUM(CASE WHEN x = 1 THEN 1 ELSE 0 END) AS REAL) * 100 / COUNT(*) FROM a", "moderate"),
        ("SELECT x FROM a WHERE k IN (SELECT k FROM b)", "challenging"),
        ("SELECT 1 FROM a AS T1 INNER JOIN b AS T2 ON 1 INNER JOIN c AS T3 ON 1", "challenging"),
        ("SELECT CAST(COUNT(*) AS REAL) FROM a AS T1 INNER JOIN b AS T2 ON T1.k = T2.k", "challenging"),
    ],
)
def test_sql_difficulty(sql: str, expected: str) -> None:
    assert sql_difficulty(sql) == expected


def test_malformed_templates_are_refused() -> None:
    base = {
        "id": "x",
        "difficulty": "simple",
        "sql": "SELECT COUNT(*) FROM {t}",
        "phrasings": ["a", "b", "c"],
    }
    assert _template(base).id == "x"
    with pytest.raises(DataError, match="at least 3 phrasings"):
        _template({**base, "phrasings": ["a", "b"]})
    with pytest.raises(DataError, match="grades as moderate"):
        _template({**base, "sql": "SELECT a FROM {t} GROUP BY a"})
    with pytest.raises(DataError, match="unknown fields"):
        _template({**base, True: ["E"]})  # YAML 1.1 reads a key `on:` as True


def test_every_template_applies_to_most_domains() -> None:
    variants = make_variants(load_domains(), 1, seed=0)
    binders = [Binder(v, generate_tables(v, scale=0.1)) for v in variants]
    for t in load_templates():
        fits = sum(bool(b.roles_for(t)) for b in binders)
        assert fits >= len(binders) - 2, (t.id, fits)


def test_rendered_questions_carry_values_verbatim_into_sql() -> None:
    variant = make_variants(load_domains(), 1, seed=3)[0]
    binder = Binder(variant, generate_tables(variant, scale=0.1))
    rng = random.Random(0)
    for t in load_templates():
        for role in binder.roles_for(t):
            r = binder.render(t, role, rng)
            assert r is not None
            assert "{" not in r.question + r.sql + r.evidence, t.id
            for literal in r.sql.split("'")[1::2]:
                if not literal.startswith("%"):
                    assert literal in r.question or literal in r.evidence, (t.id, literal, r.question)
