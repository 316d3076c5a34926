"""Read BIRD question files and resolve each question's database before anything runs.

Reads the three shapes a user's BIRD copy comes in, and the synthetic benchmark (``sqlensemble synth``):

- ``train.json`` / ``dev.json``: one JSON list of records;
- the mini-dev JSONL variant: one JSON object per line (a ``.jsonl`` file, or any file that is not one
  JSON document);
- ``dev_gold.sql``: one ``SQL<TAB>db_id`` line per question (:func:`load_gold_sql`).

Fields: ``db_id``, ``question`` and ``SQL`` are required (the gold SQL may also be spelled ``sql``);
``evidence`` defaults to ``""``; ``question_id`` defaults to the record's position in the file (real
BIRD ``train.json`` has none); ``difficulty`` is ``simple | moderate | challenging`` or absent (``None``,
as in real BIRD train, reported as unknown). Other fields (mini-dev carries some) are ignored.

Every ``db_id`` is resolved through :class:`sqlensemble.catalog.Catalog` under the database root (by
default the ``<split>_databases`` folder beside the file, as in BIRD's layout). Any problem (a file that
is not JSON, a record without a field, a database that is not there) is one :class:`DataError` naming
the file, the question and the path, raised before the first question is asked, never mid-run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlensemble.catalog import Catalog
from sqlensemble.errors import CatalogError, DataError, UnknownDatabaseError

Difficulty = Literal["simple", "moderate", "challenging"]
DIFFICULTIES: tuple[Difficulty, ...] = ("simple", "moderate", "challenging")  # BIRD's, in report order
_SQL_KEYS = ("SQL", "sql")


@dataclass(frozen=True)
class Example:
    """One question with its gold SQL and the SQLite file it runs on."""

    question_id: int
    db_id: str
    question: str
    evidence: str
    sql: str
    difficulty: str | None
    db_path: Path


@dataclass(frozen=True)
class GoldSQL:
    sql: str
    db_id: str


def read_records(path: Path | str) -> list[dict[str, Any]]:
    """The raw records of a JSON list or a JSONL file; :class:`DataError` when it is neither."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise DataError(f"{path}: cannot read question file: {e.strerror or e}") from e
    if path.suffix != ".jsonl":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            if not text.lstrip().startswith("{"):
                raise DataError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}): {e.msg}") from e
        else:
            if isinstance(data, dict) and "question" in data:
                return [data]  # a JSONL file of one line
            if not isinstance(data, list):
                raise DataError(
                    f"{path}: expected a JSON list of question records, got {type(data).__name__}"
                )
            return data
    records = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise DataError(f"{path}: line {lineno} is not valid JSON: {e.msg}") from e
    return records


def _text(record: dict[str, Any], keys: tuple[str, ...], where: str, *, required: bool = True) -> str:
    for key in keys:
        if key in record and record[key] is not None:
            value = record[key]
            if not isinstance(value, str):
                raise DataError(f"{where}: field {key!r} must be a string, got {type(value).__name__}")
            if required and not value.strip():
                raise DataError(f"{where}: field {key!r} is empty")
            return value
    if required:
        raise DataError(f"{where}: missing field {keys[0]!r}")
    return ""


def parse_record(record: object, index: int, path: Path) -> tuple[int, str, str, str, str, str | None]:
    """Validate one raw record: ``(question_id, db_id, question, evidence, sql, difficulty)``."""
    if not isinstance(record, dict):
        raise DataError(f"{path}: record {index} is not a JSON object")
    qid = record.get("question_id", index)
    if isinstance(qid, bool) or not isinstance(qid, int):
        raise DataError(f"{path}: record {index}: question_id must be an integer, got {qid!r}")
    where = f"{path}: question {qid} (record {index})"
    db_id = _text(record, ("db_id",), where)
    question = _text(record, ("question",), where)
    evidence = _text(record, ("evidence",), where, required=False)
    sql = _text(record, _SQL_KEYS, where)
    difficulty = record.get("difficulty")
    if difficulty is not None and difficulty not in DIFFICULTIES:
        raise DataError(f"{where}: difficulty must be one of {', '.join(DIFFICULTIES)}, got {difficulty!r}")
    return qid, db_id, question, evidence, sql, difficulty


def default_db_root(path: Path) -> Path:
    """BIRD's database folder for a question file: ``dev.json`` -> ``dev_databases`` beside it."""
    stem = path.name.split(".")[0]
    candidates = [f"{stem}_databases", *(f"{s}_databases" for s in ("dev", "train", "mini_dev")), "databases"]
    for name in candidates:
        if (path.parent / name).is_dir():
            return path.parent / name
    raise DataError(f"{path}: no database folder beside it ({candidates[0]}/); pass the database root")


def locate_split(data_dir: Path | str) -> tuple[Path, Path]:
    """A BIRD split folder's question file and database root: ``DIR/<split>.json``, ``DIR/<split>_databases``.

    Either falls back to the only ``*.json`` / ``*_databases`` in the folder; :class:`DataError` otherwise.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"data folder not found: {data_dir}")
    questions = data_dir / f"{data_dir.name}.json"
    if not questions.is_file():
        found = sorted(p for p in data_dir.glob("*.json") if not p.name.startswith("."))
        if len(found) != 1:
            raise DataError(f"no questions file in {data_dir} (expected {questions.name})")
        questions = found[0]
    db_root = data_dir / f"{data_dir.name}_databases"
    if not db_root.is_dir():
        roots = sorted(p for p in data_dir.glob("*_databases") if p.is_dir())
        if len(roots) != 1:
            raise DataError(f"no databases folder in {data_dir} (expected {db_root.name})")
        db_root = roots[0]
    return questions, db_root


def load_examples(path: Path | str, db_root: Path | str | None = None) -> list[Example]:
    """Every question of ``path``, validated, with its database resolved under ``db_root``."""
    path = Path(path)
    records = read_records(path)
    root = Path(db_root) if db_root is not None else default_db_root(path)
    try:
        catalog = Catalog(root)
        known = set(catalog.db_ids())
    except CatalogError as e:
        raise DataError(f"{path}: database root {root} is unusable: {e}") from e
    resolved: dict[str, Path] = {}
    examples: list[Example] = []
    seen: dict[int, int] = {}
    for index, record in enumerate(records):
        qid, db_id, question, evidence, sql, difficulty = parse_record(record, index, path)
        if qid in seen:
            raise DataError(f"{path}: question {qid} (record {index}) repeats the id of record {seen[qid]}")
        seen[qid] = index
        if db_id not in resolved:
            if db_id not in known:
                raise DataError(
                    f"{path}: question {qid} (record {index}): database {db_id!r} not found "
                    f"(expected {root / db_id / (db_id + '.sqlite')})"
                )
            try:
                resolved[db_id] = catalog.resolve(db_id).path
            except UnknownDatabaseError as e:
                raise DataError(f"{path}: question {qid} (record {index}): {e} under {root}") from e
        examples.append(Example(qid, db_id, question, evidence, sql, difficulty, resolved[db_id]))
    return examples


def load_gold_sql(path: Path | str) -> list[GoldSQL]:
    """The ``SQL<TAB>db_id`` lines of a BIRD gold file, in order (blank lines skipped)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as e:
        raise DataError(f"{path}: cannot read gold SQL file: {e.strerror or e}") from e
    gold = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        sql, tab, db_id = line.rpartition("\t")
        if not tab or not sql.strip() or not db_id.strip():
            raise DataError(f"{path}: line {lineno} is not 'SQL<TAB>db_id'")
        gold.append(GoldSQL(sql.strip(), db_id.strip()))
    return gold
