"""The SQL in a generator's answer.

The prompt ends with an opening ```` ```sql ```` fence, so a completion is usually the bare statement,
possibly followed by a closing fence and prose; chat-style answers wrap it in a fenced block instead.
:func:`extract_sql` looks first at the text before any fence, then inside each fenced block, and
returns the first statement that parses (``sqlglot``, SQLite dialect), cut at its first top-level
semicolon, with trailing prose lines removed. It returns ``None`` when there is no usable SQL.
Whether the SQL is allowed to run is the guard's business, not this module's. :func:`extract_statement`
also returns the parse of that exact text (when it was parsed here), so that the guard does not parse
the same statement again.

The work is bounded whatever a model writes: only the first :data:`MAX_TEXT_CHARS` characters are read,
and at most :data:`MAX_PARSES` parses are spent per text. Trailing prose is found from the line where
sqlglot (or an unterminated quote) reports the error, not by re-parsing every shorter prefix, so a
statement followed by thousands of lines of prose costs a few parses. A statement whose brackets nest
deeper than :data:`sqlensemble.sqltext.MAX_BRACKET_DEPTH`, or that is nested too deeply for the parser
in another way (Python's recursion limit), simply does not parse here; the guard names the reason.

The bare completion, with the closing fence and an explanation after it:

>>> extract_sql("SELECT name FROM school WHERE id = 1\\n```\\nThis returns the name.")
'SELECT name FROM school WHERE id = 1'

A fenced block after prose (with or without a language tag):

>>> extract_sql("Here is the query:\\n```sql\\nSELECT count(*)\\nFROM t;\\n```\\nDone.")
'SELECT count(*)\\nFROM t'
>>> extract_sql("```\\nselect 1\\n```")
'select 1'

Trailing semicolons and prose on the following lines are dropped:

>>> extract_sql("  SELECT a FROM t;;  ")
'SELECT a FROM t'
>>> extract_sql("SELECT a FROM t WHERE b = 'x;y'\\nThe query filters on b.")
"SELECT a FROM t WHERE b = 'x;y'"

A second statement after the first is kept, so that the guard refuses the candidate ("expected exactly
one statement") instead of the gateway silently running only the first one:

>>> extract_sql("SELECT a FROM t; DROP TABLE t;")
'SELECT a FROM t; DROP TABLE t'

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
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlensemble.sqltext import first_semicolon, nested_too_deeply, scan

if TYPE_CHECKING:
    from sqlglot import exp

FENCE = "```"
MAX_TEXT_CHARS = 32_768  # a completion is read up to here; SQL answers are far shorter
MAX_PARSES = 16  # sqlglot parses one text may cost, over all its chunks
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
    semicolon = first_semicolon(sql)
    return sql if semicolon is None else sql[:semicolon]


def unterminated_at(sql: str) -> int | None:
    """Where a quote, bracket or block comment opens that never closes, else ``None``.

    >>> unterminated_at("SELECT a FROM t\\nIt's the answer.")
    18
    >>> unterminated_at("SELECT 'it''s' -- don't\\nFROM t") is None
    True
    """
    return scan(sql)[1]


def first_word(sql: str) -> str:
    """The statement's first word in upper case, after leading comments and parentheses.

    >>> first_word("-- top names\\n/* x */ ( select 1)")
    'SELECT'
    """
    rest = _LEADING_COMMENTS.sub("", sql, count=1).lstrip("( \t\n")
    word = re.match(r"[A-Za-z]+", rest)
    return word.group(0).upper() if word else ""


class _Budget:
    """The parses one text may still spend."""

    def __init__(self, parses: int) -> None:
        self.left = parses

    def spend(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True


def _strip(sql: str) -> str:
    return sql.strip().rstrip(";").strip()


@dataclass(frozen=True)
class Extraction:
    """The SQL found in a text and, when it was parsed here, its one statement (sqlglot, SQLite
    dialect) parsed from exactly ``sql``; ``tree`` is ``None`` when the SQL is handed over unparsed
    (several statements, or nothing parsed)."""

    sql: str
    tree: exp.Expr | None = None


def _parse_prefix(sql: str) -> tuple[int | None, exp.Expr | None]:
    """(0, the tree) when ``sql`` is exactly one statement; else (the 1-based line where parsing fails,
    if known, ``None``)."""
    import sqlglot
    from sqlglot.errors import ParseError, SqlglotError

    if nested_too_deeply(sql):  # not parsed at all; the guard names the reason
        return None, None
    try:
        statements = sqlglot.parse(sql, read="sqlite")
    except ParseError as e:
        lines = [line for d in e.errors if isinstance(line := d.get("line"), int)]
        return (min(lines) if lines else None), None
    except SqlglotError:  # a tokenizer error: an unterminated quote, usually in prose
        opened = unterminated_at(sql)
        return (None if opened is None else sql.count("\n", 0, opened) + 1), None
    except (ValueError, RecursionError):  # RecursionError: nested too deeply in another way (NOT NOT ...)
        return None, None
    if len(statements) == 1 and statements[0] is not None:
        return 0, statements[0]
    return None, None


def _trim_prose(sql: str, budget: _Budget) -> Extraction | None:
    """The longest prefix of whole lines that parses, or ``None``, in a bounded number of parses.

    After a failure at line ``k`` the next try ends at line ``k`` (or one line earlier when the failure
    was on the last line), so prose after the statement costs a couple of parses, not one per line.
    """
    lines = sql.split("\n")
    end = len(lines)
    while end > 0 and budget.spend():
        prefix = _strip("\n".join(lines[:end]))
        if not prefix:
            return None
        line, tree = _parse_prefix(prefix)
        if line == 0:
            return Extraction(prefix, tree)
        end = line if line is not None and 0 < line < end else end - 1
    return None


def _candidate(chunk: str, fenced: bool, budget: _Budget) -> tuple[str, bool] | None:
    """(SQL, several statements?) of a chunk: a fenced block is SQL as a whole, bare text from a
    statement start. A statement after the first one's semicolon is kept with it (the guard then
    refuses the candidate); prose after the semicolon is dropped.
    """
    if not fenced:
        start = _STATEMENT_START.search(chunk)
        if start is None:
            return None
        chunk = _BLANK_LINE.split(chunk[start.start() :], maxsplit=1)[0]
    first = cut_at_semicolon(chunk)
    sql = _strip(first)
    if not sql or first_word(sql) not in STATEMENT_WORDS:
        return None
    rest = chunk[len(first) :].lstrip("; \t\n")
    if rest and first_word(rest) in STATEMENT_WORDS:
        second = _strip(cut_at_semicolon(rest))
        parsed = _trim_prose(second, budget) if second else None
        if parsed is not None:
            return f"{sql}; {parsed.sql}", True
    return sql, False


def extract_statement(text: str | None) -> Extraction | None:
    """The SQL statement in a model's output with its parse, or ``None``; see the module docstring.

    >>> found = extract_statement("SELECT a FROM t;\\n```")
    >>> found.sql, found.tree.sql()
    ('SELECT a FROM t', 'SELECT a FROM t')
    >>> extract_statement("SELECT 1; DROP TABLE t").tree is None
    True
    """
    if not text or not text.strip():
        return None
    text = text[:MAX_TEXT_CHARS]
    budget = _Budget(MAX_PARSES)
    candidates = [found for chunk, fenced in _chunks(text) if (found := _candidate(chunk, fenced, budget))]
    for sql, several in candidates:
        if several:
            return Extraction(sql)  # handed over whole, for the guard to refuse
        parsed = _trim_prose(sql, budget)
        if parsed:
            return parsed
    # Nothing parses: hand over the first candidate (it starts like a statement), so the guard and
    # the executor report why it fails.
    return Extraction(candidates[0][0]) if candidates else None


def extract_sql(text: str | None) -> str | None:
    """The SQL statement in a model's output, or ``None``; see the module docstring."""
    found = extract_statement(text)
    return None if found is None else found.sql
