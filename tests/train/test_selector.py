"""The selector's training data (``sqlensemble.train.selector``): which questions are kept, how groups
are shown and labelled, and that training sees the very prompt the gateway will send.

Real SQLite throughout: the groups come from candidates executed read-only on the ``mini_bird`` split
and voted on by ``sqlensemble.voting``; the gateway's side is its own ``group_of`` and ``cluster_body``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from sqlensemble.bird import Example, load_examples
from sqlensemble.catalog import Catalog
from sqlensemble.ensemble.selection import group_of
from sqlensemble.ensemble.service import cluster_body
from sqlensemble.eval.records import QuestionRecord
from sqlensemble.executor import execute_readonly
from sqlensemble.selection import LABELS, build_selector_prompt, display_order, order_key
from sqlensemble.stack import PromptConfig
from sqlensemble.train.cli import main
from sqlensemble.train.selector import pick_questions, record_groups, selector_records, write_subset
from sqlensemble.voting import Candidate, Decision, vote

PROMPT = PromptConfig(max_examples=0)


def _db(mini_bird: Path, db_id: str = "shop") -> Path:
    return mini_bird / "train_databases" / db_id / f"{db_id}.sqlite"


def _voted(db: Path, sqls: list[str]) -> tuple[list[Candidate], Decision]:
    candidates = []
    for i, sql in enumerate(sqls):
        result = execute_readonly(db, sql)
        candidates.append(Candidate("g", i, sql, result.status, result))
    return candidates, vote(candidates)


def _record(
    question_id: int, question: str, candidates: list[Candidate], decision: Decision, gold: str, db: Path
) -> QuestionRecord:
    """A judged answer as ``sqlensemble eval`` writes it, from a real vote: clusters through their JSON
    form (the response's ``clusters``), each candidate judged by comparing its rows with gold's."""
    gold_rows = set(execute_readonly(db, gold).rows)
    clusters = [json.loads(cluster_body(c, candidates).model_dump_json()) for c in decision.clusters]
    judged = [
        {
            "sql": c.sql,
            "exec_status": c.status,
            "correct": c.result is not None and set(c.result.rows) == gold_rows,
            "reason": "",
            "generator": c.generator,
            "index": c.index,
            "gateway_status": c.status,
            "cluster": cluster,
        }
        for c, cluster in zip(candidates, decision.assignments, strict=True)
    ]
    outcome = {"sql": decision.winner.sql, "exec_status": "ok", "correct": False, "reason": ""}
    return QuestionRecord.model_validate(
        {
            "position": question_id,
            "question_id": question_id,
            "db_id": "shop",
            "difficulty": "simple",
            "question": question,
            "gold_sql": gold,
            "gold": {"exec_status": "ok", "row_count": len(gold_rows), "elapsed_ms": 0.1, "truncated": False},
            "ensemble": {**outcome, "gateway_status": "ok", "confidence": 0.5, "cluster_size": 1},
            "generators": [],
            "candidates": judged,
            "clusters": clusters,
            "oracle": any(j["correct"] for j in judged),
            "latency_ms": 1.0,
            "session": "s",
            "started_at": 0.0,
            "finished_at": 0.0,
        }
    )


PARIS = "SELECT COUNT(*) FROM customers WHERE city = 'Paris'"
ROME = "SELECT COUNT(*) FROM customers WHERE city = 'Rome'"
ALL = "SELECT COUNT(*) FROM customers"
NAMES = "SELECT name FROM customers ORDER BY name"
NONE = "SELECT name FROM customers WHERE city = 'Oslo'"


def _examples(records: list[QuestionRecord]) -> dict[str, Example]:
    return {
        str(r.question_id): Example(r.question_id, r.db_id, r.question, "", r.gold_sql, "simple", Path("x"))
        for r in records
    }


def _schema(mini_bird: Path) -> Any:
    catalog = Catalog(mini_bird / "train_databases")
    return lambda db_id: catalog.schema_text(db_id, PROMPT.schema_style, PROMPT.max_examples)


def test_training_sees_the_prompt_the_gateway_sends(mini_bird: Path) -> None:
    db = _db(mini_bird)
    candidates, decision = _voted(db, [ALL, ALL, PARIS, ROME, NONE, "SELECT nope FROM customers"])
    record = _record(7, "How many customers live in Paris?", candidates, decision, PARIS, db)
    trained, right = record_groups(record)
    served = [group_of(c, candidates) for c in decision.clusters]
    assert trained == served  # the same values, after the response's JSON round trip
    assert right == [False, True, False, False]  # ALL (2 votes) leads; PARIS is right
    rows, summary = selector_records([record], _examples([record]), _schema(mini_bird), PROMPT, 2)
    order = display_order(4, order_key("shop", record.question))
    schema = Catalog(mini_bird / "train_databases").schema_text("shop", "mschema", 0)
    gateway_prompt = build_selector_prompt("SQLite", schema, record.question, "", served, order)
    assert rows[0]["prompt"][0]["content"] == gateway_prompt  # the first permutation is the served order
    assert rows[0]["completion"][0]["content"] == LABELS[order.index(1)]
    assert (summary.asked, summary.kept, summary.vote_right) == (1, 1, 0)


def test_each_label_names_the_right_groups_sql(mini_bird: Path) -> None:
    db = _db(mini_bird)
    candidates, decision = _voted(db, [ALL, PARIS, PARIS, NAMES])
    record = _record(1, "How many customers live in Paris?", candidates, decision, PARIS, db)
    rows, summary = selector_records([record], _examples([record]), _schema(mini_bird), PROMPT, 4)
    assert summary.kept == 1 and 2 <= summary.examples <= 4
    orders = set()
    for row in rows:
        prompt, label = row["prompt"][0]["content"], row["completion"][0]["content"]
        options = prompt[prompt.rindex("【候选】") :]
        chosen = re.search(rf"^{label}\. \d+/4 votes: (.*)$", options, re.MULTILINE)
        assert chosen is not None and chosen.group(1) == PARIS
        orders.add(tuple(re.findall(r"^([A-D])\. \d+/4 votes: (.*)$", options, re.MULTILINE)))
    assert len(orders) == summary.examples  # each example shows another order


def test_unanimous_and_hopeless_questions_are_left_out(mini_bird: Path) -> None:
    db = _db(mini_bird)
    one, d1 = _voted(db, [PARIS, PARIS])
    wrong, d2 = _voted(db, [ALL, ROME, NAMES])
    records = [
        _record(1, "How many in Paris?", one, d1, PARIS, db),
        _record(2, "How many in Paris, again?", wrong, d2, PARIS, db),
    ]
    rows, summary = selector_records(records, _examples(records), _schema(mini_bird), PROMPT, 2)
    assert rows == [] and (summary.one_group, summary.none_right, summary.kept) == (1, 1, 0)


def test_labels_do_not_leak_the_vote(mini_bird: Path) -> None:
    """Where the vote's group (cluster 0) is the right one on every question, its label still varies."""
    db = _db(mini_bird)
    records = []
    for k in range(60):
        candidates, decision = _voted(db, [PARIS, PARIS, ALL, ROME])
        question = f"How many customers live in Paris? ({k})"
        records.append(_record(k, question, candidates, decision, PARIS, db))
    rows, summary = selector_records(records, _examples(records), _schema(mini_bird), PROMPT, 1)
    assert summary.vote_right == summary.kept == 60
    labels = Counter(r["completion"][0]["content"] for r in rows)
    assert set(labels) == {"A", "B", "C"} and max(labels.values()) < 35


def test_subset_is_seeded_and_written_in_bird_format(mini_bird: Path, tmp_path: Path) -> None:
    assert pick_questions(100, 10, 3) == pick_questions(100, 10, 3) != pick_questions(100, 10, 4)
    path, root, count = write_subset(mini_bird, tmp_path / "out", 4, 0, write=False)
    assert count == 4 and not path.exists()
    path, root, count = write_subset(mini_bird, tmp_path / "out", 4, 0)
    examples = load_examples(path, root)
    assert len(examples) == 4 and all(Path(e.db_path).is_file() for e in examples)


def _preset_with_selector(tmp_path: Path, stack: str = "configs/stack.cpu.yaml") -> Path:
    text = Path("train/presets/cpu-smoke.yaml").read_text(encoding="utf-8")
    selector = f"selector:\n  stack: {stack}\n  questions: 4\n  sft: {{max_steps: 1}}\n"
    path = tmp_path / "smoke-selector.yaml"
    path.write_text(text + selector, encoding="utf-8")
    return path


def test_train_selector_needs_the_generators(
    mini_bird: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    preset = _preset_with_selector(tmp_path)
    argv = ["selector", "--preset", str(preset), "--data", str(mini_bird), "--run", str(tmp_path / "run")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "needs the trained generators" in err


def test_train_selector_refuses_a_preset_without_one(
    mini_bird: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["selector", "--preset", "cpu-smoke", "--data", str(mini_bird), "--run", str(tmp_path / "run")]
    assert main(argv) == 2
    assert "has no selector section" in capsys.readouterr().err


def test_dry_run_plans_the_selector_for_the_gpu_preset(
    mini_bird: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    argv = ["all", "--preset", "qwen2.5-coder-3b", "--data", str(mini_bird), "--run", str(run)]
    assert main([*argv, "--dry-run", "--num-gpus", "4"]) == 0
    out = capsys.readouterr().out
    assert "SQLENSEMBLE_SELECTION__MODE=vote sqlensemble serve --config configs/stack.gpu-3b.yaml" in out
    assert "--gateway http://127.0.0.1:8000" in out and "selector-data" in out
    assert "train sft --preset qwen2.5-coder-3b --generator selector" in out
    assert not (run / "selector-data").exists()  # a dry run writes nothing
    assert main([*argv, "--dry-run", "--num-gpus", "4", "--without-selector"]) == 0
    assert "selector" not in capsys.readouterr().out
