"""The selection model's prompt and answer (sqlensemble.selection): the display order, the options, the
label parser. Training and the gateway both build the prompt here, so its text is pinned by a file."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from sqlensemble.catalog import Catalog
from sqlensemble.selection import (
    CELL_CHARS,
    MAX_GROUPS,
    SQL_CHARS,
    Group,
    build_selector_messages,
    build_selector_prompt,
    display_order,
    order_key,
    parse_label,
    render_options,
    render_result,
)

from .conftest import expected

QUESTION = "How many schools are there in Alameda?"
EVIDENCE = "Alameda is a county."
IN_ALAMEDA = "FROM school JOIN district USING (district_id) WHERE County = 'Alameda'"
GROUPS = [  # in vote rank order
    Group(f"SELECT count(*) {IN_ALAMEDA}", ("count(*)",), ((3,),), 1, 5),
    Group("SELECT count(*) FROM school", ("count(*)",), ((7,),), 1, 2),
    Group(f'SELECT "School Name" {IN_ALAMEDA}', ("School Name",), (("A",), ("B",), ("C",)), 3, 1),
    Group("SELECT NULL", ("NULL",), ((None,),), 1, 1),
]
KEYS = [order_key("school", f"question {i}") for i in range(4000)]


@pytest.mark.parametrize("count", range(1, MAX_GROUPS + 1))
def test_display_order_is_a_permutation_fixed_by_its_key(count: int) -> None:
    for key in KEYS[:200]:
        order = display_order(count, key)
        assert sorted(order) == list(range(count))
        assert display_order(count, key) == order


@pytest.mark.parametrize("count", range(2, MAX_GROUPS + 1))
def test_the_vote_winners_position_is_close_to_uniform_over_questions(count: int) -> None:
    # where group 0 (the vote's pick) is shown: each position about 1/count of the time, so its label
    # tells the model nothing (4000 keys: a binomial's standard deviation is under 0.008 of the share)
    shown_at = Counter(display_order(count, key).index(0) for key in KEYS)
    assert set(shown_at) == set(range(count))
    for position, times in shown_at.items():
        assert abs(times / len(KEYS) - 1 / count) < 0.04, (position, times)


def test_display_orders_differ_between_questions_and_salts() -> None:
    orders = {tuple(display_order(MAX_GROUPS, key)) for key in KEYS[:200]}
    assert len(orders) == 24  # every permutation of four comes up
    salted = [display_order(MAX_GROUPS, order_key("school", "question 1", str(s))) for s in range(20)]
    assert len({tuple(o) for o in salted}) > 1


def test_order_key_normalizes_the_question() -> None:
    assert order_key("school", "  How many?\n") == order_key("school", "How many?")  # as the prompt has it
    assert order_key("school", "How many?") != order_key("flights", "How many?")


@pytest.mark.parametrize(
    ("text", "count", "position"),
    [
        ("A", 2, 0),
        ("B", 2, 1),
        (" B.", 2, 1),
        ("\nC\nbecause it filters", 3, 2),
        ("D)", 4, 3),
        ("A。", 2, 0),
        ("B：", 2, 1),
        ("C, since", 3, 2),
        ("C", 2, None),  # no third option
        ("E", 4, None),
        ("a", 2, None),
        ("", 2, None),
        ("AB", 2, None),
        ("Answer: A", 2, None),
        ("The answer is B", 2, None),
    ],
)
def test_parse_label_accepts_one_valid_label_only(text: str, count: int, position: int | None) -> None:
    assert parse_label(text, count) == position


@pytest.mark.parametrize(
    ("rows", "row_count", "text"),
    [
        ((), 0, "empty"),
        (((1,),), 1, "1 row: (1)"),
        (((1, "a"), (None, 2.5)), 2, "2 rows: (1, a) | (null, 2.5)"),
        (((1,), (2,), (3,), (4,)), 4, "4 rows: (1) | (2) | (3) | ..."),
        (((1,), (2,), (3,)), 1000, "1000 rows: (1) | (2) | (3) | ..."),  # only the first rows are kept
        ((("a\n  b\tc",),), 1, "1 row: (a b c)"),
        ((("x" * 100,),), 1, f"1 row: ({'x' * (CELL_CHARS - 3)}...)"),
        (((True, [1, 2]),), 1, "1 row: (true, [1, 2])"),
    ],
    ids=["empty", "one", "values", "more", "counted", "whitespace", "long-cell", "json"],
)
def test_render_result(rows: tuple[tuple[object, ...], ...], row_count: int, text: str) -> None:
    assert render_result(rows, row_count) == text


def test_options_follow_the_display_order_with_votes_and_cut_sql() -> None:
    long_sql = "SELECT " + ", ".join(f"c{i}" for i in range(400)) + " FROM t"
    groups = [GROUPS[0], Group(long_sql, ("c0",), ((1,),), 1, 3)]
    lines = render_options(groups, [1, 0]).splitlines()
    assert lines[0].startswith("A. 3/8 votes: SELECT c0, c1") and lines[0].endswith("...")
    assert len(lines[0]) == len("A. 3/8 votes: ") + SQL_CHARS
    assert lines[1:] == ["   1 row: (1)", f"B. 5/8 votes: {GROUPS[0].sql}", "   1 row: (3)"]


def test_the_prompt_is_pinned(bird_root: Path) -> None:
    schema = Catalog(bird_root).schema_text("school", "mschema", 0)
    order = display_order(len(GROUPS), order_key("school", QUESTION))
    prompt = build_selector_prompt("SQLite", schema, QUESTION, EVIDENCE, GROUPS, order)
    assert prompt == expected("selector_prompt.txt")
    assert build_selector_messages("SQLite", schema, QUESTION, EVIDENCE, GROUPS, order) == [
        {"role": "user", "content": prompt}
    ]


@pytest.mark.parametrize(
    ("groups", "order"),
    [
        (GROUPS[:1], [0]),
        ([*GROUPS, GROUPS[0]], [0, 1, 2, 3, 4]),
        (GROUPS[:2], [0, 0]),
        (GROUPS[:3], [0, 1]),
    ],
    ids=["one-group", "five-groups", "not-a-permutation", "short-order"],
)
def test_the_prompt_needs_two_to_four_groups_and_an_order_over_them(
    groups: list[Group], order: list[int]
) -> None:
    with pytest.raises(ValueError, match=f"need 2 to {MAX_GROUPS} groups"):
        build_selector_prompt("SQLite", "【DB_ID】 t", QUESTION, "", groups, order)
