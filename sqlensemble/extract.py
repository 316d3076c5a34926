"""The SQL in a generator's answer.

The prompt ends with an opening ```` ```sql ```` fence, so a completion is usually the bare statement,
possibly followed by a closing fence and prose; chat-style answers wrap it in a fenced block instead.
:func:`extract_sql` looks first at the text before any fence, then inside each fenced block, and
returns the first statement that parses (``sqlglot``, SQLite dialect), cut at its first top-level
semicolon, with trailing prose lines removed. It returns ``None`` when there is no usable SQL.
Whether the SQL is allowed to run is the guard's business, not this module's.

The bare completion, with the closing fence and an explanation after it:

>>> extract_sql("SELECT name FROM school WHERE id = 1\\n```\\nThis returns the name.")
'SELECT name FROM school WHERE id = 1'

A fenced block after prose (with or without a language tag):

>>> extract_sql("Here is the query:\\n```sql\\nSELECT count(*)\\nFROM t;\\n```\\nDone.")
'SELECT count(*)\\nFROM t'
>>> extract_sql("```\\nselect 1\\n```")
'select 1'

Trailing semicolons, a second statement, prose on the following lines:

>>> extract_sql("  SELECT a FROM t;;  ")
'SELECT a FROM t'
>>> extract_sql("SELECT a FROM t; SELECT b FROM u;")
'SELECT a FROM t'
>>> extract_sql("SELECT a FROM t WHERE b = 'x;y'\\nThe query filters on b.")
"SELECT a FROM t WHERE b = 'x;y'"

A ``WITH`` query is kept whole:

>>> extract_sql("WITH c AS (SELECT id FROM t) SELECT count(*) FROM c\\n```")
'WITH c AS (SELECT id FROM t) SELECT count(*) FROM c'

No usable SQL:

>>> extract_sql("I cannot answer this question.") is None
True
>>> extract_sql("```sql\\n```") is None
True
>>> extract_sql("") is None
True
"""

from __future__ import annotations

import re

FENCE = "```"
# A statement starts at the beginning of a line with one of these words (case-insensitive).
_STATEMENT_START = re.compile(r"^[ \t]*\(*[ \t]*(?:SELECT|WITH|VALUES)\b", re.IGNORECASE | re.MULTILINE)
# Inside a fence, the first line may name the language.
_LANGUAGE_TAG = re.compile(r"[ \t]*(?:sql|sqlite|mysql|postgresql|postgres)?[ \t]*(?:\n|$)", re.IGNORECASE)
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_LEADING_COMMENTS = re.compile(r"^(?:\s*(?:--[^\n]*(?:\n|$)|/\*.*?\*/))*\s*", re.DOTALL)
# Words a fenced block's statement may start with (the guard decides later whether it may run).
STATEMENT_WORDS = frozenset(
    """SELECT WITH VALUES INSERT UPDATE DELETE REPLACE CREATE DROP ALTER ATTACH DETACH PRAGMA VACUUM
    EXPLAIN BEGIN COMMIT ROLLBACK ANALYZE REINDEX SAVEPOINT RELEASE""".split()  # noqa: SIM905 (a word table)
)


def _chunks(text: str) -> list[tuple[str, bool]]:
    """(chunk, fenced): the text before the first fence, then the content of each fenced block."""
    parts = text.split(FENCE)
    chunks = [(parts[0], False)]
    for body in parts[1::2]:
        tag = _LANGUAGE_TAG.match(body)
        chunks.append((body[tag.end() :] if tag else body, True))
    return chunks


def cut_at_semicolon(sql: str) -> str:
    """The SQL up to its first semicolon outside quotes and comments.

    >>> cut_at_semicolon("SELECT ';' AS s, \\"a;b\\" -- c;d\\nFROM t; DROP TABLE t")
    'SELECT \\';\\' AS s, "a;b" -- c;d\\nFROM t'
    """
    i, n = 0, len(sql)
    closers = {"'": "'", '"': '"', "`": "`", "[": "]"}
    while i < n:
        ch = sql[i]
        if ch == ";":
            return sql[:i]
        if ch in closers:
            end = sql.find(closers[ch], i + 1)
            i = n if end < 0 else end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            i += 1
    return sql


def first_word(sql: str) -> str:
    """The statement's first word in upper case, after leading comments and parentheses.

    >>> first_word("-- top names\\n/* x */ ( select 1)")
    'SELECT'
    """
    rest = _LEADING_COMMENTS.sub("", sql, count=1).lstrip("( \t\n")
    word = re.match(r"[A-Za-z]+", rest)
    return word.group(0).upper() if word else ""


def _clean(sql: str) -> str:
    return cut_at_semicolon(sql).strip().rstrip(";").strip()


def _parses(sql: str) -> bool:
    import sqlglot
    from sqlglot.errors import SqlglotError

    try:
        statements = sqlglot.parse(sql, read="sqlite")
    except (SqlglotError, ValueError):
        return False
    return len(statements) == 1 and statements[0] is not None


def _candidate(chunk: str, fenced: bool) -> str | None:
    """The statement a chunk holds: a fenced block is SQL as a whole, bare text from a statement start."""
    if not fenced:
        start = _STATEMENT_START.search(chunk)
        if start is None:
            return None
        chunk = _BLANK_LINE.split(chunk[start.start() :], maxsplit=1)[0]
    sql = _clean(chunk)
    return sql if sql and first_word(sql) in STATEMENT_WORDS else None


def _trim_prose(sql: str) -> str | None:
    """The longest prefix of whole lines that parses, or ``None``."""
    lines = sql.split("\n")
    for end in range(len(lines), 0, -1):
        prefix = "\n".join(lines[:end]).strip().rstrip(";").strip()
        if prefix and _parses(prefix):
            return prefix
    return None


def extract_sql(text: str | None) -> str | None:
    """The SQL statement in a model's output, or ``None``; see the module docstring."""
    if not text or not text.strip():
        return None
    candidates = [sql for chunk, fenced in _chunks(text) if (sql := _candidate(chunk, fenced))]
    for sql in candidates:
        parsed = _trim_prose(sql)
        if parsed:
            return parsed
    # Nothing parses: hand over the first candidate (it starts like a statement), so the guard and
    # the executor report why it fails.
    return candidates[0] if candidates else None
