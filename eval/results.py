"""``results.jsonl``: one judged question per line, appended and flushed as each question is answered.

The file is the run's source of truth and what makes a run resumable. A process killed mid-write leaves
at most one incomplete last line; ``open_results`` cuts it off (that question is simply asked again),
so a resumed run appends after the last complete line and never duplicates or loses an answered
question. Lines for the same question are de-duplicated on read, first one kept.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO

from pydantic import ValidationError

from sqlensemble.errors import DataError
from sqlensemble.eval.records import QuestionRecord

RESULTS_FILE = "results.jsonl"


def _complete_length(data: bytes) -> int:
    """Bytes up to and including the last newline: what survives of a file cut mid-line.

    >>> _complete_length(b'{"a": 1}\\n{"a"'), _complete_length(b""), _complete_length(b"x\\n")
    (9, 0, 2)
    """
    return data.rfind(b"\n") + 1


def repair(path: Path) -> int:
    """Cut an incomplete last line off ``path`` (if any); return how many bytes were dropped."""
    if not path.exists():
        return 0
    data = path.read_bytes()
    keep = _complete_length(data)
    if keep == len(data):
        return 0
    with path.open("r+b") as f:
        f.truncate(keep)
    return len(data) - keep


def read_results(path: Path) -> list[QuestionRecord]:
    """Every complete record in ``path`` in file order, one per question (the first wins).

    An incomplete last line is ignored; a malformed complete line raises ``DataError``.
    """
    if not path.exists():
        return []
    raw = path.read_bytes()
    data = raw[: _complete_length(raw)]
    records: dict[str, QuestionRecord] = {}
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = QuestionRecord.model_validate_json(line)
        except ValidationError as e:
            raise DataError(f"{path}:{number}: not a results record: {e.errors()[0]['msg']}") from e
        records.setdefault(str(record.question_id), record)
    return list(records.values())


def raw_lines(path: Path) -> list[dict[str, object]]:
    """The complete lines of ``path`` as plain JSON objects, duplicates included (for checks and tests)."""
    if not path.exists():
        return []
    data = path.read_bytes()
    text = data[: _complete_length(data)].decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class ResultsWriter:
    """Appends records to ``results.jsonl``, each flushed and synced before ``write`` returns."""

    def __init__(self, path: Path) -> None:
        self.path = path
        repair(path)
        self._file: IO[str] = path.open("a", encoding="utf-8")

    def write(self, record: QuestionRecord) -> None:
        self._file.write(record.model_dump_json() + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
