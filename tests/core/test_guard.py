"""The SQL guard: one read-only statement passes with a normalized form; anything else is refused."""

from __future__ import annotations

import dataclasses

import pytest

from sqlensemble.guard import GuardResult, check_sql

ACCEPTED = [
    "SELECT name FROM singer",
    "select count(*) from singer where age > 30;",
    "WITH older AS (SELECT * FROM singer WHERE age > 40) SELECT name FROM older",
    "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < 5) SELECT x FROM r",
    "SELECT name FROM singer UNION SELECT concert_name FROM concert",
    "SELECT singer_id FROM singer INTERSECT SELECT singer_id FROM concert",
    "SELECT singer_id FROM singer EXCEPT SELECT singer_id FROM concert",
    "(SELECT 1)",
    "SELECT `name` FROM singer WHERE country = 'France' ORDER BY age DESC LIMIT 2",
    "SELECT CAST(SUM(age) AS REAL) / COUNT(*), IIF(age > 30, 'old', 'young') FROM singer",
    "SELECT name FROM singer WHERE name = '; DROP TABLE singer; --'",
    "SELECT 1 /* ; DROP TABLE singer */",
    "SELECT name FROM singer -- ; DELETE FROM singer",
]

# (sql, a fragment the refusal reason must contain)
REFUSED = [
    ("", "no SQL statement"),
    ("   \n ", "no SQL statement"),
    ("-- just a comment", "no SQL statement"),
    ("DROP TABLE singer", "got DROP"),
    ("INSERT INTO singer (name) VALUES ('x')", "got INSERT"),
    ("UPDATE singer SET age = 0", "got UPDATE"),
    ("DELETE FROM singer", "got DELETE"),
    ("REPLACE INTO singer (name) VALUES ('x')", "got REPLACE"),
    ("CREATE TABLE x AS SELECT * FROM singer", "got CREATE"),
    ("ALTER TABLE singer ADD COLUMN y", "got ALTER"),
    ("ATTACH DATABASE '/tmp/other.db' AS other", "got ATTACH"),
    ("DETACH DATABASE other", "got DETACH"),
    ("PRAGMA writable_schema = ON", "got PRAGMA"),
    ("PRAGMA journal_mode = DELETE", "got PRAGMA"),
    ("VACUUM", "got VACUUM"),
    ("BEGIN", "got BEGIN"),
    ("EXPLAIN SELECT 1", "got EXPLAIN"),
    ("VALUES (1), (2)", "got VALUES"),
    ("SELECT 1; SELECT 2", "got 2 statements"),
    ("SELECT 1; DROP TABLE singer", "got 2 statements"),
    ("SELECT 1 -- hidden\n; DROP TABLE singer", "got 2 statements"),
    ("/* SELECT 1; */ DROP TABLE singer", "got DROP"),
    ("WITH w AS (INSERT INTO singer (name) VALUES ('x') RETURNING *) SELECT * FROM w", "contain INSERT"),
    ("SELECT load_extension('/tmp/evil.so')", "function load_extension is not allowed"),
    ("SELECT name FROM singer WHERE LOAD_EXTENSION('x') IS NULL", "load_extension"),
    ("SELECT fts3_tokenizer('simple')", "fts3_tokenizer"),
    ("SELECT * FROM", "cannot parse SQL"),
    ('SELECT "unterminated', "cannot parse SQL"),
    # Deep nesting: sqlglot recurses per bracket and meets Python's recursion limit near 47 levels.
    ("SELECT " + "(" * 47 + "1" + ")" * 47, "nested too deeply"),
    ("SELECT " + "(" * 5000 + "1" + ")" * 5000, "nested too deeply"),
    ("SELECT " + "abs(" * 300 + "1" + ")" * 300, "nested too deeply"),
    ("SELECT * FROM " + "(SELECT * FROM " * 100 + "t" + ")" * 100, "nested too deeply"),
    ("SELECT 1 WHERE " + "NOT " * 3000 + "1", "nested too deeply"),
]


@pytest.mark.parametrize("sql", ACCEPTED)
def test_read_queries_pass(sql: str) -> None:
    result = check_sql(sql)
    assert result.ok, result.reason
    assert result.reason is None
    assert result.sql == sql.strip()
    assert result.normalized


@pytest.mark.parametrize(("sql", "reason"), REFUSED)
def test_everything_else_is_refused_with_a_reason(sql: str, reason: str) -> None:
    result = check_sql(sql)
    assert not result.ok
    assert result.normalized is None
    assert result.reason is not None and reason in result.reason


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("SELECT name FROM singer", "select   name\n  from singer;"),
        ("SELECT name FROM singer", "/* best guess */ SELECT name FROM singer -- done"),
        ("SELECT COUNT(*) FROM singer WHERE age>30", "select count(*) from singer where age > 30"),
        ("SELECT `name` FROM singer", 'SELECT "name" FROM singer'),
    ],
)
def test_cosmetic_differences_share_one_normalized_form(a: str, b: str) -> None:
    assert check_sql(a).normalized == check_sql(b).normalized


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("SELECT name FROM singer", "SELECT name FROM concert"),
        (
            "SELECT name FROM singer WHERE country = 'France'",
            "SELECT name FROM singer WHERE country = 'france'",
        ),
        ("SELECT age FROM singer", "SELECT age FROM singer ORDER BY age"),
    ],
)
def test_different_queries_keep_different_normalized_forms(a: str, b: str) -> None:
    assert check_sql(a).normalized != check_sql(b).normalized


def test_result_is_frozen() -> None:
    result = check_sql("SELECT 1")
    assert isinstance(result, GuardResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.ok = False  # type: ignore[misc]
