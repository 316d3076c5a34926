"""Lexical scans of SQL text (sqlensemble.sqltext) and the bracket limit the guard and extraction share."""

from __future__ import annotations

import pytest

from sqlensemble.extract import extract_statement
from sqlensemble.guard import check_sql
from sqlensemble.sqltext import MAX_BRACKET_DEPTH, bracket_depth, nested_too_deeply, scan


@pytest.mark.parametrize(
    ("sql", "depth"),
    [
        ("SELECT 1", 0),
        ("SELECT count(*) FROM t", 1),
        ("SELECT a FROM (SELECT max(b) AS a FROM t)", 2),
        ("SELECT '((((((' FROM t", 0),  # inside a string
        ('SELECT "a(((" FROM t', 0),  # a quoted identifier
        ("SELECT [a(((] FROM t", 0),
        ("SELECT `a(((` FROM t", 0),
        ("SELECT 1 -- ((((((\nFROM t", 0),  # a line comment
        ("SELECT 1 /* (((( */ + (2)", 1),  # a block comment
        ("SELECT 'it''s (' || (1)", 1),  # a doubled quote inside a string
        ("SELECT ))) (1)", 1),  # stray closers do not go below zero
        ("SELECT (1 - -(2))", 2),  # a minus is not a comment
        ("SELECT 'never closes (((", 0),
    ],
)
def test_bracket_depth_counts_only_brackets_outside_quotes_and_comments(sql: str, depth: int) -> None:
    assert bracket_depth(sql) == depth


def test_scan_finds_the_first_semicolon_and_an_unterminated_quote() -> None:
    assert scan("SELECT ';' FROM t; SELECT 2") == (17, None)
    assert scan("SELECT a FROM t WHERE b = 'x") == (None, 26)
    assert scan("SELECT 1 /* open") == (None, 9)


def nested(depth: int) -> str:
    return "SELECT " + "(" * depth + "1" + ")" * depth


def test_the_limit_is_the_same_whatever_the_parser_manages() -> None:
    assert not nested_too_deeply(nested(MAX_BRACKET_DEPTH))
    assert nested_too_deeply(nested(MAX_BRACKET_DEPTH + 1))
    assert not nested_too_deeply("SELECT '" + "(" * 100 + "'")  # brackets in a string do not nest
    refused = check_sql(nested(MAX_BRACKET_DEPTH + 1))
    assert (
        not refused.ok
        and refused.reason == f"SQL is nested too deeply to check (brackets deeper than {MAX_BRACKET_DEPTH})"
    )
    # extraction does not parse such a text; it hands it over whole, for the guard to refuse
    found = extract_statement(nested(MAX_BRACKET_DEPTH + 1) + "\n```")
    assert found is not None and found.tree is None
    assert check_sql(found.sql).reason == refused.reason


def test_nesting_the_parser_cannot_follow_is_refused_by_its_recursion_limit() -> None:
    verdict = check_sql("SELECT 1 WHERE " + "NOT " * 3000 + "1")
    assert not verdict.ok and verdict.reason == "SQL is nested too deeply to check (parser recursion limit)"
