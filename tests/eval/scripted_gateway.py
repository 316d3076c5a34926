"""The real gateway served on localhost with scripted generators, and the dev set it is asked about.

The gateway is sqlensemble.ensemble.app.build_app served by uvicorn on an ephemeral port; its three
generators are answered by ScriptedBackends through httpx.MockTransport. Question k is asked as
"... [qk]"; what each generator samples for it follows SCENARIOS[k % 4], and EXPECTED says what the
evaluator must conclude from those samples. A stack with a ``selection`` section (``SELECTION``) also asks a
scripted selection model (``ScriptedSelector``), whose answer for question k follows SELECTOR_SCRIPT[k % 12].
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from sqlensemble.bird import Example
from sqlensemble.ensemble.app import build_app
from sqlensemble.eval.records import QuestionRecord
from sqlensemble.stack import StackConfig, parse_stack

DIFFICULTY_CYCLE = ("simple", "moderate", "challenging")
N_QUESTIONS = 24
GENERATORS = ("alpha", "beta", "gamma")  # priorities 1, 2, 3; three samples each
SHOP_SQL = """
CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL, price REAL);
INSERT INTO item VALUES
  (1, 'anvil', 0, 80.0), (2, 'bolt', 1, 0.1), (3, 'chisel', 5, 12.5), (4, 'drill', 12, 99.0),
  (5, 'file', 30, 7.25), (6, 'gauge', 40, 15.0), (7, 'hammer', 25, 20.0);
"""

# Sample kinds, as SQL for question k (None: the generator writes prose, no SQL).
KINDS: dict[str, Callable[[int], str | None]] = {
    "gold": lambda k: f"SELECT name FROM item WHERE qty > {k}",
    "alt": lambda k: f"SELECT DISTINCT name FROM item WHERE qty >= {k + 1} ORDER BY name",
    "wrong": lambda k: "SELECT name FROM item",
    "empty": lambda k: f"SELECT name FROM item WHERE qty > {k} AND price > 1000",
    "err": lambda k: "SELECT colour FROM item",
    "bad": lambda k: None,
}

SCENARIOS: tuple[dict[str, tuple[str, str, str]], ...] = (
    {"alpha": ("gold", "gold", "gold"), "beta": ("gold", "alt", "wrong"), "gamma": ("wrong", "wrong", "err")},
    {"alpha": ("wrong", "gold", "wrong"), "beta": ("wrong", "wrong", "alt"), "gamma": ("bad", "bad", "wrong")},  # noqa: E501
    {"alpha": ("err", "err", "err"), "beta": ("bad", "bad", "bad"), "gamma": ("err", "bad", "err")},
    {"alpha": ("empty", "gold", "alt"), "beta": ("gold", "empty", "gold"), "gamma": ("alt", "alt", "empty")},
)  # fmt: skip

# Per scenario: system -> correct ("alpha first", "alpha majority", ...).
EXPECTED: tuple[dict[str, bool], ...] = (
    {"ensemble": True, "oracle": True, "alpha first": True, "alpha majority": True,
     "beta first": True, "beta majority": True, "gamma first": False, "gamma majority": False},
    {"ensemble": False, "oracle": True, "alpha first": False, "alpha majority": False,
     "beta first": False, "beta majority": False, "gamma first": False, "gamma majority": False},
    {"ensemble": False, "oracle": False, "alpha first": False, "alpha majority": False,
     "beta first": False, "beta majority": False, "gamma first": False, "gamma majority": False},
    {"ensemble": True, "oracle": True, "alpha first": False, "alpha majority": True,
     "beta first": True, "beta majority": True, "gamma first": True, "gamma majority": True},
)  # fmt: skip


# The selector's answer per k % 12, for a stack with SELECTION: "right" names the group of the gold answer,
# "wrong" the group of SCENARIOS' "wrong" kind, "prose" is no label, "fail" an HTTP 500; None: not asked
# (scenario 2: every candidate fails). k % 12 fixes both the scenario (k % 4: the vote is right in 0 and 3,
# wrong in 1) and the difficulty (k % 3), so the selector helps on some difficulties and hurts on others.
SELECTOR_SCRIPT: tuple[str | None, ...] = (
    "wrong", "right", None, "prose", "right", "right", None, "fail", "right", "prose", None, "right",
)  # fmt: skip
SELECTOR_TARGETS = {"right": ("gold", "alt"), "wrong": ("wrong",)}  # the kinds of the group each names
SELECTION = {"mode": "model", "model": "selector", "base_url": "http://selector.test/v1", "timeout_s": 30}


@dataclass(frozen=True)
class SelectionExpected:
    """What the evaluator must record of question k in a stack with SELECTION."""

    consulted: bool
    overruled: bool
    fell_back: bool
    vote_correct: bool
    correct: bool  # the answer given (vote + selector)


def selection_expected(k: int) -> SelectionExpected:
    action = SELECTOR_SCRIPT[k % len(SELECTOR_SCRIPT)]
    vote_correct = EXPECTED[k % len(SCENARIOS)]["ensemble"]
    # the selector names the other group exactly when its target is not the vote's (two groups each)
    overruled = action in SELECTOR_TARGETS and (action == "right") != vote_correct
    return SelectionExpected(
        consulted=action is not None,
        overruled=overruled,
        fell_back=action in ("prose", "fail"),
        vote_correct=vote_correct,
        correct=action == "right" if action in SELECTOR_TARGETS else vote_correct,
    )


def difficulty_of(k: int) -> str:
    return DIFFICULTY_CYCLE[k % 3]


def sample_text(kind: str, k: int) -> str:
    sql = KINDS[kind](k)
    return "I cannot answer this question from the schema." if sql is None else f"{sql}\n```"


async def _wait_for(event: threading.Event, limit_s: float) -> None:
    """Wait for a gate on the event loop: a worker thread per held request would exhaust the loop's
    default executor, which the gateway itself needs (schema rendering), and deadlock the app."""
    deadline = time.monotonic() + limit_s
    while not event.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


@dataclass
class ScriptedBackends:
    """The generators' OpenAI-compatible servers, scripted. ``gates``: questions k >= threshold wait
    until the gate is opened, so a test can stop the evaluator while they are in flight."""

    gates: list[tuple[int, threading.Event]] = field(default_factory=list)
    calls: int = 0
    sampling: list[tuple[str, int, float]] = field(default_factory=list)  # (model, n, temperature) asked

    def gate(self, threshold: int) -> threading.Event:
        event = threading.Event()
        self.gates.append((threshold, event))
        return event

    def open_all(self) -> None:
        for _, event in self.gates:
            event.set()

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path.endswith("/models"):
            return httpx.Response(200, json={"object": "list", "data": [{"id": g} for g in GENERATORS]})
        body = json.loads(request.content)
        prompt = " ".join(str(m.get("content", "")) for m in body["messages"])
        match = re.search(r"\[q(\d+)\]", prompt)
        if match is None:
            return httpx.Response(400, json={"error": {"message": "no question marker"}})
        k = int(match.group(1))
        for threshold, event in self.gates:
            if k >= threshold:
                await _wait_for(event, 120.0)
        self.calls += 1
        self.sampling.append((body["model"], body["n"], body["temperature"]))
        kinds = SCENARIOS[k % len(SCENARIOS)][body["model"]][: body["n"]]
        choices = [
            {
                "index": i,
                "message": {"role": "assistant", "content": sample_text(kind, k)},
                "finish_reason": "stop",
            }
            for i, kind in enumerate(kinds)
        ]
        usage = {
            "prompt_tokens": 50,
            "completion_tokens": 10 * len(choices),
            "total_tokens": 50 + 10 * len(choices),
        }
        return httpx.Response(
            200, json={"id": f"cmpl-{k}", "object": "chat.completion", "choices": choices, "usage": usage}
        )


OPTION = re.compile(r"^([A-D])\. \d+/\d+ votes: (.+)$", re.MULTILINE)


@dataclass
class ScriptedSelector(ScriptedBackends):
    """The generators, and a selection model at SELECTION's base_url answering per SELECTOR_SCRIPT: it finds
    the label of the group it means among the prompt's options by their SQL."""

    asked: list[int] = field(default_factory=list)  # the questions it was asked about

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != httpx.URL(SELECTION["base_url"]).host:
            return await super().handle(request)
        body = json.loads(request.content)
        prompt = " ".join(str(m.get("content", "")) for m in body["messages"])
        match = re.search(r"\[q(\d+)\]", prompt)
        if match is None or body["model"] != SELECTION["model"]:
            return httpx.Response(400, json={"error": {"message": "not a selection prompt"}})
        k = int(match.group(1))
        self.asked.append(k)
        action = SELECTOR_SCRIPT[k % len(SELECTOR_SCRIPT)]
        if action is None or action == "fail":
            return httpx.Response(500, json={"error": {"message": "selector down"}})
        answer = "probably the first one"
        if action in SELECTOR_TARGETS:
            targets = {KINDS[kind](k) for kind in SELECTOR_TARGETS[action]}
            answer = next(label for label, sql in OPTION.findall(prompt) if sql.strip() in targets)
        choice = {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}
        return httpx.Response(200, json={"id": f"sel-{k}", "object": "chat.completion", "choices": [choice]})


@dataclass(frozen=True)
class EvalData:
    dev_json: Path
    db_root: Path
    questions: list[dict[str, Any]]


def build_eval_data(base: Path) -> EvalData:
    """A BIRD-format dev set under ``base``: dev.json and dev_databases/shop/shop.sqlite."""
    db_path = base / "dev_databases" / "shop" / "shop.sqlite"
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    conn.executescript(SHOP_SQL)
    conn.close()
    questions = [
        {
            "question_id": k,
            "db_id": "shop",
            "question": f"Which items have more than {k} units in stock? [q{k}]",
            "evidence": "units in stock refers to qty",
            "SQL": KINDS["gold"](k),
            "difficulty": difficulty_of(k),
        }
        for k in range(N_QUESTIONS)
    ]
    dev_json = base / "dev.json"
    dev_json.write_text(json.dumps(questions, indent=2), encoding="utf-8")
    return EvalData(dev_json=dev_json, db_root=db_path.parent.parent, questions=questions)


def examples_of(records: list[QuestionRecord], db_path: Path) -> list[Example]:
    """The dev set examples of judged ``records`` (built by hand), for the store and the report."""
    return [Example(r.position, r.db_id, r.question, "", r.gold_sql, r.difficulty, db_path) for r in records]


def make_stack(
    db_root: Path, api_keys_env: str | None = None, selection: dict[str, Any] | None = None
) -> StackConfig:
    generators = [
        {
            "name": name,
            "base_url": f"http://{name}.test/v1",
            "model": name,
            "priority": priority,
            "sampling": {"n": 3, "temperature": 0.8},
            "timeout_s": 180,
        }
        for priority, name in enumerate(GENERATORS, start=1)
    ]
    return parse_stack(
        {
            "databases": {"root": str(db_root)},
            "generators": generators,
            "gateway": {"api_keys_env": api_keys_env},
            **({"selection": selection} if selection is not None else {}),
        }
    )


def cli_args(eval_data: EvalData, url: str, out: Path, *extra: str) -> list[str]:
    """``sqlensemble eval`` arguments that ask the gateway at ``url`` about the dev set."""
    return [
        "--data", str(eval_data.dev_json), "--db-root", str(eval_data.db_root),
        "--gateway", url, "--out", str(out), "--no-progress", *extra,
    ]  # fmt: skip


@contextmanager
def serve_gateway(stack: StackConfig, backends: ScriptedBackends) -> Iterator[str]:
    """Serve the gateway with uvicorn in a background thread on 127.0.0.1:<ephemeral>; yield its URL."""
    app = build_app(stack, transport=httpx.MockTransport(backends.handle))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, name="gateway", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the gateway did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        backends.open_all()
        server.should_exit = True
        thread.join(timeout=30)


class FailingTransport(httpx.AsyncBaseTransport):
    """Real HTTP to the gateway, except /v1/sql calls for the marked questions: HTTP 503. With ``times``,
    only the first that many such calls fail (a transient error); without it, every one does."""

    def __init__(self, *markers: str, times: int | None = None) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.markers = markers
        self.remaining = times

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        marked = request.url.path == "/v1/sql" and any(m in request.content.decode() for m in self.markers)
        if marked and self.remaining != 0:
            if self.remaining is not None:
                self.remaining -= 1
            error = {
                "message": "engine overloaded",
                "type": "service_unavailable",
                "param": None,
                "code": 503,
            }
            return httpx.Response(503, json={"error": error})
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
