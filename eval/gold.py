"""The evaluated slice as BIRD's official script reads it: ``dev.json`` and ``dev_gold.sql`` in RUN_DIR.

With ``--limit`` only the first N questions are asked, and ``predict_dev.json`` holds N predictions;
BIRD's ``evaluation.py`` pairs predictions with gold lines by position and takes difficulties from the
question file, so it scores the run only against files that hold the same N questions. These are
written beside the predictions:

    RUN_DIR/dev.json        the slice's records as the data file holds them (a JSON list)
    RUN_DIR/dev_gold.sql    one ``SQL<TAB>db_id`` line per question (read back by ``bird.load_gold_sql``)

Then ``python evaluation.py --predicted_sql_path RUN_DIR/ --ground_truth_path RUN_DIR/
--data_mode dev --diff_json_path RUN_DIR/dev.json --db_root_path ...`` scores the slice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlensemble.bird import Example

DEV_SLICE_FILE = "dev.json"
GOLD_FILE = "dev_gold.sql"
_LINE_BREAKS = str.maketrans({"\r": " ", "\n": " ", "\t": " "})


def gold_line(sql: str, db_id: str) -> str:
    """One line of the gold file: the SQL on one line (breaks and tabs become spaces), a tab, the db_id.

    >>> gold_line("SELECT name\\nFROM item\\tWHERE qty > 1", "shop")
    'SELECT name FROM item WHERE qty > 1\\tshop'
    """
    return f"{sql.strip().translate(_LINE_BREAKS)}\t{db_id}"


def gold_text(examples: Iterable[Example]) -> str:
    """The gold file for ``examples``, in their order.

    >>> from pathlib import Path
    >>> gold_text([Example(0, "shop", "q?", "", "SELECT 1", None, Path("shop.sqlite"))])
    'SELECT 1\\tshop\\n'
    """
    return "".join(gold_line(e.sql, e.db_id) + "\n" for e in examples)


def write_slice(out_dir: Path, records: Sequence[dict[str, Any]], examples: Sequence[Example]) -> None:
    """Write the slice's ``dev.json`` (raw ``records``) and ``dev_gold.sql`` (``examples``) to ``out_dir``.

    ``records`` and ``examples`` are the same questions in the same order (the raw and the parsed form).
    """
    if len(records) != len(examples):
        raise ValueError(f"slice of {len(records)} records but {len(examples)} examples")
    text = json.dumps(list(records), indent=4, ensure_ascii=False) + "\n"
    (out_dir / DEV_SLICE_FILE).write_text(text, encoding="utf-8")
    (out_dir / GOLD_FILE).write_text(gold_text(examples), encoding="utf-8")


def remove_slice(out_dir: Path, keep: Path) -> None:
    """Remove a slice written by an earlier ``--limit`` run of ``out_dir`` (never the file ``keep``, the
    data being evaluated): without ``--limit`` the predictions cover the whole data file, not that slice."""
    for name in (DEV_SLICE_FILE, GOLD_FILE):
        path = out_dir / name
        if path.exists() and path.resolve() != keep.resolve():
            path.unlink()
