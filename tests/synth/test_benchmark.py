"""The written benchmark: executable gold SQL, uniqueness, both splits, the loader, determinism, the CLI."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest

from sqlensemble.bird import load_examples, load_gold_sql
from sqlensemble.synth.cli import main
from sqlensemble.synth.domains import load_domains
from sqlensemble.synth.generate import TARGET_MIX
from sqlensemble.synth.writer import write_benchmark

from .conftest import Written

FIELDS = ["question_id", "db_id", "question", "evidence", "SQL", "difficulty"]


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _assert_mix(records: list[dict[str, object]], tolerance: float = 5.0) -> None:
    counts = Counter(r["difficulty"] for r in records)
    for difficulty, share in TARGET_MIX.items():
        assert abs(100 * counts[difficulty] / len(records) - 100 * share) <= tolerance, counts


@pytest.mark.parametrize("mode", ["small_default", "small_cross"])
def test_every_gold_sql_runs_fast_and_returns_rows(mode: str, request: pytest.FixtureRequest) -> None:
    written: Written = request.getfixturevalue(mode)
    for split in ("train", "dev"):
        by_db: dict[str, list[str]] = {}
        for r in written.records(split):
            by_db.setdefault(str(r["db_id"]), []).append(str(r["SQL"]))
        for db_id, sqls in by_db.items():
            uri = f"{written.db_path(split, db_id).resolve().as_uri()}?mode=ro"
            conn = sqlite3.connect(uri, uri=True)
            try:
                for sql in sqls:
                    start = time.perf_counter()
                    rows = conn.execute(sql).fetchall()
                    assert time.perf_counter() - start < 1.0, sql
                    assert rows and any(v is not None for row in rows for v in row), sql
            finally:
                conn.close()


@pytest.mark.parametrize("mode", ["small_default", "small_cross"])
def test_records_have_bird_fields_and_unique_questions_per_database(
    mode: str, request: pytest.FixtureRequest
) -> None:
    written: Written = request.getfixturevalue(mode)
    both = written.records("train") + written.records("dev")
    for split in ("train", "dev"):
        records = written.records(split)
        assert [list(r) for r in records] == [FIELDS] * len(records)
        assert [r["question_id"] for r in records] == list(range(len(records)))
    per_db = Counter((r["db_id"], r["question"]) for r in both)
    assert max(per_db.values()) == 1


def test_default_split_shares_databases_but_no_question_or_sql(small_default: Written) -> None:
    train, dev = small_default.records("train"), small_default.records("dev")
    assert {r["db_id"] for r in dev} <= {r["db_id"] for r in train}
    assert not {r["question"] for r in dev} & {r["question"] for r in train}
    assert not {r["SQL"] for r in dev} & {r["SQL"] for r in train}


def test_cross_domain_split_holds_out_whole_databases(small_cross: Written) -> None:
    train, dev = small_cross.records("train"), small_cross.records("dev")
    train_dbs, dev_dbs = {r["db_id"] for r in train}, {r["db_id"] for r in dev}
    assert dev_dbs and not train_dbs & dev_dbs
    on_disk_train = {p.name for p in (small_cross.out / "train" / "train_databases").iterdir()}
    on_disk_dev = {p.name for p in (small_cross.out / "dev" / "dev_databases").iterdir()}
    assert on_disk_train == train_dbs and on_disk_dev == dev_dbs
    domain_of = {db_id: d.key for d in load_domains() for db_id in d.db_ids}
    assert len({domain_of[db] for db in dev_dbs}) == len(dev_dbs) == len(load_domains())  # one per domain


@pytest.mark.parametrize("mode", ["small_default", "small_cross"])
def test_difficulty_mix_is_within_five_points(mode: str, request: pytest.FixtureRequest) -> None:
    written: Written = request.getfixturevalue(mode)
    for split in ("train", "dev"):
        _assert_mix(written.records(split))


@pytest.mark.parametrize("mode", ["small_default", "small_cross"])
def test_layout_loads_through_the_loader(mode: str, request: pytest.FixtureRequest) -> None:
    written: Written = request.getfixturevalue(mode)
    for split in ("train", "dev"):
        examples = load_examples(written.out / split / f"{split}.json")  # default root: <split>_databases
        records = written.records(split)
        assert [e.question for e in examples] == [r["question"] for r in records]
        assert all(e.db_path.is_file() and e.db_path.parent.name == e.db_id for e in examples)
        gold = load_gold_sql(written.out / split / f"{split}_gold.sql")
        assert [(g.sql, g.db_id) for g in gold] == [(e.sql, e.db_id) for e in examples]


def test_same_seed_gives_byte_identical_files(small_default: Written, tmp_path: Path) -> None:
    write_benchmark(tmp_path / "again", seed=0, size="small")
    assert _tree_digest(tmp_path / "again") == _tree_digest(small_default.out)
    write_benchmark(tmp_path / "other", seed=1, size="small")
    other = _tree_digest(tmp_path / "other")
    assert other.keys() == _tree_digest(small_default.out).keys()
    assert other["dev/dev.json"] != _tree_digest(small_default.out)["dev/dev.json"]


def test_cli_writes_reports_and_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench"
    assert main(["--out", str(out), "--size", "small", "--cross-domain", "--seed", "2"]) == 0
    report = capsys.readouterr().out
    assert "train" in report and "dev" in report and "generated in" in report
    assert main(["--out", str(out), "--size", "small"]) == 2
    err = capsys.readouterr().err
    assert "not empty" in err and "--force" in err and err.count("\n") == 1
    (out / "dev" / "dev.json").write_text("stale")
    assert main(["--out", str(out), "--size", "small", "--force"]) == 0
    assert load_examples(out / "dev" / "dev.json")
    (tmp_path / "file").write_text("x")
    assert main(["--out", str(tmp_path / "file")]) == 2


def test_default_size_counts_and_mix(tmp_path: Path) -> None:
    """The one test at full size (about 10-20 s here)."""
    summary = write_benchmark(tmp_path / "full", seed=0)
    assert len(summary.train) >= 3000 and len(summary.dev) >= 500
    assert len(set(summary.train_dbs)) >= 24
    for split in ("train", "dev"):
        records = [{"difficulty": q.difficulty} for q in (summary.train if split == "train" else summary.dev)]
        _assert_mix(records)  # type: ignore[arg-type]
    used = {q.template for q in summary.train}
    assert len(used) >= 40 and used == {q.template for q in summary.train + summary.dev}
