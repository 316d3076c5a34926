"""The published schema is the contract: every status the API answers is documented with the error
model, and property-based fuzzing of ``/openapi.json`` (schemathesis: every built-in check, positive and
negative data, a bounded number of examples) finds nothing. In-process over ASGI, with the lifespan
running and the generators scripted through ``httpx.MockTransport``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from sqlensemble.ensemble.app import build_app

from .conftest import ALL_COUNT, BROKEN, DENIED, OSLO_COUNT, PROSE, Backend, Backends, make_stack

MAX_EXAMPLES = 20  # per operation and phase: bounded, so the test stays a few seconds

# positive_data_acceptance: a schema-valid request may still be refused by a documented 400 that the
# schema cannot express (a chat without db_id, a question over the configured limit, too many samples).
CONFIG = {
    "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "400", "401", "404", "503"]}},
    "generation": {"mode": "all", "max-examples": MAX_EXAMPLES},
}


@pytest.fixture
def app(db_root: Path) -> FastAPI:
    backends = Backends(
        g1=Backend([OSLO_COUNT, ALL_COUNT, PROSE]), g2=Backend([f"```sql\n{OSLO_COUNT}\n```", BROKEN, DENIED])
    )
    stack = make_stack(db_root, {"g1": {"n": 2}, "g2": {"n": 2}}, max_question_chars=200)
    return build_app(stack, transport=backends.transport())


POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
# Negative data needs something to break: the GET routes take no parameters at all.
OPERATIONS = [
    ("POST", "/v1/sql", POSITIVE),
    ("POST", "/v1/sql", NEGATIVE),
    ("POST", "/v1/chat/completions", POSITIVE),
    ("POST", "/v1/chat/completions", NEGATIVE),
    ("GET", "/v1/models", POSITIVE),
    ("GET", "/v1/databases", POSITIVE),
    ("GET", "/health", POSITIVE),
    ("GET", "/ready", POSITIVE),
    ("GET", "/metrics", POSITIVE),
]


# schemathesis' own pytest plugin does not run on pytest 9, so each operation and mode drives hypothesis
# directly through the Python API: the same strategies, the same checks.
@pytest.mark.parametrize(
    ("method", "path", "mode"), OPERATIONS, ids=[f"{m} {p} {g}" for m, p, g in OPERATIONS]
)
def test_published_schema_holds(app: FastAPI, method: str, path: str, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=SchemathesisConfig.from_dict(CONFIG))
    operation = schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def holds(case: schemathesis.Case) -> None:
        case.call_and_validate()

    holds()


KEY = "sk-fuzz-0123456789"
KEYED = [op for op in OPERATIONS if op[1].startswith("/v1/")]


@pytest.mark.parametrize(("method", "path", "mode"), KEYED, ids=[f"{m} {p} {g}" for m, p, g in KEYED])
def test_published_schema_holds_with_keys(
    db_root: Path, monkeypatch: pytest.MonkeyPatch, method: str, path: str, mode: GenerationMode
) -> None:
    """With keys configured the schema declares the Bearer scheme and 401; the fuzzer sends the key, and
    its auth checks (``ignored_auth``: the same request without or with a wrong key) must see 401s."""
    monkeypatch.setenv("SQLENSEMBLE_API_KEYS", KEY)
    backends = Backends(g1=Backend([OSLO_COUNT, BROKEN]), g2=Backend([ALL_COUNT]))
    stack = make_stack(db_root, {"g1": {"n": 2}, "g2": {"n": 2}}, max_question_chars=200)
    app = build_app(stack, transport=backends.transport())
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=SchemathesisConfig.from_dict(CONFIG))
    operation = schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES // 2,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def holds(case: schemathesis.Case) -> None:
        case.call_and_validate(headers={"Authorization": f"Bearer {KEY}"})

    holds()


def test_every_status_is_documented_with_the_error_model(app: FastAPI) -> None:
    document = app.openapi()
    paths = document["paths"]
    sql = paths["/v1/sql"]["post"]["responses"]
    assert {"200", "400", "404", "413", "422", "500", "503"} <= set(sql)
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    for status in ("400", "404", "413", "422", "500", "503"):
        assert sql[status]["content"]["application/json"]["schema"] == error_ref, status
    assert "HTTPValidationError" not in document["components"]["schemas"]
    metrics = paths["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain; version=1.0.0; charset=utf-8"] or all(
        m.startswith("text/plain") for m in metrics
    )
    chat = paths["/v1/chat/completions"]["post"]["responses"]["200"]["content"]
    assert {"application/json", "text/event-stream"} <= set(chat)
    ready = paths["/ready"]["get"]["responses"]
    assert ready["503"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ReadyResponse"
    }
    assert "401" not in sql  # an open gateway never answers 401


def test_keys_configured_adds_401_and_the_bearer_scheme(
    db_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SQLENSEMBLE_API_KEYS", "k1")
    app = build_app(make_stack(db_root, {"g1": {}}), transport=Backends(g1=Backend([ALL_COUNT])).transport())
    document = app.openapi()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, operations in document["paths"].items():
        for operation in operations.values():
            protected = path.startswith("/v1/")
            assert ("401" in operation["responses"]) == protected, path
            assert (operation.get("security") == [{"bearer": []}]) == protected, path
