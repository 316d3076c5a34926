"""The selection model's prompt and answer: the vote's groups shown as labelled options A, B, C, ...

When the candidates of one question fall into several groups (equivalent results, :mod:`sqlensemble.voting`),
a trained selection model may be asked which group answers the question. Training
(:mod:`sqlensemble.train.selector`) and the gateway (:mod:`sqlensemble.ensemble.selection`) both build
its prompt here, from the same values, so a model always sees at serving time the text it was trained on:

- at most :data:`MAX_GROUPS` groups, the vote's best first (its ranking, ``voting.vote``);
- shown in an order drawn from the question itself (:func:`display_order`): a seeded shuffle, so the
  label of the vote's winner (or of the right answer, in training) carries no information;
- each with its SQL, its share of the votes and the first :data:`PREVIEW_ROWS` rows of its result, cut
  to :data:`CELL_CHARS` characters a value and :data:`SQL_CHARS` characters of SQL.

The model answers with one label; :func:`parse_label` accepts that label alone (``"B"``, ``" B."``,
``"B\\n..."``) and nothing else, so a rambling or empty answer falls back to the vote.

>>> groups = [Group("SELECT count(*) FROM t", ("n",), ((3,),), 1, 5),
...           Group("SELECT 1", ("1",), ((1,),), 1, 2)]
>>> order = display_order(len(groups), "q3")
>>> text = build_selector_prompt("SQLite", "【DB_ID】 t", "How many rows?", "", groups, order)
>>> print(text[text.rindex("【候选】"):])
【候选】
A. 2/7 votes: SELECT 1
   1 row: (1)
B. 5/7 votes: SELECT count(*) FROM t
   1 row: (3)
<BLANKLINE>
【用户问题】
How many rows?
<BLANKLINE>
【答案】
>>> order, [parse_label(a, len(groups)) for a in ("A", " B.\\n", "C", "it is A")]
([1, 0], [0, 1, None, None])
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlensemble.prompts import normalize_input

MAX_GROUPS = 4  # groups shown to the model: the vote's best four
PREVIEW_ROWS = 3  # rows of each group's result in its option
CELL_CHARS = 40  # characters of one value in a preview
SQL_CHARS = 600  # characters of a group's SQL in its option
LABELS = string.ascii_uppercase[:MAX_GROUPS]

TEMPLATE = (
    "你是一名{dialect}专家，下面的【候选】是回答【用户问题】的几组SQL，每组执行结果相同、各组结果不同。"
    "阅读【数据库schema】和【参考信息】，选出正确回答问题的一组，只回答它的字母。\n"
    "【用户问题】\n{question}\n\n"
    "【数据库schema】\n{db_schema}\n\n"
    "【参考信息】\n{evidence}\n\n"
    "【候选】\n{options}\n\n"
    "【用户问题】\n{question}\n\n"
    "【答案】"
)


@dataclass(frozen=True)
class Group:
    """One group as the model sees it: its answer's SQL and result (JSON values), and its votes."""

    sql: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]  # the first rows at least; only PREVIEW_ROWS are shown
    row_count: int
    votes: int


def display_order(count: int, key: str) -> list[int]:
    """The groups' positions (vote rank) in the order they are shown, drawn from ``key``.

    ``key`` is the question (with its database), so one question always gets one order, in training and
    at serving time, while the position of the vote's winner varies from question to question.

    >>> display_order(3, "q1") == display_order(3, "q1"), sorted(display_order(4, "q2"))
    (True, [0, 1, 2, 3])
    """
    order = list(range(count))
    seed = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")
    random.Random(seed).shuffle(order)
    return order


def order_key(db_id: str, question: str, salt: str = "") -> str:
    """The :func:`display_order` key of a question; training adds a ``salt`` for extra permutations.

    >>> order_key("shop", " How many? "), order_key("shop", "How many?", "1")
    ('shop\\nHow many?', 'shop\\nHow many?\\n1')
    """
    key = f"{db_id}\n{normalize_input(question)}"
    return f"{key}\n{salt}" if salt else key


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 3] + "..."


def render_result(rows: Sequence[Sequence[Any]], row_count: int) -> str:
    """A result as one line: how many rows, then the first :data:`PREVIEW_ROWS` of them.

    >>> render_result([], 0), render_result([[1, "a"], [None, 2.5]], 2)
    ('empty', '2 rows: (1, a) | (null, 2.5)')
    >>> render_result([[i] for i in range(5)], 5)
    '5 rows: (0) | (1) | (2) | ...'
    """
    if row_count == 0 or not rows:
        return "empty"
    shown = " | ".join("(" + ", ".join(_cell(v) for v in row) + ")" for row in rows[:PREVIEW_ROWS])
    more = " | ..." if row_count > PREVIEW_ROWS else ""
    return f"{row_count} row{'s' if row_count != 1 else ''}: {shown}{more}"


def _one_line(sql: str) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= SQL_CHARS else text[: SQL_CHARS - 3] + "..."


def render_options(groups: Sequence[Group], order: Sequence[int]) -> str:
    """The options block: one labelled entry per group, in display ``order``."""
    total = sum(g.votes for g in groups)
    lines = []
    for label, position in zip(LABELS, order, strict=False):
        g = groups[position]
        lines.append(f"{label}. {g.votes}/{total} votes: {_one_line(g.sql)}")
        lines.append(f"   {render_result(g.rows, g.row_count)}")
    return "\n".join(lines)


def build_selector_prompt(
    dialect: str,
    schema_text: str,
    question: str,
    evidence: str | None,
    groups: Sequence[Group],
    order: Sequence[int],
) -> str:
    """The selection prompt for ``groups`` (in vote rank order, at most :data:`MAX_GROUPS`), shown in
    display ``order``."""
    if not 2 <= len(groups) <= MAX_GROUPS or sorted(order) != list(range(len(groups))):
        raise ValueError(f"need 2 to {MAX_GROUPS} groups and an order over them, got {len(groups)}, {order}")
    return TEMPLATE.format(
        dialect=dialect,
        question=normalize_input(question),
        db_schema=schema_text,
        evidence=normalize_input(evidence),
        options=render_options(groups, order),
    )


def build_selector_messages(
    dialect: str,
    schema_text: str,
    question: str,
    evidence: str | None,
    groups: Sequence[Group],
    order: Sequence[int],
) -> list[dict[str, str]]:
    """:func:`build_selector_prompt` as the one user message of a chat request."""
    return [
        {
            "role": "user",
            "content": build_selector_prompt(dialect, schema_text, question, evidence, groups, order),
        }
    ]


_ANSWER = re.compile(r"\s*([A-Z])(?:[\s.)。:：,，]|$)")


def parse_label(text: str, count: int) -> int | None:
    """The display position the model's answer names, or ``None`` for anything but one valid label.

    >>> [parse_label(text, 3) for text in ("B", "b", "D", "", "AB", "C)")]
    [1, None, None, None, None, 2]
    """
    match = _ANSWER.match(text)
    if match is None:
        return None
    position = LABELS.find(match.group(1))
    return position if 0 <= position < count else None
