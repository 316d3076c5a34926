"""The SQL guard: the first of two layers between a model's SQL and a database.

A candidate passes when it is exactly one statement and that statement only reads: ``SELECT``,
``WITH ... SELECT``, or a ``UNION`` / ``INTERSECT`` / ``EXCEPT`` of them, calling no function on the
deny list. Everything else is refused with a reason. The executor's sqlite3 authorizer is the second
layer, so a statement that slips past this parser is still stopped at the database.

The guard also gives each accepted statement a normalized form (sqlglot's canonical SQLite rendering
with comments dropped), so that candidates differing only in whitespace, keyword case, comments or a
trailing semicolon are executed once.

>>> check_sql("select  name from users;").normalized
'SELECT name FROM users'
>>> check_sql("DROP TABLE users").reason
'only read queries are allowed (SELECT, WITH, UNION, INTERSECT, EXCEPT); got DROP'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from sqlensemble.sqltext import MAX_BRACKET_DEPTH, nested_too_deeply

DIALECT = "sqlite"
TOO_DEEP = "SQL is nested too deeply to check"

# Statement roots that read. A parenthesised query is unwrapped before this check.
READ_ROOTS: tuple[type[exp.Expr], ...] = (exp.Select, exp.Union, exp.Intersect, exp.Except)

# Nodes that write or change state, wherever they appear (a data-modifying CTE, for example).
# Value: the kind named in the refusal.
WRITE_NODES: dict[type[exp.Expr], str] = {
    exp.Insert: "INSERT",
    exp.Update: "UPDATE",
    exp.Delete: "DELETE",
    exp.Merge: "MERGE",
    exp.Drop: "DROP",
    exp.Create: "CREATE",
    exp.Alter: "ALTER",
    exp.Attach: "ATTACH",
    exp.Detach: "DETACH",
    exp.Pragma: "PRAGMA",
    exp.Transaction: "BEGIN",
    exp.Commit: "COMMIT",
    exp.Rollback: "ROLLBACK",
    exp.Analyze: "ANALYZE",
    exp.Command: "COMMAND",
}

WRITE_TYPES = tuple(WRITE_NODES)

# Functions a read query may not call: they load code, touch files or leak pointers.
DENIED_FUNCTIONS: frozenset[str] = frozenset(
    {"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit", "sqlite_dbpage"}
)


@dataclass(frozen=True)
class GuardResult:
    """What the guard decided about one SQL string.

    ``sql`` is the text to execute (the input without surrounding whitespace); ``normalized`` is the
    key under which equal statements are executed once, ``None`` when refused.
    """

    ok: bool
    sql: str
    normalized: str | None
    reason: str | None


def _refuse(sql: str, reason: str) -> GuardResult:
    return GuardResult(ok=False, sql=sql, normalized=None, reason=reason)


def statement_kind(node: exp.Expr) -> str:
    """The keyword that names a statement, for refusal messages.

    >>> statement_kind(sqlglot.parse_one("vacuum", read="sqlite"))
    'VACUUM'
    >>> statement_kind(sqlglot.parse_one("insert into t values (1)", read="sqlite"))
    'INSERT'
    """
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    kind = WRITE_NODES.get(type(node))
    if kind is not None:
        return kind
    words = node.sql(dialect=DIALECT, comments=False).split()
    return words[0].upper() if words else type(node).__name__.upper()


def _function_names(nodes: list[exp.Expr]) -> set[str]:
    names = {node.name.lower() for node in nodes if isinstance(node, exp.Anonymous)}
    names |= {node.sql_name().lower() for node in nodes if isinstance(node, exp.Func)}
    return names


def _parse_error_message(error: SqlglotError) -> str:
    details = getattr(error, "errors", None)
    if details:
        first = details[0]
        description = re.sub(r"<Token token_type: TokenType\.(\w+).*?>", r"\1", str(first["description"]))
        return f"{description} at line {first['line']}, col {first['col']}"
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def check_sql(sql: str, tree: exp.Expr | None = None) -> GuardResult:
    """Accept one read-only statement, refuse anything else with a reason.

    ``tree`` is the parse of exactly ``sql`` when the caller already has it (``sqlglot.parse`` with the
    SQLite dialect gave this one statement; ``extract.extract_statement`` returns it): then the text is
    not parsed again, and every check runs on that tree (which rendering the normalized form may
    change: pass a tree that is not used afterwards). Without it, the guard parses ``sql`` once.

    >>> check_sql("WITH a AS (SELECT 1 AS x) SELECT x FROM a").ok
    True
    >>> check_sql("SELECT 1 UNION SELECT 2").ok
    True
    >>> check_sql("SELECT 1; DROP TABLE t").reason
    'expected exactly one statement, got 2 statements'
    >>> check_sql("-- nothing here").reason
    'no SQL statement'
    >>> check_sql("SELECT load_extension('evil')").reason
    'function load_extension is not allowed'
    >>> check_sql("/* hi */ SELECT a FROM t -- bye").normalized == check_sql("select a from t;").normalized
    True
    >>> check_sql("SELECT " + "(" * 200 + "1" + ")" * 200).reason
    'SQL is nested too deeply to check (brackets deeper than 40)'
    >>> check_sql("select 1", sqlglot.parse_one("select 1", read="sqlite")).normalized
    'SELECT 1'
    """
    text = sql.strip()
    if not text:
        return _refuse(text, "no SQL statement")
    if nested_too_deeply(text):  # refused unparsed, whatever the parser's build would manage
        return _refuse(text, f"{TOO_DEEP} (brackets deeper than {MAX_BRACKET_DEPTH})")
    try:
        return _check(text, tree if text == sql else None)
    except RecursionError:  # sqlglot parses, walks and renders recursively (NOT NOT NOT ...)
        return _refuse(text, f"{TOO_DEEP} (parser recursion limit)")


def _check(text: str, tree: exp.Expr | None) -> GuardResult:
    if tree is not None:
        parsed: list[exp.Expr | None] = [tree]
    else:
        try:
            parsed = sqlglot.parse(text, read=DIALECT)
        except SqlglotError as e:
            return _refuse(text, f"cannot parse SQL: {_parse_error_message(e)}")
    statements = [node for node in parsed if node is not None]
    if not statements:
        return _refuse(text, "no SQL statement")
    if len(statements) > 1:
        return _refuse(text, f"expected exactly one statement, got {len(statements)} statements")
    tree = statements[0]
    root = tree.unnest() if isinstance(tree, exp.Subquery) else tree
    if not isinstance(root, READ_ROOTS):
        kinds = "SELECT, WITH, UNION, INTERSECT, EXCEPT"
        return _refuse(text, f"only read queries are allowed ({kinds}); got {statement_kind(root)}")
    nodes = list(tree.walk())  # one walk for every check below
    writes = [node for node in nodes if isinstance(node, WRITE_TYPES)]
    if writes:
        kind = next(k for t, k in WRITE_NODES.items() if any(isinstance(n, t) for n in writes))
        return _refuse(text, f"a read query may not contain {kind}")
    denied = sorted(_function_names(nodes) & DENIED_FUNCTIONS)
    if denied:
        return _refuse(text, f"function {', '.join(denied)} is not allowed")
    # copy=False: the tree is not used after this, so the generator may transform it in place.
    normalized = tree.sql(dialect=DIALECT, comments=False, copy=False)
    return GuardResult(ok=True, sql=text, normalized=normalized, reason=None)
