"""Adaptive sampling through /v1/sql: rounds, early stops, cancelled calls and per-request overrides."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from sqlensemble.ensemble.app import build_app

from .conftest import (
    ALL_COUNT,
    BROKEN,
    NONE_BIG,
    OSLO_COUNT,
    OSLO_COUNT_ALT,
    Backend,
    Backends,
    gateway,
    make_stack,
    running,
)

pytestmark = pytest.mark.anyio

QUESTION = {"question": "How many schools in Oslo?", "db_id": "schools"}
ADAPTIVE = {"policy": "adaptive", "threshold": 0.75, "min_votes": 2, "first_temperature": 0.0, "round_n": 1}
FOUR = {name: {"n": 3} for name in ("g1", "g2", "g3", "g4")}


async def _ask(stack: Any, backends: Backends, **extra: Any) -> dict[str, Any]:
    async with gateway(stack, backends) as client:
        response = await client.post("/v1/sql", json={**QUESTION, **extra})
    assert response.status_code == 200, response.text
    return response.json()


async def test_agreeing_generators_stop_after_one_near_greedy_round(db_root: Path) -> None:
    backends = Backends(**{name: Backend([OSLO_COUNT]) for name in FOUR})
    full = await _ask(make_stack(db_root, FOUR), backends)
    backends = Backends(**{name: Backend([OSLO_COUNT]) for name in FOUR})
    body = await _ask(make_stack(db_root, FOUR, sampling_policy=ADAPTIVE), backends)

    trail = body["sampling"]
    assert trail["policy"] == "adaptive" and len(trail["rounds"]) == 1
    first = trail["rounds"][0]
    assert first["asked"] == dict.fromkeys(FOUR, 1) and first["stop"] == "agreement"
    assert set(first["temperature"].values()) == {0.0}
    calls = [call for name in FOUR for call in backends[name].calls]
    assert calls and all(c["n"] == 1 and c["temperature"] == 0.0 for c in calls)
    assert body["sql"] is not None and body["confidence"] >= 0.75
    assert body["usage"]["completion_tokens"] * 2 <= full["usage"]["completion_tokens"]
    assert full["sampling"]["policy"] == "full" and full["sampling"]["rounds"][0]["stop"] == "full"


async def test_disagreeing_generators_draw_rounds_until_the_budget(db_root: Path) -> None:
    texts = {"g1": OSLO_COUNT, "g2": ALL_COUNT, "g3": NONE_BIG, "g4": BROKEN}
    backends = Backends(**{name: Backend([sql]) for name, sql in texts.items()})
    body = await _ask(make_stack(db_root, FOUR, sampling_policy=ADAPTIVE), backends)

    rounds = body["sampling"]["rounds"]
    assert [r["stop"] for r in rounds] == [None, None, "budget"]
    assert [r["asked"] for r in rounds] == [dict.fromkeys(FOUR, 1)] * 3
    assert set(rounds[1]["temperature"].values()) == {0.7}  # later rounds: the generators' own
    assert body["sampling"]["calls"] == 12
    indices = {
        name: sorted(c["index"] for c in body["candidates"] if c["generator"] == name) for name in FOUR
    }
    assert indices == {name: [0, 1, 2] for name in FOUR}


async def test_a_call_no_longer_needed_is_cancelled(db_root: Path) -> None:
    """Three of four agree: the fourth, still generating, cannot change a 3/4 agreement, so it is dropped."""
    backends = Backends(**{name: Backend([OSLO_COUNT_ALT if name == "g2" else OSLO_COUNT]) for name in FOUR})
    cancelled = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "g4.test" and request.method == "POST":
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                cancelled.set()
                raise
        return backends.handler(request)

    stack = make_stack(db_root, {**FOUR, "g4": {"n": 3, "timeout_s": 60}}, sampling_policy=ADAPTIVE)
    app = build_app(stack, transport=httpx.MockTransport(handler))
    async with running(app) as client:
        response = await asyncio.wait_for(client.post("/v1/sql", json=QUESTION), 20)
    body = response.json()
    assert response.status_code == 200, body
    (first,) = body["sampling"]["rounds"]
    assert first["cancelled"] == ["g4"] and first["stop"] == "agreement"
    assert "g4" not in first["received"] and cancelled.is_set()
    assert {c["generator"] for c in body["candidates"]} == {"g1", "g2", "g3"}


async def test_the_policy_is_overridden_per_request(db_root: Path) -> None:
    backends = Backends(**{name: Backend([OSLO_COUNT]) for name in FOUR})
    body = await _ask(make_stack(db_root, FOUR), backends, sampling_policy={"policy": "adaptive"})
    assert body["sampling"]["policy"] == "adaptive"
    backends = Backends(**{name: Backend([OSLO_COUNT]) for name in FOUR})
    body = await _ask(
        make_stack(db_root, FOUR, sampling_policy=ADAPTIVE), backends, sampling_policy={"policy": "full"}
    )
    assert body["sampling"]["policy"] == "full" and body["sampling"]["calls"] == 4
    assert len(body["candidates"]) == 12


async def test_a_bad_override_is_a_clear_400(db_root: Path) -> None:
    backends = Backends(**{name: Backend([OSLO_COUNT]) for name in FOUR})
    async with gateway(make_stack(db_root, FOUR), backends) as client:
        response = await client.post("/v1/sql", json={**QUESTION, "sampling_policy": {"threshold": 2}})
    assert response.status_code in (400, 422)
    assert "threshold" in response.text
