"""Lexical scans of SQL text, outside quotes and comments, without parsing it.

Extraction and the guard need a few facts about a text before (or instead of) handing it to sqlglot:
where its first statement ends, whether a quote never closes, and how deeply its brackets nest. Each
is one pass over the characters that skips string literals (``'...'``), quoted identifiers
(``"..."``, ```...```, ``[...]``) and comments (``-- ...``, ``/* ... */``).

>>> first_semicolon("SELECT ';' AS s -- a;b\\nFROM t; DROP TABLE t")
29
>>> bracket_depth("SELECT (1 + (2)) AS x, '(((' AS s")
2
"""

from __future__ import annotations

# Opening token -> what closes it; the text in between is neither SQL structure nor a semicolon.
CLOSERS: dict[str, str] = {"'": "'", '"': '"', "`": "`", "[": "]", "--": "\n", "/*": "*/"}
# Brackets nested deeper than this are refused before any parse (the guard: "nested too deeply").
MAX_BRACKET_DEPTH = 40


def _skip(sql: str, i: int) -> tuple[int, bool] | None:
    """At ``i``: ``None`` when no quote or comment opens there; else (the index after it, whether it
    closes). A line comment closes at the end of the text."""
    opener = sql[i : i + 2] if sql.startswith(("--", "/*"), i) else sql[i]
    closer = CLOSERS.get(opener)
    if closer is None:
        return None
    end = sql.find(closer, i + len(opener))
    if end < 0:
        return len(sql), opener == "--"
    return end + len(closer), True


def scan(sql: str) -> tuple[int | None, int | None]:
    """(first semicolon, start of a quote or block comment that never closes), each ``None`` when
    absent, in one pass outside quotes and comments.

    >>> scan("SELECT a; SELECT 'b"), scan("SELECT 1 -- no end")
    ((8, 17), (None, None))
    """
    i, n = 0, len(sql)
    semicolon: int | None = None
    while i < n:
        skipped = _skip(sql, i)
        if skipped is None:
            if sql[i] == ";" and semicolon is None:
                semicolon = i
            i += 1
            continue
        after, closed = skipped
        if not closed:
            return semicolon, i
        i = after
    return semicolon, None


def first_semicolon(sql: str) -> int | None:
    """Where the first semicolon outside quotes and comments is, else ``None``."""
    return scan(sql)[0]


def bracket_depth(sql: str) -> int:
    """The deepest nesting of round brackets outside quotes and comments (an unbalanced ``)`` does not
    go below 0).

    >>> bracket_depth("SELECT count(*) FROM (SELECT max(a) FROM t) -- ((((("), bracket_depth("SELECT 1")
    (2, 0)
    """
    depth = deepest = 0
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth = max(depth - 1, 0)
        elif ch in "'\"`[-/":
            skipped = _skip(sql, i)
            if skipped is not None:
                i = skipped[0]
                continue
        i += 1
    return deepest


def nested_too_deeply(sql: str) -> bool:
    """Whether round brackets nest deeper than :data:`MAX_BRACKET_DEPTH` outside quotes and comments.

    Such a text is never parsed: sqlglot's parser recurses once per level, and where it stops depends
    on its build (about 45 levels interpreted, several hundred compiled), so the limit is set here.

    >>> def nested(k: int) -> str:
    ...     return "SELECT " + "(" * k + "1" + ")" * k
    >>> nested_too_deeply(nested(40)), nested_too_deeply(nested(41))
    (False, True)
    """
    return sql.count("(") > MAX_BRACKET_DEPTH and bracket_depth(sql) > MAX_BRACKET_DEPTH
