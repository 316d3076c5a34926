"""Every error path leaves in the one shape, {"error": {message, type, param, code}}, with no traceback."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sqlensemble.ensemble.app import build_app
from sqlensemble.ensemble.service import EnsembleService

from .conftest import ALL_COUNT, Backend, Backends, gateway, make_stack, running

pytestmark = pytest.mark.anyio

ASK = {"question": "How many schools?", "db_id": "schools"}
USER = [{"role": "user", "content": "How many schools?"}]
CHAT = {"model": "ensemble", "db_id": "schools", "messages": USER}
KEY = "sk-test-123"
JSON = {"content-type": "application/json"}
# JSON's "\udfff" escape (six characters on the wire) decodes to a lone surrogate.
SURROGATE = "\\udfff"


@dataclass(frozen=True)
class ErrorCase:
    id: str
    method: str
    path: str
    status: int
    type: str
    code: str | None
    param: str | None = None
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    keys: str | None = None  # SQLENSEMBLE_API_KEYS for this case
    failing: bool = False  # every generator answers 500


CASES = [
    ErrorCase("invalid_json", "POST", "/v1/sql", 400, "invalid_request_error", "invalid_json",
              content=b'{"question": ', headers={"content-type": "application/json"}),
    ErrorCase("missing_field", "POST", "/v1/sql", 422, "invalid_request_error", "invalid_value", "question",
              json={"db_id": "schools"}),
    ErrorCase("unknown_field", "POST", "/v1/sql", 422, "invalid_request_error", "invalid_value", "top_k",
              json={**ASK, "top_k": 3}),
    ErrorCase("wrong_type", "POST", "/v1/sql", 422, "invalid_request_error", "invalid_value", "n",
              json={**ASK, "n": "many"}),
    ErrorCase("bad_equivalence", "POST", "/v1/sql", 422, "invalid_request_error", "invalid_value",
              "equivalence", json={**ASK, "equivalence": "fuzzy"}),
    ErrorCase("question_too_long", "POST", "/v1/sql", 400, "invalid_request_error", "question_too_long",
              "question", json={**ASK, "question": "why " * 30}),
    ErrorCase("n_above_max_n", "POST", "/v1/sql", 400, "invalid_request_error", "n_too_large", "n",
              json={**ASK, "n": 5}),
    ErrorCase("too_many_candidates", "POST", "/v1/sql", 400, "invalid_request_error", "too_many_candidates",
              "n", json={**ASK, "n": 4}),
    ErrorCase("max_rows_above_setting", "POST", "/v1/sql", 400, "invalid_request_error", "max_rows_too_large",
              "max_rows", json={**ASK, "max_rows": 10_000}),
    ErrorCase("chat_without_db_id", "POST", "/v1/chat/completions", 400, "invalid_request_error",
              "missing_db_id", "db_id", json={"model": "ensemble", "messages": USER}),
    ErrorCase("chat_without_question", "POST", "/v1/chat/completions", 400, "invalid_request_error",
              "missing_question", "messages",
              json={**CHAT, "messages": [{"role": "system", "content": "x"}]}),
    ErrorCase("unknown_database", "POST", "/v1/sql", 404, "not_found_error", "database_not_found", "db_id",
              json={**ASK, "db_id": "nowhere"}),
    ErrorCase("path_as_database", "POST", "/v1/sql", 404, "not_found_error", "database_not_found", "db_id",
              json={**ASK, "db_id": "../schools"}),
    ErrorCase("unknown_model", "POST", "/v1/sql", 404, "not_found_error", "model_not_found", "model",
              json={**ASK, "model": "gpt-4"}),
    ErrorCase("chat_unknown_model", "POST", "/v1/chat/completions", 404, "not_found_error", "model_not_found",
              "model", json={**CHAT, "model": "gpt-4"}),
    ErrorCase("unknown_route", "GET", "/v1/nothing", 404, "not_found_error", "unknown_route"),
    ErrorCase("wrong_method", "GET", "/v1/sql", 405, "invalid_request_error", None),
    ErrorCase("body_too_large", "POST", "/v1/sql", 413, "invalid_request_error", "body_too_large",
              json={**ASK, "evidence": "x" * 3000}),
    ErrorCase("missing_key", "POST", "/v1/sql", 401, "authentication_error", "missing_api_key",
              json=ASK, keys=KEY),
    ErrorCase("wrong_key", "GET", "/v1/models", 401, "authentication_error", "invalid_api_key",
              headers={"authorization": "Bearer nope"}, keys=f"{KEY},other"),
    ErrorCase("wrong_scheme", "GET", "/v1/databases", 401, "authentication_error", "missing_api_key",
              headers={"authorization": f"Basic {KEY}"}, keys=KEY),
    ErrorCase("surrogate_in_evidence", "POST", "/v1/sql", 422, "invalid_request_error", "invalid_value",
              "evidence", headers=JSON,
              content=b'{"question": "q", "db_id": "schools", "evidence": "' + SURROGATE.encode() + b'"}'),
    ErrorCase("surrogate_in_question", "POST", "/v1/sql", 422, "invalid_request_error", "invalid_value",
              "question", headers=JSON,
              content=b'{"question": "why' + SURROGATE.encode() + b'", "db_id": "schools"}'),
    ErrorCase("surrogate_in_db_id", "POST", "/v1/sql", 422, "invalid_request_error", "invalid_value",
              "db_id", headers=JSON,
              content=b'{"question": "q", "db_id": "sch' + SURROGATE.encode() + b'ools"}'),
    ErrorCase("surrogate_in_model", "POST", "/v1/sql", 422, "invalid_request_error", "invalid_value",
              "model", headers=JSON,
              content=b'{"question": "q", "db_id": "schools", "model": "' + SURROGATE.encode() + b'"}'),
    ErrorCase("surrogate_as_a_key", "POST", "/v1/sql", 422, "invalid_request_error", "invalid_value",
              None, headers=JSON,
              content=b'{"question": "q", "db_id": "schools", "' + SURROGATE.encode() + b'": 1}'),
    ErrorCase("chat_surrogate_in_content", "POST", "/v1/chat/completions", 422, "invalid_request_error",
              "invalid_value", "messages.0.content", headers=JSON,
              content=b'{"model": "ensemble", "db_id": "schools", "messages": [{"role": "user", "content": "'
              + SURROGATE.encode() + b'"}]}'),
    ErrorCase("chat_surrogate_in_a_content_part", "POST", "/v1/chat/completions", 422,
              "invalid_request_error", "invalid_value", "messages.0.content", headers=JSON,
              content=b'{"model": "ensemble", "db_id": "schools", "messages": [{"role": "user", "content": '
              b'[{"type": "text", "text": "x' + SURROGATE.encode() + b'"}]}]}'),
    ErrorCase("chat_surrogate_in_metadata_db_id", "POST", "/v1/chat/completions", 422,
              "invalid_request_error", "invalid_value", "metadata", headers=JSON,
              content=b'{"model": "ensemble", "messages": [{"role": "user", "content": "q"}], '
              b'"metadata": {"db_id": "' + SURROGATE.encode() + b'"}}'),
    ErrorCase("chat_surrogate_in_evidence", "POST", "/v1/chat/completions", 422, "invalid_request_error",
              "invalid_value", "evidence", headers=JSON,
              content=b'{"model": "ensemble", "db_id": "schools", "evidence": "' + SURROGATE.encode()
              + b'", "messages": [{"role": "user", "content": "q"}]}'),
    ErrorCase("chat_metadata_db_id_not_a_string", "POST", "/v1/chat/completions", 400,
              "invalid_request_error", "missing_db_id", "db_id",
              json={"model": "ensemble", "messages": USER, "metadata": {"db_id": 7}}),
    ErrorCase("chat_question_too_long", "POST", "/v1/chat/completions", 400, "invalid_request_error",
              "question_too_long", "question",
              json={**CHAT, "messages": [{"role": "user", "content": "y" * 200}]}),
    ErrorCase("body_not_utf8", "POST", "/v1/sql", 400, "invalid_request_error", "invalid_json",
              content=b'{"question": "q", "db_id": "\xff\xfe"}', headers=JSON),
    ErrorCase("malformed_body_without_key", "POST", "/v1/sql", 401, "authentication_error", "missing_api_key",
              content=b'{"question": ', headers=JSON, keys=KEY),
    ErrorCase("bad_unicode_without_key", "POST", "/v1/chat/completions", 401, "authentication_error",
              "missing_api_key", headers=JSON, keys=KEY,
              content=b'{"model": "ensemble", "messages": [{"role": "user", "content": "' + SURROGATE.encode()
              + b'"}]}'),
    ErrorCase("oversized_body_without_key", "POST", "/v1/sql", 401, "authentication_error",
              "missing_api_key", json={**ASK, "evidence": "x" * 3000}, keys=KEY),
    ErrorCase("unknown_route_without_key", "GET", "/v1/nothing", 401, "authentication_error",
              "missing_api_key", keys=KEY),
    ErrorCase("malformed_body_with_wrong_key", "POST", "/v1/sql", 401, "authentication_error",
              "invalid_api_key", content=b"{{{", headers={**JSON, "authorization": "Bearer nope"}, keys=KEY),
    ErrorCase("all_generators_failed", "POST", "/v1/sql", 503, "service_unavailable", "all_generators_failed",
              json=ASK, failing=True),
    ErrorCase("chat_all_generators_failed", "POST", "/v1/chat/completions", 503, "service_unavailable",
              "all_generators_failed", failing=True, json={**CHAT, "stream": True}),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_error_shape(case: ErrorCase, db_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if case.keys is not None:
        monkeypatch.setenv("SQLENSEMBLE_API_KEYS", case.keys)
    fail = "http_500" if case.failing else None
    backends = Backends(g1=Backend([ALL_COUNT], fail=fail), g2=Backend([ALL_COUNT], fail=fail))
    stack = make_stack(
        db_root,
        {"g1": {"n": 2}, "g2": {"n": 2}},
        max_n=4,
        max_candidates=6,
        max_question_chars=100,
        max_rows=50,
        max_body_bytes=2048,
    )
    async with gateway(stack, backends) as client:
        response = await client.request(
            case.method, case.path, json=case.json, content=case.content, headers=case.headers
        )

    assert response.status_code == case.status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["code"], error["param"]) == (case.type, case.code, case.param)
    assert isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    if case.status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    if case.failing:
        assert "engine exploded" in error["message"]  # says why each generator failed


async def test_chunked_body_over_the_limit_is_refused(db_root: Path) -> None:
    stack = make_stack(db_root, {"g1": {}}, max_body_bytes=1024)

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(8):
            yield b" " * 200

    async with gateway(stack, Backends(g1=Backend([ALL_COUNT]))) as client:
        headers = {"content-type": "application/json"}
        response = await client.post("/v1/sql", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


async def test_unexpected_exception_is_a_clean_500(db_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def explode(self: EnsembleService, request: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(EnsembleService, "complete", explode)
    app = build_app(make_stack(db_root, {"g1": {}}), transport=Backends(g1=Backend([ALL_COUNT])).transport())
    async with running(app, raise_app_exceptions=False) as client:
        response = await client.post("/v1/sql", json=ASK)
    assert response.status_code == 500
    error = {"message": "internal error", "type": "internal_error", "param": None, "code": "internal_error"}
    assert response.json() == {"error": error}


async def test_right_key_is_let_in(db_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SQLENSEMBLE_API_KEYS", f"other, {KEY}")
    stack = make_stack(db_root, {"g1": {"n": 1}})
    async with gateway(stack, Backends(g1=Backend([ALL_COUNT]))) as client:
        answered = await client.post("/v1/sql", json=ASK, headers={"Authorization": f"Bearer {KEY}"})
        probe = await client.get("/health")  # probes stay open
    assert answered.status_code == 200 and answered.json()["sql"] == ALL_COUNT
    assert probe.status_code == 200
