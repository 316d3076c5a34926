"""``sqlensemble eval`` against the real gateway (uvicorn on localhost, generators scripted through
httpx.MockTransport): killed and interrupted mid-run then resumed, judged per the script, reported."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from report_text import table_rows
from scripted_gateway import (
    EXPECTED,
    GENERATORS,
    N_QUESTIONS,
    SCENARIOS,
    EvalData,
    FailingTransport,
    ScriptedBackends,
    cli_args,
    make_stack,
    serve_gateway,
)

from sqlensemble.bird import load_examples
from sqlensemble.eval.cli import main
from sqlensemble.eval.predictions import BIRD_SEPARATOR, generator_file
from sqlensemble.eval.results import raw_lines, read_results
from sqlensemble.eval.runner import RunConfig, load_state, run_questions

DIFFICULTIES = ("simple", "moderate", "challenging")
SYSTEMS = ["ensemble", *(f"{g} {kind}" for g in GENERATORS for kind in ("first", "majority")), "oracle"]
KILL_AT = 6  # questions k >= KILL_AT wait at a gate while the first run is killed
INTERRUPT_AT = 12  # ... and k >= INTERRUPT_AT while the second run is interrupted


def complete_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def wait_for_lines(path: Path, count: int, process: subprocess.Popen[bytes]) -> None:
    """Block until ``path`` holds ``count`` complete lines (the run is then parked at a gate)."""
    deadline = time.monotonic() + 180
    while complete_lines(path) < count:
        if process.poll() is not None:
            raise AssertionError(f"eval exited early ({process.returncode}): {process.stderr.read()!r}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never reached {count} lines")
        time.sleep(0.05)


@dataclass(frozen=True)
class ResumedRun:
    out: Path
    after_kill: bytes
    interrupted_rc: int
    interrupted_stderr: str
    final: subprocess.CompletedProcess[str]


def _sigint_default() -> None:
    # A background job of a non-interactive shell starts with SIGINT ignored, and children inherit
    # that; the eval CLI must see Ctrl-C as a person's terminal delivers it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="module")
def resumed_run(eval_data: EvalData, tmp_path_factory: pytest.TempPathFactory) -> ResumedRun:
    """One evaluation of the dev set: SIGKILLed, then interrupted with SIGINT, then run to the end."""
    out = tmp_path_factory.mktemp("run")
    results = out / "results.jsonl"
    backends = ScriptedBackends()
    kill_gate, interrupt_gate = backends.gate(KILL_AT), backends.gate(INTERRUPT_AT)
    with serve_gateway(make_stack(eval_data.db_root), backends) as url:
        command = [
            sys.executable, "-m", "sqlensemble.cli", "eval",
            "--data", str(eval_data.dev_json), "--db-root", str(eval_data.db_root),
            "--gateway", url, "--out", str(out), "--concurrency", "2",
        ]  # fmt: skip
        first = subprocess.Popen(
            [*command, "--no-progress"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=_sigint_default,
        )
        wait_for_lines(results, KILL_AT, first)
        first.kill()
        first.communicate()
        # A kill that lands mid-write leaves an incomplete last line.
        with results.open("ab") as f:
            f.write(b'{"position": 6, "question_id": 6, "db_id": "sh')
        after_kill = results.read_bytes()
        kill_gate.set()

        second = subprocess.Popen(
            [*command, "--no-progress"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=_sigint_default,
        )
        wait_for_lines(results, INTERRUPT_AT, second)
        # One Ctrl-C must end the run, although every request left is parked at the gate and the event
        # loop sleeps (tests/eval/test_interrupt.py pins why it once did not).
        second.send_signal(signal.SIGINT)
        try:
            _, stderr = second.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            second.kill()
            raise AssertionError("the first SIGINT did not end the evaluation") from None
        interrupt_gate.set()

        final = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    return ResumedRun(out, after_kill, second.returncode, stderr.decode(), final)


@pytest.mark.timeout(600)
def test_kill_and_interrupt_lose_and_duplicate_nothing(resumed_run: ResumedRun) -> None:
    run = resumed_run
    assert run.interrupted_rc == 130
    assert run.interrupted_stderr.strip().count("\n") == 0
    assert "interrupted: 12 of 24 questions answered" in run.interrupted_stderr
    assert run.final.returncode == 0, run.final.stderr

    lines = raw_lines(run.out / "results.jsonl")
    ids = [line["question_id"] for line in lines]
    assert Counter(ids) == Counter(range(N_QUESTIONS))  # every question once
    killed_part = run.after_kill[: run.after_kill.rfind(b"\n") + 1]
    assert (run.out / "results.jsonl").read_bytes().startswith(killed_part)  # answered ones kept as written
    assert sorted(ids[:KILL_AT]) == list(range(KILL_AT))
    sessions = [line["session"] for line in lines]
    assert len(set(sessions[:KILL_AT])) == len(set(sessions[KILL_AT:INTERRUPT_AT])) == 1
    assert len(set(sessions)) == 3  # three runs, each asked only what was left


@pytest.mark.timeout(600)
def test_judgments_follow_the_script(resumed_run: ResumedRun) -> None:
    records = read_results(resumed_run.out / "results.jsonl")
    assert len(records) == N_QUESTIONS
    for record in records:
        k = int(record.question_id)
        expected = EXPECTED[k % len(SCENARIOS)]
        got = {"ensemble": record.ensemble.correct, "oracle": record.oracle}
        for g in record.generators:
            got[f"{g.generator} first"] = g.first.correct
            got[f"{g.generator} majority"] = g.majority.correct
        assert got == expected, f"question {k}"
        assert [(c.generator, c.index) for c in record.candidates] == [
            (g, i) for g in GENERATORS for i in range(3)
        ]
        assert record.gold.exec_status == "ok"


def recount(lines: list[dict[str, Any]]) -> dict[str, dict[str, tuple[int, int]]]:
    """EX counts per system and difficulty straight from results.jsonl: (correct, total)."""
    counts: dict[str, Counter[str]] = {system: Counter() for system in SYSTEMS}
    totals: Counter[str] = Counter()
    for line in lines:
        difficulty = line["difficulty"]
        totals[difficulty] += 1
        correct = {"ensemble": line["ensemble"]["correct"], "oracle": line["oracle"]}
        for g in line["generators"]:
            correct[f"{g['generator']} first"] = g["first"]["correct"]
            correct[f"{g['generator']} majority"] = g["majority"]["correct"]
        for system in SYSTEMS:
            counts[system][difficulty] += bool(correct.get(system, False))
    table = {}
    for system in SYSTEMS:
        cells = {d: (counts[system][d], totals[d]) for d in DIFFICULTIES}
        cells["total"] = (sum(counts[system].values()), sum(totals.values()))
        table[system] = cells
    return table


def parse_ex_table(report: str) -> dict[str, list[str]]:
    return table_rows(report, "Execution accuracy (EX, %)")


@pytest.mark.timeout(600)
def test_report_table_equals_a_recount(resumed_run: ResumedRun) -> None:
    table = recount(raw_lines(resumed_run.out / "results.jsonl"))
    report = (resumed_run.out / "report.md").read_text(encoding="utf-8")
    parsed = parse_ex_table(report)
    assert list(parsed) == SYSTEMS
    for system, cells in table.items():
        rendered = [f"{100 * c / n:.2f} ({c}/{n})" for c, n in cells.values()]
        assert parsed[system] == rendered, system
    # The recount agrees with the script: per difficulty, how many questions the system must get right.
    for system in SYSTEMS:
        right = sum(EXPECTED[k % len(SCENARIOS)][system] for k in range(N_QUESTIONS))
        assert table[system]["total"] == (right, N_QUESTIONS)
    assert "simple (n=8)" in report and "total (n=24)" in report
    assert "Unanswered (the call failed; each counts wrong for every system): 0 of 24 questions." in report
    assert "Execution accuracy" in resumed_run.final.stdout  # the table is printed at the end


@pytest.mark.timeout(600)
def test_outputs_of_a_finished_run(resumed_run: ResumedRun) -> None:
    out = resumed_run.out
    predictions = json.loads((out / "predict_dev.json").read_text(encoding="utf-8"))
    assert list(predictions) == [str(k) for k in range(N_QUESTIONS)]
    by_position = {r.position: r for r in read_results(out / "results.jsonl")}
    for key, value in predictions.items():
        sql, db_id = value.split(BIRD_SEPARATOR)
        assert db_id == "shop"
        answer = by_position[int(key)].ensemble.sql
        assert sql == (answer.strip() if answer else "SELECT")
    for g in GENERATORS:  # one file per generator: its first sample
        first = json.loads((out / generator_file(g)).read_text(encoding="utf-8"))
        assert list(first) == list(predictions)
        samples = {int(k): v.split(BIRD_SEPARATOR)[0] for k, v in first.items()}
        for position, record in by_position.items():
            sample = next(x.first.sql for x in record.generators if x.generator == g)
            assert samples[position] == (sample.strip() if sample else "SELECT")
    assert not (out / "dev.json").exists() and not (out / "dev_gold.sql").exists()  # no --limit: no slice
    con = duckdb.connect(str(out / "results.duckdb"), read_only=True)
    try:
        counts = [
            con.execute(f"SELECT count(*) FROM {t}").fetchone()
            for t in ("questions", "candidates", "generators")
        ]
        statuses = dict(con.execute("SELECT exec_status, count(*) FROM candidates GROUP BY 1").fetchall())
    finally:
        con.close()
    assert counts == [(N_QUESTIONS,), (N_QUESTIONS * 9,), (N_QUESTIONS * 3,)]
    assert set(statuses) == {"ok", "empty", "error", "no_sql"}
    assert (out / "report.png").read_bytes().startswith(b"\x89PNG")
    report = (out / "report.md").read_text(encoding="utf-8")
    for heading in ("## Latency", "## Candidate status", "## Vote agreement", "Throughput:"):
        assert heading in report


@pytest.mark.timeout(300)
def test_a_failed_call_is_retried(eval_data: EvalData, tmp_path: Path) -> None:
    examples = load_examples(eval_data.dev_json, eval_data.db_root)[:6]
    with serve_gateway(make_stack(eval_data.db_root), ScriptedBackends()) as url:
        config = RunConfig(gateway=url, out_dir=tmp_path, concurrency=2, retries=0)
        state = load_state(tmp_path, examples)
        asyncio.run(run_questions(config, examples, state, transport=FailingTransport("[q3]", times=1)))
        assert [f.question_id for f in state.failures] == [3]
        assert "HTTP 503: engine overloaded" in state.failures[0].message
        results = tmp_path / "results.jsonl"
        assert sorted(int(r.question_id) for r in read_results(results)) == [0, 1, 2, 4, 5]

        again = load_state(tmp_path, examples)  # the next run asks only the failed question
        asyncio.run(run_questions(config, examples, again))
        assert (again.answered_now, again.failures) == (1, [])
        ids = [int(line["question_id"]) for line in raw_lines(results)]
        assert (sorted(ids[:5]), ids[5:]) == ([0, 1, 2, 4, 5], [3])

        within = RunConfig(gateway=url, out_dir=tmp_path / "within", concurrency=2, retries=1)
        within.out_dir.mkdir()
        state = load_state(within.out_dir, examples)
        asyncio.run(run_questions(within, examples, state, transport=FailingTransport("[q3]", times=1)))
        assert (state.answered_now, state.failures) == (6, [])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_gateway_is_a_clear_error(
    eval_data: EvalData, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(cli_args(eval_data, url, tmp_path / "run")) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"sqlensemble eval: cannot reach the gateway at {url}")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "run" / "results.jsonl").exists()


@pytest.mark.timeout(120)
def test_a_model_the_gateway_does_not_serve_is_refused(
    eval_data: EvalData, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve_gateway(make_stack(eval_data.db_root), ScriptedBackends()) as url:
        assert main(cli_args(eval_data, url, tmp_path / "run", "--model", "delta")) == 1
    err = capsys.readouterr().err
    assert "does not serve model 'delta'; it serves: ensemble, alpha, beta, gamma" in err
    assert err.count("\n") == 1


@pytest.mark.timeout(120)
def test_the_api_key_reaches_the_gateway(
    eval_data: EvalData, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVAL_TEST_GATEWAY_KEYS", "k-right")
    with serve_gateway(make_stack(eval_data.db_root, "EVAL_TEST_GATEWAY_KEYS"), ScriptedBackends()) as url:
        assert main(cli_args(eval_data, url, tmp_path / "wrong", "--api-key", "k-wrong", "--limit", "2")) == 1
        assert "/v1/models" in capsys.readouterr().err
        monkeypatch.setenv("SQLENSEMBLE_API_KEY", "k-right")
        assert main(cli_args(eval_data, url, tmp_path / "right", "--limit", "2")) == 0
    assert len(raw_lines(tmp_path / "right" / "results.jsonl")) == 2
