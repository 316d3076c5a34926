"""The run as BIRD's official script sees it: every question of the slice counts in report.md exactly as in
predict_dev.json (failed calls included), one prediction file per system, the slice's dev.json and gold
file, the paired-bootstrap table and the thesis; and --n / --temperature reaching the generators."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from scripted_gateway import (
    GENERATORS,
    EvalData,
    FailingTransport,
    ScriptedBackends,
    cli_args,
    make_stack,
    serve_gateway,
)

from sqlensemble.bird import Example, load_examples, load_gold_sql, read_records
from sqlensemble.eval.bootstrap import paired_bootstrap
from sqlensemble.eval.cli import main
from sqlensemble.eval.comparison import thesis
from sqlensemble.eval.gold import GOLD_FILE, write_slice
from sqlensemble.eval.outputs import write_outputs
from sqlensemble.eval.predictions import BIRD_SEPARATOR, PREDICTIONS_FILE, generator_file
from sqlensemble.eval.results import RESULTS_FILE, read_results
from sqlensemble.eval.runner import RunConfig, load_state, run_questions

N_SLICE = 8
FAILING = ("[q3]", "[q5]")  # their /v1/sql calls always fail: unanswered, so wrong for every system


def bird_scores(predictions: Path, gold: Path, db_root: Path) -> list[bool]:
    """Score a prediction file as BIRD's evaluation.py does: pair by position with the gold file, run both
    on the database, correct when the sets of rows are equal; a query that fails is wrong."""
    predicted = json.loads(predictions.read_text(encoding="utf-8"))
    golds = gold.read_text(encoding="utf-8").splitlines()
    assert len(predicted) == len(golds)
    scores = []
    for i, line in enumerate(golds):
        sql, db_id = predicted[str(i)].split(BIRD_SEPARATOR)
        gold_sql, gold_db = line.split("\t")
        assert db_id == gold_db
        conn = sqlite3.connect(db_root / db_id / f"{db_id}.sqlite")
        try:
            expected = set(conn.execute(gold_sql).fetchall())
            try:
                scores.append(set(conn.execute(sql).fetchall()) == expected)
            except sqlite3.Error:
                scores.append(False)
        finally:
            conn.close()
    return scores


def report_rows(report: str, heading: str) -> dict[str, list[str]]:
    section = report.split(heading, 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][2:]
    return {cells[0]: cells[1:] for cells in ([c.strip() for c in row.strip("|").split("|")] for row in rows)}


def store_vector(out: Path, sql: str) -> list[bool]:
    con = duckdb.connect(str(out / "results.duckdb"), read_only=True)
    try:
        return [bool(v) for (v,) in con.execute(sql).fetchall()]
    finally:
        con.close()


@pytest.fixture(scope="module")
def failed_run(eval_data: EvalData, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Example]]:
    """Eight questions asked with n=2 at temperature 0.01, two of them failing; every file written."""
    out = tmp_path_factory.mktemp("failed_run")
    examples = load_examples(eval_data.dev_json, eval_data.db_root)[:N_SLICE]
    backends = ScriptedBackends()
    with serve_gateway(make_stack(eval_data.db_root), backends) as url:
        config = RunConfig(gateway=url, out_dir=out, concurrency=2, retries=0, n=2, temperature=0.01)
        state = load_state(out, examples)
        asyncio.run(run_questions(config, examples, state, transport=FailingTransport(*FAILING)))
    assert sorted(f.question_id for f in state.failures) == [3, 5]
    # Each generator was asked for two samples at the overridden temperature, whatever the stack says.
    assert backends.sampling and {(n, t) for _, n, t in backends.sampling} == {(2, 0.01)}
    records = read_results(out / RESULTS_FILE)
    assert all(len(r.candidates) == 2 * len(GENERATORS) for r in records)
    write_outputs(out, examples, records, ["data: test"])
    write_slice(out, read_records(eval_data.dev_json)[:N_SLICE], examples)
    return out, examples


@pytest.mark.timeout(300)
def test_report_and_official_predictions_agree(
    eval_data: EvalData, failed_run: tuple[Path, list[Example]]
) -> None:
    out, examples = failed_run
    report = (out / "report.md").read_text(encoding="utf-8")
    ex = report_rows(report, "## Execution accuracy (EX, %)")
    official = bird_scores(out / PREDICTIONS_FILE, out / GOLD_FILE, eval_data.db_root)
    assert len(official) == N_SLICE
    assert not official[3] and not official[5]  # the failed questions
    right = sum(official)
    assert ex["ensemble"][-1] == f"{100 * right / N_SLICE:.2f} ({right}/{N_SLICE})"
    # Per difficulty too: each difficulty's n is the slice's, failed questions included.
    for i, difficulty in enumerate(("simple", "moderate", "challenging")):
        members = [p for p, e in enumerate(examples) if e.difficulty == difficulty]
        got = sum(official[p] for p in members)
        assert ex["ensemble"][i] == f"{100 * got / len(members):.2f} ({got}/{len(members)})"
    assert "Unanswered (the call failed; each counts wrong for every system): 2 of 8 questions." in report
    # Each generator's own file scores as its first-sample row.
    for g in GENERATORS:
        scores = bird_scores(out / generator_file(g), out / GOLD_FILE, eval_data.db_root)
        right = sum(scores)
        assert ex[f"{g} first"][-1] == f"{100 * right / N_SLICE:.2f} ({right}/{N_SLICE})", g
    predicted = json.loads((out / PREDICTIONS_FILE).read_text(encoding="utf-8"))
    assert predicted["3"].split(BIRD_SEPARATOR)[0] == "SELECT"


@pytest.mark.timeout(300)
def test_the_bootstrap_table_and_thesis_use_the_report_records(
    eval_data: EvalData, failed_run: tuple[Path, list[Example]]
) -> None:
    out, _ = failed_run
    report = (out / "report.md").read_text(encoding="utf-8")
    rows = report_rows(report, "## Ensemble against each system (paired bootstrap)")
    expected_systems = [f"{g} {kind}" for g in GENERATORS for kind in ("first", "majority")] + ["oracle"]
    assert list(rows) == expected_systems
    ensemble = bird_scores(out / PREDICTIONS_FILE, out / GOLD_FILE, eval_data.db_root)
    firsts = {g: bird_scores(out / generator_file(g), out / GOLD_FILE, eval_data.db_root) for g in GENERATORS}
    for g, scores in firsts.items():
        d = paired_bootstrap(ensemble, scores)
        assert rows[f"{g} first"][1:] == [f"{d.points:+.2f}", f"{d.low:+.2f} to {d.high:+.2f}"]
    oracle = store_vector(out, "SELECT oracle_correct FROM questions ORDER BY position")
    assert len(oracle) == N_SLICE and not oracle[3]
    d = paired_bootstrap(ensemble, oracle)
    assert rows["oracle"][1:] == [f"{d.points:+.2f}", f"{d.low:+.2f} to {d.high:+.2f}"]
    best = max(GENERATORS, key=lambda g: sum(firsts[g]))  # max keeps the first on a tie, as the report
    sentence = thesis(paired_bootstrap(ensemble, firsts[best]))
    assert re.fullmatch(
        r"the vote (beats|trails) the best single generator by \d+\.\d points "
        r"\(95% interval -?\d+\.\d to -?\d+\.\d\)",
        sentence,
    )
    assert f"**Thesis:** {sentence}. Best single generator: {best} first sample, EX " in report


@pytest.mark.timeout(120)
def test_the_slice_files_are_the_asked_questions(
    eval_data: EvalData, failed_run: tuple[Path, list[Example]]
) -> None:
    out, examples = failed_run
    assert json.loads((out / "dev.json").read_text(encoding="utf-8")) == eval_data.questions[:N_SLICE]
    gold = load_gold_sql(out / GOLD_FILE)
    assert [(g.sql, g.db_id) for g in gold] == [(e.sql, e.db_id) for e in examples]


@pytest.mark.timeout(300)
def test_sampling_flags_reach_the_generators_and_pin_the_run(
    eval_data: EvalData, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    backends = ScriptedBackends()
    with serve_gateway(make_stack(eval_data.db_root), backends) as url:
        flags = ("--limit", "3", "--n", "1", "--temperature", "0.01")
        assert main(cli_args(eval_data, url, out, *flags)) == 0
        assert {(n, t) for _, n, t in backends.sampling} == {(1, 0.01)}
        assert json.loads((out / "run.json").read_text(encoding="utf-8"))["temperature"] == 0.01
        assert len(json.loads((out / "dev.json").read_text(encoding="utf-8"))) == 3
        assert len(load_gold_sql(out / GOLD_FILE)) == 3
        assert all((out / generator_file(g)).exists() for g in GENERATORS)
        capsys.readouterr()

        calls = backends.calls
        assert main(cli_args(eval_data, url, out, "--limit", "3", "--n", "1", "--temperature", "0.5")) == 2
        err = capsys.readouterr().err
        assert "holds a run with --temperature 0.01, not 0.5" in err and err.count("\n") == 1
        assert main(cli_args(eval_data, url, out, "--limit", "3")) == 2
        assert "--n 1, not unset" in capsys.readouterr().err
        assert backends.calls == calls  # nothing was asked with the other settings
        # The whole set into the same folder: the 3-question slice files would no longer match.
        assert main(cli_args(eval_data, url, out, "--n", "1", "--temperature", "0.01")) == 0
        assert not (out / "dev.json").exists() and not (out / GOLD_FILE).exists()
        assert len(json.loads((out / PREDICTIONS_FILE).read_text(encoding="utf-8"))) == len(
            eval_data.questions
        )
    with pytest.raises(SystemExit):
        main(cli_args(eval_data, url, out, "--temperature", "3"))


@pytest.mark.timeout(300)
def test_the_policy_flag_reaches_the_gateway_and_the_cost_table(eval_data: EvalData, tmp_path: Path) -> None:
    """--policy adaptive: each generator is first asked for one near-greedy sample, and report.md's cost
    table shows the adaptive run's calls, rounds and tokens per question, next to a full run's."""
    reports = {}
    for policy in ("full", "adaptive"):
        out = tmp_path / policy
        backends = ScriptedBackends()
        with serve_gateway(make_stack(eval_data.db_root), backends) as url:
            assert main(cli_args(eval_data, url, out, "--limit", "4", "--policy", policy)) == 0
        if policy == "adaptive":
            assert {n for _, n, _ in backends.sampling} == {1}
            assert json.loads((out / "run.json").read_text(encoding="utf-8"))["policy"] == "adaptive"
        reports[policy] = report_rows((out / "report.md").read_text(encoding="utf-8"), "## Cost")
    (full,) = reports["full"].items()
    (adaptive,) = reports["adaptive"].items()
    assert full[0] == "full" and adaptive[0] == "adaptive"
    tokens, calls, rounds = (float(v) for v in full[1][1:4])
    assert calls == len(GENERATORS) and rounds == 1.0
    a_tokens, a_calls, a_rounds = (float(v) for v in adaptive[1][1:4])
    assert a_rounds >= 1.0 and a_calls >= 1.0 and a_tokens <= tokens

    # bench/cost_curve.py puts the two runs side by side, with the plot
    script = Path(__file__).resolve().parents[2] / "bench" / "cost_curve.py"
    runs = [str(tmp_path / "full"), str(tmp_path / "adaptive")]
    png = tmp_path / "cost.png"
    proc = subprocess.run(
        [sys.executable, str(script), *runs, "--labels", "all", "early", "--plot", str(png)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert (
        lines[0].startswith("| run | EX |")
        and lines[2].startswith("| all | ")
        and lines[3].startswith("| early | ")
    )
    assert png.stat().st_size > 1000

    # bench/revote.py re-votes the full run's candidates: over every sample it agrees with the gateway
    records = [json.loads(line) for line in (tmp_path / "full" / RESULTS_FILE).read_text().splitlines()]
    ensemble = 100 * sum(r["ensemble"]["correct"] for r in records) / len(records)
    proc = subprocess.run(
        [sys.executable, str(script.with_name("revote.py")), runs[0], "--share", "count", "presence"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    last = [line for line in proc.stdout.splitlines() if line.lstrip().startswith("k=")][-1]
    assert re.search(rf"count +{ensemble:.1f} ", last), (ensemble, proc.stdout)

    # --weights at the gateway's own discounts (the stack's defaults) re-derives every recorded weight
    served = make_stack(eval_data.db_root).gateway
    gateway_weights = [str(served.ungrounded_weight), str(served.empty_weight)]
    proc = subprocess.run(
        [sys.executable, str(script.with_name("revote.py")), runs[0], "--weights", *gateway_weights],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    last = [line for line in proc.stdout.splitlines() if line.lstrip().startswith("k=")][-1]
    assert re.search(rf"count +{ensemble:.1f} ", last), (ensemble, proc.stdout)
