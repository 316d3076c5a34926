"""Prompts in XiYan-SQL's published format, one user message per question.

The released XiYanSQL-QwenCoder checkpoints were trained on these texts, so they work as generators
unchanged, and our own generators are trained on the same thing: training and the gateway both call
:func:`build_messages`, so the same input always gives byte-identical prompts. The question appears
twice; the text ends with an opening ```` ```sql ```` fence and nothing after it, so the model's
completion is the bare SQL, possibly followed by a closing fence (see :mod:`sqlensemble.extract`).

>>> print(build_prompt("xiyan_en", "SQLite", "【DB_ID】 t", "How many rows?", ""))
You are a SQLite expert. You need to read and understand the following【Database Schema】description and \
the possible provided【Evidence】, and use valid SQLite knowledge to generate SQL for \
answering the【Question】.
【Question】
How many rows?
<BLANKLINE>
【Database Schema】
【DB_ID】 t
<BLANKLINE>
【Evidence】
<BLANKLINE>
<BLANKLINE>
【Question】
How many rows?
<BLANKLINE>
```sql
"""

from __future__ import annotations

from typing import Literal, get_args

from sqlensemble.errors import ConfigError

Dialect = Literal["SQLite", "PostgreSQL", "MySQL"]
DIALECTS: tuple[str, ...] = get_args(Dialect)
TemplateName = Literal["xiyan_zh", "xiyan_en"]

# The templates as published (placeholders: dialect, question, db_schema, evidence).
TEMPLATES: dict[str, str] = {
    "xiyan_zh": (
        "你是一名{dialect}专家，现在需要阅读并理解下面的【数据库schema】描述，以及可能用到的【参考信息】，"
        "并运用{dialect}知识生成sql语句回答【用户问题】。\n"
        "【用户问题】\n{question}\n\n"
        "【数据库schema】\n{db_schema}\n\n"
        "【参考信息】\n{evidence}\n\n"
        "【用户问题】\n{question}\n\n"
        "```sql"
    ),
    "xiyan_en": (
        "You are a {dialect} expert. You need to read and understand the following【Database Schema】"
        "description and the possible provided【Evidence】, and use valid {dialect} knowledge to generate "
        "SQL for answering the【Question】.\n"
        "【Question】\n{question}\n\n"
        "【Database Schema】\n{db_schema}\n\n"
        "【Evidence】\n{evidence}\n\n"
        "【Question】\n{question}\n\n"
        "```sql"
    ),
}
DEFAULT_TEMPLATE: TemplateName = "xiyan_zh"


def normalize_input(text: str | None) -> str:
    """A question or evidence as every prompt carries it: surrounding whitespace removed, ``None`` empty.

    Training and serving both reach the text only through :func:`build_prompt`, which applies this, so
    a question typed with a trailing newline gets the prompt its generator was trained on.

    >>> normalize_input("  How many rows?\\n"), normalize_input(None)
    ('How many rows?', '')
    """
    return (text or "").strip()


def build_prompt(
    template: str,
    dialect: str,
    schema_text: str,
    question: str,
    evidence: str | None = "",
) -> str:
    """The prompt text; ``evidence`` empty or ``None`` keeps its section with no text, as published.

    Question and evidence pass through :func:`normalize_input` here, the one place both training and the
    gateway go through. An unknown template or dialect is a :class:`ConfigError`.

    >>> padded = build_prompt("xiyan_en", "SQLite", "s", " q \\n", "e ")
    >>> padded == build_prompt("xiyan_en", "SQLite", "s", "q", "e")
    True
    """
    try:
        text = TEMPLATES[template]
    except KeyError:
        raise ConfigError(
            f"unknown prompt template {template!r}; choose from {', '.join(TEMPLATES)}"
        ) from None
    if dialect not in DIALECTS:
        raise ConfigError(f"unknown SQL dialect {dialect!r}; choose from {', '.join(DIALECTS)}")
    return text.format(
        dialect=dialect,
        question=normalize_input(question),
        db_schema=schema_text,
        evidence=normalize_input(evidence),
    )


def build_messages(
    template: str,
    dialect: str,
    schema_text: str,
    question: str,
    evidence: str | None = "",
) -> list[dict[str, str]]:
    """The chat messages for one question: a single user message holding :func:`build_prompt`'s text.

    >>> msgs = build_messages("xiyan_zh", "MySQL", "s", "q", None)
    >>> [m["role"] for m in msgs], msgs[0]["content"].startswith("你是一名MySQL专家"), msgs[0]["content"][-7:]
    (['user'], True, '\\n```sql')
    """
    return [{"role": "user", "content": build_prompt(template, dialect, schema_text, question, evidence)}]
