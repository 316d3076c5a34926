"""Draw questions for each database, execute every gold SQL, and split them into train and dev.

Each database gets a pool per difficulty, filled round-robin over the templates of that difficulty so
every template is represented; an instantiation is kept only if its SQL runs within the time limit,
returns rows (not only NULLs, not a zero count), has one answer however SQLite breaks ties at an
``ORDER BY ... LIMIT`` boundary (``ambiguity.find_boundary_tie``), and its question is new for the
database. Quotas per database and difficulty make the overall mix exact; a shortfall moves on to the
next database.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlensemble.bird import DIFFICULTIES, Difficulty
from sqlensemble.errors import DataError
from sqlensemble.synth.ambiguity import find_boundary_tie
from sqlensemble.synth.binding import Binder, Rendered
from sqlensemble.synth.domains import Role
from sqlensemble.synth.templates import Template, load_templates

TARGET_MIX: dict[Difficulty, float] = {"simple": 0.30, "moderate": 0.50, "challenging": 0.20}
SQL_TIME_LIMIT_S = 1.0
MAX_RESULT_ROWS = 300
MAX_SQL_REPEATS = 2  # one gold SQL may appear under at most this many phrasings
FAILS_BEFORE_GIVING_UP = 12


@dataclass(frozen=True)
class Question:
    db_id: str
    question: str
    evidence: str
    sql: str
    difficulty: Difficulty
    template: str


Quota = dict[Difficulty, int]


def split_quota(total: int, n: int) -> list[Quota]:
    """Spread ``total`` questions over ``n`` databases with the target mix exact overall.

    >>> [sum(q.values()) for q in split_quota(10, 3)], sum(q["simple"] for q in split_quota(10, 3))
    ([2, 4, 4], 3)
    """
    per: dict[Difficulty, int] = {d: round(total * TARGET_MIX[d]) for d in ("simple", "challenging")}
    per["moderate"] = total - per["simple"] - per["challenging"]
    return [{d: per[d] * (i + 1) // n - per[d] * i // n for d in DIFFICULTIES} for i in range(n)]


def _useful(rows: list[tuple[object, ...]]) -> bool:
    if not rows or len(rows) > MAX_RESULT_ROWS:
        return False
    if all(v is None for row in rows for v in row):
        return False
    return not (len(rows) == 1 and rows[0] == (0,))


def _accept(conn: sqlite3.Connection, sql: str) -> bool:
    """Whether ``sql`` gives a useful, tie-free answer within the time limit (probes included)."""
    deadline = time.perf_counter() + SQL_TIME_LIMIT_S
    conn.set_progress_handler(lambda: int(time.perf_counter() > deadline), 2000)
    try:
        rows = conn.execute(sql).fetchmany(MAX_RESULT_ROWS + 1)
        return _useful(rows) and find_boundary_tie(conn, sql) is None
    except sqlite3.OperationalError as e:
        if "interrupted" in str(e):
            return False
        raise DataError(f"template SQL fails: {e}: {sql}") from e
    finally:
        conn.set_progress_handler(None, 0)


class QuestionPool:
    """Questions for one database, drawn until each difficulty holds ``want`` of them."""

    def __init__(self, binder: Binder, db_path: Path, seed: str) -> None:
        self.binder = binder
        self.db_id = binder.variant.db_id
        self.db_path = db_path
        self.rng = random.Random(seed)
        self.questions: set[str] = set()
        self.sql_uses: Counter[str] = Counter()

    def draw(self, want: Quota) -> dict[Difficulty, list[Question]]:
        uri = f"{self.db_path.resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True)
        try:
            return {d: self._draw(conn, d, want[d]) for d in DIFFICULTIES}
        finally:
            conn.close()

    def _draw(self, conn: sqlite3.Connection, difficulty: Difficulty, want: int) -> list[Question]:
        slots = [
            (t, roles)
            for t in load_templates()
            if t.difficulty == difficulty and (roles := self.binder.roles_for(t))
        ]
        self.rng.shuffle(slots)
        fails = [0] * len(slots)
        out: list[Question] = []
        i = 0
        while len(out) < want:
            live = [j for j in range(len(slots)) if fails[j] < FAILS_BEFORE_GIVING_UP]
            if not live:
                break
            j = live[i % len(live)]
            i += 1
            template, roles = slots[j]
            got = self._one(conn, template, self.rng.choice(roles))
            if got is None:
                fails[j] += 1
                continue
            fails[j] = 0
            out.append(got)
        return out

    def _one(self, conn: sqlite3.Connection, template: Template, role: Role | None) -> Question | None:
        r: Rendered | None = self.binder.render(template, role, self.rng)
        if r is None or r.question in self.questions or self.sql_uses[r.sql] >= MAX_SQL_REPEATS:
            return None
        if not _accept(conn, r.sql):
            return None
        self.questions.add(r.question)
        self.sql_uses[r.sql] += 1
        return Question(self.db_id, r.question, r.evidence, r.sql, template.difficulty, template.id)


def take(
    pool: list[Question], quota: Quota, banned_questions: set[str], banned_sql: set[str]
) -> tuple[list[Question], Quota]:
    """Up to ``quota`` questions per difficulty from ``pool`` avoiding banned texts; and the shortfall."""
    out: list[Question] = []
    short: Quota = {}
    for d in DIFFICULTIES:
        picked = [
            q
            for q in pool
            if q.difficulty == d and q.question not in banned_questions and q.sql not in banned_sql
        ][: quota[d]]
        out.extend(picked)
        short[d] = quota[d] - len(picked)
    return out, short
