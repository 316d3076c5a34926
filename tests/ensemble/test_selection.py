"""The gateway's selection step: the selection model is consulted below ``below_confidence``, may overrule
the vote, and every failure (an HTTP error, no answer in time, a text that is not a label) leaves the
vote's answer; the trail, ``/ready`` and ``/metrics`` say what happened. Real SQLite, scripted backends."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from sqlensemble.catalog import Catalog
from sqlensemble.selection import LABELS, MAX_GROUPS, Group, build_selector_prompt, display_order, order_key
from sqlensemble.stack import StackConfig

from .conftest import ALL_COUNT, OSLO_COUNT, OSLO_COUNT_ALT, Backend, Backends, gateway, make_stack

pytestmark = pytest.mark.anyio

QUESTION = "How many schools are in Oslo?"
EVIDENCE = "Oslo is a city."
REQUEST = {"question": QUESTION, "db_id": "schools", "evidence": EVIDENCE}
SELECTOR = {"mode": "model", "model": "sel-m", "base_url": "http://sel.test/v1", "timeout_s": 5}
# Three of four candidates count Oslo's schools (cluster 0, confidence 0.75), one counts them all (cluster 1).
SPLIT = {"g1": [OSLO_COUNT, ALL_COUNT], "g2": [OSLO_COUNT_ALT, OSLO_COUNT]}
UNANIMOUS = {"g1": [OSLO_COUNT], "g2": [OSLO_COUNT_ALT]}


def label_of(cluster: int, count: int = 2, question: str = QUESTION) -> str:
    """The label the selector is shown for ``cluster`` (vote rank) of ``count`` groups."""
    return LABELS[display_order(count, order_key("schools", question)).index(cluster)]


def scripted(
    db_root: Path, answers: dict[str, list[str]], selector: Backend, selection: dict[str, Any] | None = None
) -> tuple[StackConfig, Backends]:
    backends = Backends(sel=selector, **{name: Backend(texts) for name, texts in answers.items()})
    stack = make_stack(db_root, {name: {} for name in answers}, selection={**SELECTOR, **(selection or {})})
    return stack, backends


async def ask(stack: StackConfig, backends: Backends, **request: Any) -> dict[str, Any]:
    async with gateway(stack, backends) as client:
        response = await client.post("/v1/sql", json={**REQUEST, **request})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_selectors_pick_overrules_the_vote(db_root: Path) -> None:
    stack, backends = scripted(db_root, SPLIT, Backend([label_of(1)]))
    body = await ask(stack, backends)
    assert body["sql"] == ALL_COUNT and body["result"]["rows"] == [[4]]  # cluster 1's answer
    assert body["confidence"] == 0.25  # that cluster's share of the votes
    trail = body["selection"]
    assert trail["consulted"] is True and trail["answered_by"] == "selector"
    assert (trail["vote_cluster"], trail["vote_sql"], trail["selector_cluster"]) == (0, OSLO_COUNT, 1)
    assert trail["reason"] == "selector overruled the vote" and trail["answer"] == label_of(1)
    assert trail["labels"] == {label_of(0): 0, label_of(1): 1}
    assert trail["elapsed_ms"] >= 0
    assert [c["id"] for c in body["clusters"]] == [0, 1]  # the vote's own ranking is still reported


async def test_the_selector_agrees_with_the_vote(db_root: Path) -> None:
    stack, backends = scripted(db_root, SPLIT, Backend([f" {label_of(0)}.\nbecause"]))
    body = await ask(stack, backends)
    assert body["sql"] == OSLO_COUNT and body["result"]["rows"] == [[2]] and body["confidence"] == 0.75
    trail = body["selection"]
    assert trail["answered_by"] == "selector" and trail["reason"] == "selector agreed with the vote"
    assert trail["vote_cluster"] == trail["selector_cluster"] == 0


async def test_the_selector_is_sent_the_shared_prompt_greedily(db_root: Path) -> None:
    selector = Backend([label_of(0)])
    stack, backends = scripted(db_root, SPLIT, selector, {"max_tokens": 3})
    body = await ask(stack, backends)
    (call,) = selector.calls
    assert (call["model"], call["n"], call["temperature"], call["max_tokens"]) == ("sel-m", 1, 0.0, 3)
    groups = [
        Group(c["sql"], tuple(c["columns"]), tuple(map(tuple, c["preview"])), c["row_count"], c["size"])
        for c in body["clusters"]
    ]
    prompt = stack.selection.prompt
    schema = Catalog(db_root).schema_text("schools", prompt.schema_style, prompt.max_examples)
    order = display_order(2, order_key("schools", QUESTION))
    expected = build_selector_prompt(prompt.dialect, schema, QUESTION, EVIDENCE, groups, order)
    assert call["messages"] == [{"role": "user", "content": expected}]
    assert f"{label_of(1)}. 1/4 votes: {ALL_COUNT}\n   1 row: (4)" in expected  # what the groups became


async def test_at_most_four_groups_are_shown(db_root: Path) -> None:
    answers = [
        OSLO_COUNT,
        ALL_COUNT,
        "SELECT count(*) FROM teachers",
        "SELECT max(students) FROM schools",
        "SELECT name FROM schools ORDER BY students",
    ]
    selector = Backend([label_of(2, MAX_GROUPS)])
    backends = Backends(sel=selector, g1=Backend(answers))
    body = await ask(make_stack(db_root, {"g1": {"n": 5}}, selection=SELECTOR), backends)
    assert len(body["clusters"]) == 5 and body["confidence"] == 0.2
    trail = body["selection"]
    assert sorted(trail["labels"].values()) == [0, 1, 2, 3] and set(trail["labels"]) == set(LABELS)
    (call,) = selector.calls
    assert "E. " not in call["messages"][0]["content"]  # the fifth group is not an option
    assert body["sql"] == body["clusters"][2]["sql"] and trail["selector_cluster"] == 2


@pytest.mark.parametrize(
    ("answers", "selection", "request_fields", "reason"),
    [
        (UNANIMOUS, {}, {}, "one group: nothing to choose"),
        (SPLIT, {"below_confidence": 0.75}, {}, "vote confidence 0.75 >= below_confidence 0.75"),
        (SPLIT, {"mode": "vote"}, {}, "selection.mode is vote"),
        (SPLIT, {}, {"selection": "vote"}, "selection.mode is vote"),  # the request's own mode
    ],
    ids=["unanimous", "confident", "stack-vote", "request-vote"],
)
async def test_the_selector_is_not_asked(
    db_root: Path, answers: Any, selection: Any, request_fields: Any, reason: str
) -> None:
    selector = Backend([label_of(1)])
    stack, backends = scripted(db_root, answers, selector, selection)
    body = await ask(stack, backends, **request_fields)
    assert selector.calls == []
    assert body["sql"] == OSLO_COUNT
    trail = body["selection"]
    assert trail["mode"] == request_fields.get("selection", selection.get("mode", "model"))
    assert (trail["consulted"], trail["answered_by"], trail["reason"]) == (False, "vote", reason)
    assert trail["vote_cluster"] == 0 and trail["selector_cluster"] is None and trail["labels"] == {}


async def test_just_below_the_threshold_the_selector_is_asked(db_root: Path) -> None:
    selector = Backend([label_of(1)])
    stack, backends = scripted(db_root, SPLIT, selector, {"below_confidence": 0.76})
    assert (await ask(stack, backends))["selection"]["answered_by"] == "selector"
    assert len(selector.calls) == 1


async def test_a_request_may_ask_a_voting_stack_for_its_selector(db_root: Path) -> None:
    selector = Backend([label_of(1)])
    stack, backends = scripted(db_root, SPLIT, selector, {"mode": "vote"})
    body = await ask(stack, backends, selection="model")
    assert body["selection"]["mode"] == "model" and body["selection"]["answered_by"] == "selector"
    assert body["sql"] == ALL_COUNT and len(selector.calls) == 1


async def test_a_request_for_a_selector_that_no_stack_serves_is_the_vote(db_root: Path) -> None:
    backends = Backends(**{name: Backend(texts) for name, texts in SPLIT.items()})
    stack = make_stack(db_root, {"g1": {}, "g2": {}})  # no selection section: nothing is served
    body = await ask(stack, backends, selection="model")
    trail = body["selection"]
    assert body["sql"] == OSLO_COUNT and trail["consulted"] is False
    assert trail["reason"] == "no selector is served (selection.base_url is not set)"


@pytest.mark.parametrize(
    ("selector", "reason"),
    [
        (Backend(["I would pick the first one"]), "the selector's answer is not one label"),
        (Backend(["Z"]), "the selector's answer is not one label"),  # a label no option has
        (Backend(fail="http_500"), "selector failed: sel-m: HTTP 500: engine exploded"),
        (Backend(fail="connect"), "selector failed: sel-m: request failed (ConnectError"),
        (Backend(fail="trickle"), "selector failed: sel-m: no answer within 0.3 s"),  # a real deadline
    ],
    ids=["prose", "unknown-label", "http-500", "refused", "too-slow"],
)
async def test_a_failing_selector_leaves_the_vote(db_root: Path, selector: Backend, reason: str) -> None:
    stack, backends = scripted(db_root, SPLIT, selector, {"timeout_s": 0.3})
    started = time.perf_counter()
    body = await ask(stack, backends)
    assert time.perf_counter() - started < 5  # the trickle alone would take 10 s
    assert body["sql"] == OSLO_COUNT and body["result"]["rows"] == [[2]] and body["confidence"] == 0.75
    trail = body["selection"]
    assert trail["consulted"] is True and trail["answered_by"] == "vote"
    assert trail["reason"].startswith(reason), trail["reason"]
    assert trail["vote_cluster"] == 0 and trail["selector_cluster"] is None
    assert trail["labels"] == {label_of(0): 0, label_of(1): 1}  # what it was shown, to debug it
    assert trail["answer"] == (selector.texts[0] if selector.fail is None else None)


async def test_ready_probes_the_selector(db_root: Path) -> None:
    stack, backends = scripted(db_root, SPLIT, Backend())
    async with gateway(stack, backends) as client:
        response = await client.get("/ready")
    assert response.status_code == 200, response.text
    assert response.json()["selector"] == {"model": "sel-m", "ready": True, "error": None}


@pytest.mark.parametrize(
    ("selection", "down", "error"),
    [
        ({"model": "other-m"}, False, "model 'other-m' not served (serving: sel-m)"),
        ({}, True, "ConnectError"),
    ],
    ids=["model-not-served", "engine-down"],
)
async def test_not_ready_when_the_selector_is_not_served(
    db_root: Path, selection: dict[str, Any], down: bool, error: str
) -> None:
    stack, backends = scripted(db_root, SPLIT, Backend(down=down), selection)
    async with gateway(stack, backends) as client:
        response = await client.get("/ready")
    body = response.json()
    assert response.status_code == 503 and body["status"] == "not_ready"
    assert all(g["ready"] for g in body["generators"].values())  # only the selector is missing
    assert body["selector"]["ready"] is False and error in body["selector"]["error"]
    assert body["error"]["message"] == f"selector not ready: {body['selector']['model']}"


async def test_a_voting_stack_is_ready_without_its_selector(db_root: Path) -> None:
    stack, backends = scripted(db_root, SPLIT, Backend(down=True), {"mode": "vote"})
    async with gateway(stack, backends) as client:
        response = await client.get("/ready")
    assert response.status_code == 200 and "selector" not in response.json()


async def test_metrics_count_who_answered(db_root: Path) -> None:
    selector = Backend()
    stack, backends = scripted(db_root, SPLIT, selector)
    async with gateway(stack, backends) as client:
        for answer in (label_of(1), label_of(0), "?"):  # overruled, agreed, fell back
            selector.texts = [answer]
            assert (await client.post("/v1/sql", json=REQUEST)).status_code == 200
        assert (await client.post("/v1/sql", json={**REQUEST, "selection": "vote"})).status_code == 200
        lines = set((await client.get("/metrics")).text.splitlines())
    for outcome in ("overruled", "agreed", "fell_back", "not_consulted"):
        assert f'sqlensemble_selection_total{{outcome="{outcome}"}} 1.0' in lines, outcome
