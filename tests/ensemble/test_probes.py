"""GET /v1/models, /v1/databases, /health, /ready and /metrics."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from .conftest import ALL_COUNT, Backend, Backends, gateway, make_stack

pytestmark = pytest.mark.anyio


async def test_models_list_the_ensemble_and_each_generator(two_generators: Any) -> None:
    stack, backends = two_generators
    async with gateway(stack, backends) as client:
        body = (await client.get("/v1/models")).json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["ensemble", "g1", "g2"]
    assert {m["object"] for m in body["data"]} == {"model"}
    assert all(isinstance(m["created"], int) and m["owned_by"] for m in body["data"])


async def test_databases_list_ids_and_tables(two_generators: Any) -> None:
    stack, backends = two_generators
    async with gateway(stack, backends) as client:
        body = (await client.get("/v1/databases")).json()
    assert body == {
        "object": "list",
        "data": [
            {"id": "schools", "object": "database", "tables": ["schools", "teachers"]},
            {"id": "shop", "object": "database", "tables": ["numbers", "orders", "products"]},
        ],
    }


async def test_health(two_generators: Any) -> None:
    stack, backends = two_generators
    async with gateway(stack, backends) as client:
        response = await client.get("/health")
    assert response.status_code == 200 and response.json()["status"] == "ok"


async def test_ready_when_every_generator_serves(two_generators: Any) -> None:
    stack, backends = two_generators
    async with gateway(stack, backends) as client:
        response = await client.get("/ready")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ready"
    assert body["generators"] == {"g1": {"ready": True, "error": None}, "g2": {"ready": True, "error": None}}
    assert body["databases"]["ready"] is True and body["databases"]["count"] == 2


async def test_not_ready_names_the_generator_that_is_down(two_generators: Any) -> None:
    stack, backends = two_generators
    backends["g2"].down = True
    async with gateway(stack, backends) as client:
        response = await client.get("/ready")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "not_ready"
    assert body["generators"]["g1"]["ready"] is True
    assert body["generators"]["g2"]["ready"] is False and "ConnectError" in body["generators"]["g2"]["error"]
    assert body["error"]["type"] == "service_unavailable" and "g2" in body["error"]["message"]


async def test_not_ready_when_the_served_model_is_another(db_root: Path) -> None:
    stack = make_stack(db_root, {"g1": {"model": "some-other-model"}})
    async with gateway(stack, Backends(g1=Backend([ALL_COUNT]))) as client:
        response = await client.get("/ready")
    assert response.status_code == 503
    assert "some-other-model" in response.json()["generators"]["g1"]["error"]


async def test_not_ready_without_databases(tmp_path: Path, db_root: Path) -> None:
    root = tmp_path / "dbs"
    shutil.copytree(db_root, root)
    stack = make_stack(root, {"g1": {}})
    async with gateway(stack, Backends(g1=Backend([ALL_COUNT]))) as client:
        assert (await client.get("/ready")).status_code == 200
        for folder in root.iterdir():
            shutil.rmtree(folder)
        response = await client.get("/ready")
    assert response.status_code == 503
    assert response.json()["databases"] == {"ready": False, "count": 0, "root": str(root.resolve())}


async def test_metrics(db_root: Path) -> None:
    backends = Backends(g1=Backend([ALL_COUNT, "SELECT nope FROM schools"]), g2=Backend([], fail="timeout"))
    stack = make_stack(db_root, {"g1": {"n": 2}, "g2": {"n": 1}})
    async with gateway(stack, backends) as client:
        assert (await client.post("/v1/sql", json={"question": "q?", "db_id": "schools"})).status_code == 200
        assert (await client.get("/v1/nowhere")).status_code == 404
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = set(response.text.splitlines())
    expected = [
        'sqlensemble_requests_total{endpoint="/v1/sql",status="200"} 1.0',
        'sqlensemble_requests_total{endpoint="unmatched",status="404"} 1.0',
        'sqlensemble_request_seconds_count{endpoint="/v1/sql"} 1.0',
        'sqlensemble_stage_seconds_count{stage="generation"} 1.0',
        'sqlensemble_stage_seconds_count{stage="execution"} 1.0',
        'sqlensemble_stage_seconds_count{stage="voting"} 1.0',
        'sqlensemble_generator_seconds_count{generator="g1"} 1.0',
        'sqlensemble_candidates_total{generator="g1",status="ok"} 1.0',
        'sqlensemble_candidates_total{generator="g1",status="error"} 1.0',
        'sqlensemble_candidates_total{generator="g2",status="backend_error"} 1.0',
        'sqlensemble_backend_errors_total{generator="g2",kind="timeout"} 1.0',
        "sqlensemble_vote_agreement_count 1.0",
        "sqlensemble_vote_agreement_sum 0.3333333333333333",
    ]
    missing = [line for line in expected if line not in lines]
    assert not missing, missing


async def test_each_app_has_its_own_metrics(two_generators: Any) -> None:
    stack, backends = two_generators
    async with gateway(stack, backends) as first:
        await first.get("/v1/models")
    async with gateway(stack, backends) as second:
        text = (await second.get("/metrics")).text
    assert 'endpoint="/v1/models"' not in text
