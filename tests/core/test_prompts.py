"""Prompts in XiYan-SQL's published format, pinned by expected-output files."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlensemble.catalog import Catalog
from sqlensemble.errors import ConfigError
from sqlensemble.prompts import DIALECTS, TEMPLATES, build_messages, build_prompt

from .conftest import expected

QUESTION = "Which schools in Alameda Unified opened before 2000?"
EVIDENCE = "opened before 2000 refers to OpenDate < '2000-01-01'"


@pytest.fixture()
def schema_text(bird_root: Path) -> str:
    return Catalog(bird_root).schema_text("school")


def test_chinese_prompt_matches_expected_file(schema_text: str) -> None:
    assert build_prompt("xiyan_zh", "SQLite", schema_text, QUESTION, EVIDENCE) == expected("prompt_zh.txt")


def test_english_prompt_with_empty_evidence_matches_expected_file(schema_text: str) -> None:
    assert build_prompt("xiyan_en", "SQLite", schema_text, QUESTION, "") == expected("prompt_en.txt")
    assert build_prompt("xiyan_en", "SQLite", schema_text, QUESTION, None) == expected("prompt_en.txt")


@pytest.mark.parametrize("template", sorted(TEMPLATES))
@pytest.mark.parametrize("dialect", DIALECTS)
def test_shape(template: str, dialect: str) -> None:
    text = build_prompt(template, dialect, "SCHEMA {x}", "Q?", "")
    assert text.endswith("\n\n```sql")
    assert text.count("Q?") == 2
    assert text.count(dialect) == 2
    assert "SCHEMA {x}" in text  # braces in the schema are kept as they are
    lines = text.split("\n")
    # header, 【Q】, Q?, "", 【S】, SCHEMA, "", 【E】, (empty evidence), "", 【Q】, Q?, "", fence
    assert len(lines) == 14
    assert lines[2] == lines[11] == "Q?" and lines[1] == lines[10] and lines[1].startswith("【")
    assert lines[4].startswith("【") and lines[5] == "SCHEMA {x}"
    assert lines[7].startswith("【") and lines[8] == "" and lines[-1] == "```sql"


def test_messages_are_one_user_message() -> None:
    messages = build_messages("xiyan_en", "PostgreSQL", "s", "q", "e")
    assert messages == [{"role": "user", "content": build_prompt("xiyan_en", "PostgreSQL", "s", "q", "e")}]
    assert messages[0]["content"].startswith("You are a PostgreSQL expert.")


def test_unknown_template_lists_known_ones() -> None:
    with pytest.raises(ConfigError, match="xiyan_zh, xiyan_en"):
        build_prompt("chatml", "SQLite", "s", "q", "")


def test_unknown_dialect() -> None:
    with pytest.raises(ConfigError, match="SQLite, PostgreSQL, MySQL"):
        build_messages("xiyan_zh", "Oracle", "s", "q", "")


def test_question_and_evidence_are_normalised_inside_the_builder(schema_text: str) -> None:
    """The gateway passes text as the user typed it; training reads it from BIRD files. Both go through
    the builder, so surrounding whitespace can never make the two prompts differ."""
    raw = build_messages("xiyan_en", "SQLite", schema_text, f"  {QUESTION}\n", f"\t{EVIDENCE} \n")
    clean = build_messages("xiyan_en", "SQLite", schema_text, QUESTION, EVIDENCE)
    assert raw == clean
    assert f"【Question】\n{QUESTION}\n\n" in clean[0]["content"]
    assert build_prompt("xiyan_zh", "SQLite", "s", "q", "   ") == build_prompt(
        "xiyan_zh", "SQLite", "s", "q", None
    )
