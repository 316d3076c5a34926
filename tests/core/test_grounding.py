"""Literal grounding (sqlensemble.grounding): which compared values the question and evidence name."""

from __future__ import annotations

import pytest
import sqlglot

from sqlensemble.grounding import compared_literals, grounding_text, ungrounded

# (question, evidence, SQL, the values it compares with that the text never names)
CASES = [
    (
        "How many flights operated by Pacific Air are there?",
        None,
        "SELECT COUNT(*) FROM Flight WHERE Name = 'Pacific Airlines'",
        ("'Pacific Airlines'",),
    ),
    (
        "How many flights operated by Pacific Air are there?",
        None,
        "SELECT COUNT(*) FROM Flight WHERE Name = 'Pacific Air'",
        (),
    ),
    (
        "Categories of products with a stock level of more than 478?",
        "",
        "SELECT DISTINCT Category FROM Product WHERE Stock > 488",
        ("488",),
    ),
    (
        "Categories of products with a stock level of more than 478?",
        "",
        "SELECT DISTINCT Category FROM Product WHERE Stock > 478.0",
        (),
    ),
    (
        "Count the tall players of the Detroit Wolves.",
        "tall refers to Height > 190",
        "SELECT COUNT(*) FROM Player WHERE Team = 'Detroit Wolves' AND Height > 300",
        ("300",),
    ),
    (
        "How many female customers?",
        "female refers to gender = 'F'",
        "SELECT COUNT(*) FROM customer WHERE gender = 'F'",
        (),
    ),
    (
        "Orders in 2019 minus orders in 2021",
        None,
        "SELECT SUM(CASE WHEN strftime('%Y', d) = '2019' THEN 1 ELSE 0 END)"
        " - SUM(CASE WHEN strftime('%Y', d) = '2020' THEN 1 ELSE 0 END) FROM Orders",
        ("'2020'",),
    ),
    ("Titles containing the word river", None, "SELECT title FROM book WHERE title LIKE '%River%'", ()),
    (
        "Titles containing the word river",
        None,
        "SELECT title FROM book WHERE title LIKE '%Rivers%'",
        ("'%Rivers%'",),
    ),
    ("Top 5 teams by wins", None, "SELECT name FROM team WHERE active = 1 ORDER BY wins DESC LIMIT 5", ()),
    (
        "Teams from Oslo or Bergen",
        None,
        "SELECT name FROM team WHERE city IN ('Oslo', 'Bergen', 'Molde')",
        ("'Molde'",),
    ),
    ("Scores between -3 and 7", None, "SELECT * FROM s WHERE v BETWEEN -3 AND 8", ("8",)),
]


@pytest.mark.parametrize(("question", "evidence", "sql", "missing"), CASES)
def test_ungrounded_values(question: str, evidence: str | None, sql: str, missing: tuple[str, ...]) -> None:
    tree = sqlglot.parse_one(sql, read="sqlite")
    assert ungrounded(compared_literals(tree), grounding_text(question, evidence)) == missing


def test_a_phrase_must_be_whole() -> None:
    text = grounding_text("Tracks by The Lost Roses", None)
    for value, grounded in [("The Lost Roses", True), ("the  lost roses", True), ("Lost Rose", False)]:
        tree = sqlglot.parse_one(f"SELECT 1 FROM t WHERE a = '{value}'")
        assert (ungrounded(compared_literals(tree), text) == ()) is grounded, value


def test_only_comparison_operands_count() -> None:
    tree = sqlglot.parse_one("SELECT 'x', 42, substr(name, 3, 4) FROM t ORDER BY 2 LIMIT 9 OFFSET 3")
    assert compared_literals(tree) == ()


def test_grounding_text_reads_its_numbers_once() -> None:
    source = grounding_text("More than 478 seats, after  2012", "price refers to Cost = -3.5; rank 07")
    assert source.text == "more than 478 seats, after 2012 price refers to cost = -3.5; rank 07"
    assert source.numbers == {478.0, 2012.0, -3.5, 7.0}
