"""The vote against vote + selector: ``sqlensemble eval`` against the real gateway whose stack lets a
scripted selection model answer among the vote's groups (overruling it right on some questions, wrong on
others, failing on others), then results.jsonl, results.duckdb and the report's section; and results
written before the selection fields existed still load and report as before."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from report_text import section, table_rows
from scripted_gateway import (
    DIFFICULTY_CYCLE,
    N_QUESTIONS,
    SELECTION,
    EvalData,
    ScriptedSelector,
    cli_args,
    difficulty_of,
    examples_of,
    make_stack,
    selection_expected,
    serve_gateway,
)

from sqlensemble.eval.bootstrap import paired_bootstrap
from sqlensemble.eval.cli import main
from sqlensemble.eval.records import QuestionRecord
from sqlensemble.eval.report import render_report
from sqlensemble.eval.results import RESULTS_FILE, read_results
from sqlensemble.eval.selection_report import COUNT_ROWS, HEADING, verdict
from sqlensemble.eval.store import STORE_FILE, build_store

MakeRecord = Callable[..., QuestionRecord]
EXPECTED = [selection_expected(k) for k in range(N_QUESTIONS)]
SELECTION_COLUMNS = (
    "vote_correct, selection_mode, selection_consulted, selection_overruled, selection_fell_back"
)
# Before selection existed, a report had exactly these sections.
HEADINGS = [
    "Execution accuracy (EX, %)",
    "Ensemble against each system (paired bootstrap)",
    "Cost",
    "Latency",
    "Candidate status",
    "Vote agreement",
    "Flags",
]


@dataclass(frozen=True)
class SelectionRun:
    out: Path
    selector: ScriptedSelector


@pytest.fixture(scope="module")
def selection_run(eval_data: EvalData, tmp_path_factory: pytest.TempPathFactory) -> SelectionRun:
    out = tmp_path_factory.mktemp("selection_run")
    selector = ScriptedSelector()
    with serve_gateway(make_stack(eval_data.db_root, selection=SELECTION), selector) as url:
        assert main(cli_args(eval_data, url, out)) == 0
    return SelectionRun(out, selector)


def headings(report: str) -> list[str]:
    return [line[3:] for line in report.splitlines() if line.startswith("## ")]


def test_the_script_covers_every_case() -> None:
    # the run below must see the selector overrule right and wrong, agree, and fall back
    kinds = Counter((e.overruled, e.correct, e.fell_back) for e in EXPECTED if e.consulted)
    assert kinds == {(True, True, False): 4, (True, False, False): 2, (False, True, False): 6,
                     (False, True, True): 4, (False, False, True): 2}  # fmt: skip
    assert sum(e.vote_correct for e in EXPECTED) == 12 and sum(e.correct for e in EXPECTED) == 14


@pytest.mark.timeout(300)
def test_results_carry_the_trail_and_the_votes_own_pick(selection_run: SelectionRun) -> None:
    records = read_results(selection_run.out / RESULTS_FILE)
    assert sorted(int(r.question_id) for r in records) == list(range(N_QUESTIONS))
    assert sorted(selection_run.selector.asked) == [k for k, e in enumerate(EXPECTED) if e.consulted]
    for r in records:
        k, expected = int(r.question_id), EXPECTED[int(r.question_id)]
        trail = r.selection
        assert (trail["mode"], trail["consulted"]) == ("model", expected.consulted), k
        assert r.vote is not None
        assert (r.vote.correct, r.ensemble.correct) == (expected.vote_correct, expected.correct), k
        assert (trail["answered_by"] == "selector") == (expected.consulted and not expected.fell_back), k
        if expected.overruled:
            assert trail["selector_cluster"] != trail["vote_cluster"] == 0
            assert r.vote.sql == trail["vote_sql"] != r.ensemble.sql
        else:  # the answer given is the vote's own
            assert (r.vote.sql, r.vote.correct) == (r.ensemble.sql, r.ensemble.correct), k
        assert bool(r.clusters) == (k % 4 != 2), k  # scenario 2: every candidate fails, no group
        for c in r.clusters:  # each group with its first rows, as the selector was shown them
            assert c.columns == ["name"] and len(c.preview) == min(c.row_count, 3), k
        if r.clusters:  # the size reported is the answering group's
            answering = trail["selector_cluster"] if trail["answered_by"] == "selector" else 0
            assert r.ensemble.cluster_size == next(c.size for c in r.clusters if c.id == answering)


@pytest.mark.timeout(300)
def test_the_store_has_the_selection_columns(selection_run: SelectionRun) -> None:
    con = duckdb.connect(str(selection_run.out / STORE_FILE), read_only=True)
    try:
        rows = con.execute(
            f"SELECT position, {SELECTION_COLUMNS} FROM questions ORDER BY position"
        ).fetchall()
    finally:
        con.close()
    assert rows == [
        (k, e.vote_correct, "model", e.consulted, e.overruled, e.fell_back) for k, e in enumerate(EXPECTED)
    ]


@pytest.mark.timeout(300)
def test_the_report_sets_vote_and_vote_plus_selector_side_by_side(selection_run: SelectionRun) -> None:
    report = (selection_run.out / "report.md").read_text(encoding="utf-8")
    assert headings(report) == [*HEADINGS[:2], HEADING, *HEADINGS[2:]]
    rows = table_rows(report, HEADING)

    def cells(correct: list[bool]) -> list[str]:
        by = [[c for k, c in enumerate(correct) if difficulty_of(k) == d] for d in DIFFICULTY_CYCLE]
        return [f"{100 * sum(x) / len(x):.2f} ({sum(x)}/{len(x)})" for x in [*by, correct]]

    vote, final = [e.vote_correct for e in EXPECTED], [e.correct for e in EXPECTED]
    assert rows["vote"] == cells(vote)
    assert rows["vote + selector"] == cells(final)
    assert rows["vote"] == ["50.00 (4/8)", "50.00 (4/8)", "50.00 (4/8)", "50.00 (12/24)"]
    assert rows["vote + selector"] == ["25.00 (2/8)", "75.00 (6/8)", "75.00 (6/8)", "58.33 (14/24)"]

    difference = paired_bootstrap(final, vote)
    assert round(difference.points, 2) == 8.33 and difference.low < 8.33 < difference.high
    assert f"**Result:** {verdict(difference)}." in section(report, HEADING)
    assert verdict(difference).startswith("the selector adds 8.3 points over the vote (95% interval ")

    assert list(rows)[2:] == [what for what, _, _ in COUNT_ROWS]
    assert [rows[what] for what, _, _ in COUNT_ROWS] == [
        ["18", "75.00 (18/24)", "questions"],  # consulted
        ["6", "33.33 (6/18)", "consulted"],  # agreed with the vote
        ["6", "33.33 (6/18)", "consulted"],  # overruled it
        ["4", "66.67 (4/6)", "overruled"],  # ... and the answer given is right
        ["2", "33.33 (2/6)", "overruled"],  # ... a vote that was right
        ["6", "33.33 (6/18)", "consulted"],  # fell back: no label (3) or HTTP 500 (3)
    ]
    assert "| overruled the vote | 6 |" in report and "| right when it overruled" in report

    # the EX table's ensemble row is vote + selector: the answer the gateway gave
    assert table_rows(report, "Execution accuracy (EX, %)")["ensemble"] == cells(final)
    page = (selection_run.out / "report.html").read_text(encoding="utf-8")
    assert f"<h2>{HEADING}</h2>" in page and "58.33 (14/24)" in page
    assert f"<strong>Result:</strong> {verdict(difference)}." in page


def old_line(record: QuestionRecord) -> str:
    """``record`` as results.jsonl held it before the selection fields existed."""
    data = record.model_dump(mode="json")
    for key in ("clusters", "selection", "vote"):
        del data[key]
    return json.dumps(data)


def test_old_results_still_load_and_report_as_before(make_record: MakeRecord, tmp_path: Path) -> None:
    records = [make_record(p, sql=f"SELECT {p}", correct=p % 2 == 0) for p in range(5)]
    results = tmp_path / RESULTS_FILE
    results.write_text("".join(old_line(r) + "\n" for r in records), encoding="utf-8")
    loaded = read_results(results)
    assert [(r.clusters, r.selection, r.vote) for r in loaded] == [([], {}, None)] * 5
    assert loaded == records  # the new fields take their defaults

    examples = examples_of([*records, make_record(5, sql=None)], tmp_path / "x.sqlite")  # q5: no answer
    build_store(tmp_path / STORE_FILE, loaded, examples)
    con = duckdb.connect(str(tmp_path / STORE_FILE), read_only=True)
    try:
        rows = con.execute(f"SELECT ensemble_correct, {SELECTION_COLUMNS} FROM questions ORDER BY position")
        columns = rows.fetchall()
        report = render_report(con, "old run", [])
    finally:
        con.close()
    assert columns == [(p % 2 == 0, p % 2 == 0, None, False, False, False) for p in range(5)] + [
        (False, False, None, False, False, False)
    ]
    assert headings(report) == HEADINGS and "selector" not in report
