"""Ties at an ORDER BY ... LIMIT boundary: crafted tables, the probes, and the generated benchmark."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from sqlensemble.synth.ambiguity import boundary_probes, find_boundary_tie
from sqlensemble.synth.binding import Binder
from sqlensemble.synth.data import generate_tables
from sqlensemble.synth.database import write_database
from sqlensemble.synth.domains import load_domains
from sqlensemble.synth.templates import load_templates
from sqlensemble.synth.variants import make_variants

from .conftest import Written

# ages 40, 35, 35, 31, 28, 22, 22; budgets 7.5, 7.5, 5.0, 2.0; nick is NOCASE, so 'ace' = 'Ace'
LEAGUE = """
CREATE TABLE team (id INTEGER PRIMARY KEY, name TEXT, "Home City" TEXT, budget REAL);
INSERT INTO team VALUES (1, 'Owls', 'Leeds', 5.0), (2, 'Foxes', 'York', 7.5), (3, 'Bears', 'Leeds', 7.5),
    (4, 'Hawks', 'Bath', 2.0);
CREATE TABLE player (id INTEGER PRIMARY KEY, name TEXT, "Team ID" INTEGER REFERENCES team (id),
    age INTEGER, goals INTEGER, nick TEXT COLLATE NOCASE);
INSERT INTO player VALUES (1, 'Ann', 1, 31, 10, 'ace'), (2, 'Bob', 1, 35, 4, 'Ace'),
    (3, 'Cid', 2, 35, 7, 'bee'), (4, 'Dee', 2, 28, 7, 'cat'), (5, 'Eve', 3, 22, 12, NULL),
    (6, 'Fay', 4, 22, 1, NULL), (7, 'Gus', 3, 40, 0, 'dog');
"""

JOIN = 'FROM player AS T1 INNER JOIN team AS T2 ON T1."Team ID" = T2.id'
BUSY = f"SELECT T2.name {JOIN} GROUP BY T2.name HAVING COUNT(*) > 1"  # Owls, Foxes: avg goals 7; Bears: 6

# (SQL, expected verdict): None = one answer, "tie" = tied at a boundary, "unchecked" = cannot be shown
CASES: list[tuple[str, str | None]] = [
    ("SELECT name FROM player ORDER BY age DESC LIMIT 1", None),
    ("SELECT name FROM player ORDER BY age DESC LIMIT 2", "tie"),
    ("SELECT name FROM player ORDER BY age DESC LIMIT 3", None),
    ("SELECT name FROM player ORDER BY age ASC LIMIT 1", "tie"),
    ("SELECT name FROM player ORDER BY age ASC, name LIMIT 1", None),
    ("SELECT name FROM player ORDER BY age DESC LIMIT 1 OFFSET 2", "tie"),
    ("SELECT name FROM player ORDER BY age DESC LIMIT 2 OFFSET 3", None),
    ("SELECT name FROM player ORDER BY age DESC LIMIT 2, 1", "tie"),
    ("SELECT name FROM player ORDER BY age DESC LIMIT 10", None),
    ("SELECT name FROM player ORDER BY age DESC LIMIT 0", None),
    ("SELECT name FROM player ORDER BY age", None),
    ("SELECT name FROM player WHERE age > 30 ORDER BY age ASC LIMIT 1", None),
    ("SELECT name FROM player WHERE age < 36 ORDER BY age DESC LIMIT 1", "tie"),
    (f"SELECT T2.name {JOIN} GROUP BY T2.name ORDER BY COUNT(*) DESC LIMIT 1", "tie"),
    (f"SELECT T2.name {JOIN} GROUP BY T2.name ORDER BY COUNT(*) ASC LIMIT 1", None),
    (f"SELECT T2.name {JOIN} GROUP BY T2.name ORDER BY MAX(T1.age) DESC LIMIT 1", None),
    (f"SELECT T2.name {JOIN} GROUP BY T2.name ORDER BY MAX(T1.age) DESC LIMIT 2", "tie"),
    (f"{BUSY} ORDER BY AVG(T1.goals) ASC LIMIT 1", None),
    (f"{BUSY} ORDER BY AVG(T1.goals) DESC LIMIT 1", "tie"),
    (f"SELECT T2.name, SUM(T1.goals) AS total {JOIN} GROUP BY T2.name ORDER BY total DESC LIMIT 1", "tie"),
    (f"SELECT T2.name, SUM(T1.goals) {JOIN} GROUP BY T2.name ORDER BY 2 ASC LIMIT 1", None),
    # ORDER BY age names the result column -age here, as SQLite resolves it; the column age would tie
    ("SELECT name, -age AS age FROM player ORDER BY age LIMIT 1", None),
    # SQLite sorts NULLs first and compares nick without case: both ties exist only in SQLite's order
    ("SELECT name FROM player ORDER BY nick LIMIT 1", "tie"),
    ("SELECT name FROM player WHERE nick IS NOT NULL ORDER BY nick LIMIT 1", "tie"),
    ("SELECT name FROM player ORDER BY nick DESC LIMIT 1", None),
    ('SELECT name FROM player WHERE "Team ID" = (SELECT id FROM team ORDER BY budget DESC LIMIT 1)', "tie"),
    ('SELECT name FROM player WHERE "Team ID" = (SELECT id FROM team ORDER BY budget ASC LIMIT 1)', None),
    ('SELECT name FROM player WHERE "Team ID" IN (SELECT id FROM team ORDER BY budget LIMIT 2)', None),
    ('SELECT name FROM player WHERE "Team ID" IN (SELECT id FROM team ORDER BY budget LIMIT 3)', "tie"),
    (
        'SELECT name FROM player WHERE "Team ID" = (SELECT id FROM team ORDER BY budget DESC LIMIT 1) '
        "ORDER BY age DESC LIMIT 1",
        "tie",
    ),
    (
        'SELECT name FROM player WHERE "Team ID" = (SELECT id FROM team ORDER BY budget ASC LIMIT 1) '
        "ORDER BY goals DESC LIMIT 1",
        None,
    ),
    ("SELECT COUNT(*) FROM (SELECT id FROM player ORDER BY age DESC LIMIT 2)", "tie"),
    (
        "WITH old AS (SELECT * FROM player WHERE age > 30) "
        "SELECT name FROM player WHERE id IN (SELECT id FROM old ORDER BY age DESC LIMIT 1)",
        None,
    ),
    (
        "WITH old AS (SELECT * FROM player WHERE age > 30) "
        "SELECT name FROM player WHERE id IN (SELECT id FROM old ORDER BY age DESC LIMIT 2)",
        "tie",
    ),
    # correlated: the subquery cannot run on its own, whether the outer column is quoted or not
    (
        "SELECT name FROM team AS T WHERE id IN "
        '(SELECT "Team ID" FROM player WHERE "Team ID" = T.id ORDER BY age DESC LIMIT 1)',
        "unchecked",
    ),
    (
        "SELECT name FROM team WHERE EXISTS "
        '(SELECT 1 FROM player WHERE player.name <> "Home City" ORDER BY age DESC LIMIT 1)',
        "unchecked",
    ),
    ("SELECT name FROM player UNION SELECT name FROM team ORDER BY 1 LIMIT 1", "unchecked"),
    ("SELECT * FROM player ORDER BY 1 LIMIT 1", "unchecked"),
    ("SELECT name FROM player ORDER BY age LIMIT (SELECT 1)", "unchecked"),
]


@pytest.fixture(scope="module")
def league() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    conn.executescript(LEAGUE)
    yield conn
    conn.close()


@pytest.mark.parametrize(("sql", "expected"), CASES)
def test_find_boundary_tie_on_crafted_tables(
    league: sqlite3.Connection, sql: str, expected: str | None
) -> None:
    league.execute(sql).fetchall()  # every case is valid SQL on the tables
    found = find_boundary_tie(league, sql)
    assert (found.kind if found else None) == expected, found


def test_probes_keep_the_query_and_add_a_rank_over_its_keys(league: sqlite3.Connection) -> None:
    sql = 'SELECT name FROM player WHERE "Team ID" = (SELECT id FROM team ORDER BY budget DESC LIMIT 1)'
    (probe,) = boundary_probes(sql)
    assert probe.nested and probe.limit == 1 and probe.query.startswith("SELECT id FROM team")
    assert probe.sql is not None
    assert league.execute(probe.sql).fetchall() == [(2, 1), (3, 1)]
    assert [p.nested for p in boundary_probes(f"{sql} ORDER BY age LIMIT 2")] == [False, True]


def test_interrupted_probe_raises(league: sqlite3.Connection) -> None:
    league.set_progress_handler(lambda: 1, 1)
    try:
        with pytest.raises(sqlite3.OperationalError, match="interrupted"):
            find_boundary_tie(league, "SELECT name FROM player ORDER BY age LIMIT 1")
    finally:
        league.set_progress_handler(None, 0)


def test_every_limit_template_can_be_checked(tmp_path: Path) -> None:
    templates = [t for t in load_templates() if "LIMIT" in t.sql]
    assert len(templates) >= 10
    variant = make_variants(load_domains(), 1, 0)[0]
    tables = generate_tables(variant, 0.12)
    path = write_database(tmp_path / variant.db_id, variant, tables)
    binder, rng = Binder(variant, tables), random.Random(0)
    conn = sqlite3.connect(path)
    try:
        for template in templates:
            for role in binder.roles_for(template):
                rendered = binder.render(template, role, rng)
                if rendered is not None:
                    found = find_boundary_tie(conn, rendered.sql)
                    assert found is None or found.kind == "tie", (template.id, found)
    finally:
        conn.close()


def _tied_by_sorting(conn: sqlite3.Connection, sql: str) -> bool:
    """An independent check: sort all rows by the ORDER BY keys in SQLite, compare rows k and k+1 here."""
    for select in sqlglot.parse_one(sql, read="sqlite").find_all(exp.Select):
        limit = select.args.get("limit")
        if select.args.get("order") is None or limit is None:
            continue
        k = int(limit.expression.name)
        keys = select.copy()
        keys.set("limit", None)
        keys.set("expressions", [o.this.copy() for o in select.args["order"].expressions])
        rows = conn.execute(keys.sql(dialect="sqlite")).fetchall()
        if len(rows) > k and rows[k - 1] == rows[k]:
            return True
    return False


def test_independent_check_sees_a_tie(league: sqlite3.Connection) -> None:
    subquery = 'SELECT name FROM player WHERE "Team ID" = (SELECT id FROM team ORDER BY budget {} LIMIT 1)'
    for order, tied in (("DESC", True), ("ASC", False)):
        assert _tied_by_sorting(league, f"SELECT name FROM player ORDER BY age {order} LIMIT 2") is tied
        assert _tied_by_sorting(league, subquery.format(order)) is tied


@pytest.mark.parametrize("mode", ["small_default", "small_cross"])
def test_no_gold_sql_ties_at_a_limit_boundary(mode: str, request: pytest.FixtureRequest) -> None:
    written: Written = request.getfixturevalue(mode)
    checked = 0
    for split in ("train", "dev"):
        for record in written.records(split):
            sql = str(record["SQL"])
            if "ORDER BY" not in sql or "LIMIT" not in sql:
                continue
            path = written.db_path(split, str(record["db_id"]))
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                assert not _tied_by_sorting(conn, sql), sql
            finally:
                conn.close()
            checked += 1
    assert checked >= 10
