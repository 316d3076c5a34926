"""POST /v1/sql: scripted generators, real SQLite, the real vote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import (
    ALL_COUNT,
    OSLO_COUNT,
    OSLO_COUNT_ALT,
    SQL_TEXTS,
    Backend,
    Backends,
    gateway,
    make_stack,
)

pytestmark = pytest.mark.anyio

CASES_FILE = Path(__file__).parent / "data" / "gateway_vote_cases.yaml"
CASES = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
QUESTION = {"question": "How many schools are in Oslo?", "db_id": "schools"}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
async def test_vote_case(case: dict[str, Any], db_root: Path) -> None:
    specs: dict[str, dict[str, Any]] = {}
    scripted: dict[str, Backend] = {}
    for name, spec in case["generators"].items():
        spec = dict(spec)
        scripted[name] = Backend([SQL_TEXTS[t] for t in spec.pop("texts", [])], fail=spec.pop("fail", None))
        specs[name] = spec
    expect = case["expect"]

    # The cases pin the vote's own rules, so the discounts are off here (NONE_BIG compares with 1000,
    # which the question never names, and returns no rows); test_a_discount_* and
    # test_both_discounts_multiply cover them.
    stack = make_stack(db_root, specs, ungrounded_weight=1.0, empty_weight=1.0)
    async with gateway(stack, Backends(**scripted)) as client:
        response = await client.post("/v1/sql", json={"model": "ensemble", **QUESTION})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == expect["status"]
    assert body["sql"] == (SQL_TEXTS[expect["sql"]] if expect["sql"] else None)
    assert body["confidence"] == pytest.approx(expect["confidence"], abs=1e-6)
    assert body["failed_generators"] == expect["failed"]
    assert [c["status"] for c in body["candidates"]] == expect["statuses"]
    order = [(name, i) for name, spec in case["generators"].items() for i in range(spec.get("n", 2))]
    assert [(c["generator"], c["index"]) for c in body["candidates"]] == order
    assert [c["size"] for c in body["clusters"]] == expect["clusters"]
    assert (body["result"] is None) == (expect["status"] == "all_failed")
    for candidate in body["candidates"]:
        failed = candidate["status"] not in ("ok", "empty")
        assert (candidate["error"] is not None) == failed, candidate
        assert (candidate["cluster"] is None) == failed, candidate
        if candidate["status"] == "backend_error":
            assert candidate["generator"] in body["failed_generators"]
            assert candidate["raw"] is None and candidate["sql"] is None


async def test_answer_carries_the_whole_trail(two_generators: Any) -> None:
    stack, backends = two_generators
    async with gateway(stack, backends) as client:
        response = await client.post("/v1/sql", json={**QUESTION, "evidence": "Oslo is a city."})
    body = response.json()

    assert response.status_code == 200
    assert body["id"].startswith("sql-") and body["object"] == "sql.completion"
    assert body["model"] == "ensemble" and isinstance(body["created"], int)
    assert body["sql"] == OSLO_COUNT
    assert body["result"] == {
        "columns": ["count(*)"],
        "rows": [[2]],
        "row_count": 1,
        "truncated": False,
        "truncated_by": None,
    }
    order = [(c["generator"], c["index"]) for c in body["candidates"]]
    assert order == [("g1", 0), ("g1", 1), ("g2", 0), ("g2", 1)]
    # Extracted SQL next to the raw text; the fenced, commented answer is reduced to its statement.
    assert body["candidates"][2]["raw"].startswith("```sql")
    assert body["candidates"][2]["sql"] == OSLO_COUNT_ALT
    assert [c["row_count"] for c in body["candidates"]] == [1, 1, 1, 1]
    assert [c["cluster"] for c in body["candidates"]] == [0, 1, 0, 0]
    # Each cluster carries its answer's first rows: what a selection model would be shown.
    assert body["clusters"] == [
        {"id": 0, "size": 3, "weight": 3.0, "sql": OSLO_COUNT, "columns": ["count(*)"], "preview": [[2]],
         "row_count": 1},
        {"id": 1, "size": 1, "weight": 1.0, "sql": ALL_COUNT, "columns": ["count(*)"], "preview": [[4]],
         "row_count": 1},
    ]  # fmt: skip
    assert body["selection"]["mode"] == "vote" and body["selection"]["answered_by"] == "vote"
    assert set(body["timings"]["generation_ms"]) == {"g1", "g2"}
    assert body["timings"]["total_ms"] >= body["timings"]["execution_ms"] >= 0
    # Usage is the generators' own token counts, summed.
    calls = backends["g1"].calls + backends["g2"].calls
    prompt = sum(len(call["messages"][0]["content"].split()) for call in calls)
    assert body["usage"]["prompt_tokens"] == prompt
    assert body["usage"]["total_tokens"] == prompt + body["usage"]["completion_tokens"]


async def test_one_request_per_generator_with_the_shared_prompt(two_generators: Any) -> None:
    stack, backends = two_generators
    async with gateway(stack, backends) as client:
        response = await client.post(
            "/v1/sql", json={**QUESTION, "evidence": "Oslo is a city.", "n": 3, "temperature": 0.2}
        )
    assert response.status_code == 200
    for name in ("g1", "g2"):
        (call,) = backends[name].calls
        assert call["model"] == f"{name}-m" and call["n"] == 3 and call["temperature"] == 0.2
        assert call["top_p"] == 0.95 and call["max_tokens"] == 64
        # every sampling field is sent, so an engine's generation_config.json fills none of them
        assert call["top_k"] == -1 and call["repetition_penalty"] == 1.0
        (message,) = call["messages"]
        assert message["role"] == "user"
        assert message["content"].count(QUESTION["question"]) == 2  # XiYan's format repeats the question
        assert "Oslo is a city." in message["content"] and "schools" in message["content"]
        assert message["content"].endswith("```sql")
    assert len(response.json()["candidates"]) == 6


async def test_each_generator_gets_its_own_schema_view(db_root: Path) -> None:
    from sqlensemble.catalog import Catalog

    stack = make_stack(
        db_root,
        {
            "g1": {"prompt": {"schema_style": "mschema", "max_examples": 0}},
            "g2": {"prompt": {"schema_style": "ddl"}},
        },
    )
    backends = Backends(g1=Backend([OSLO_COUNT]), g2=Backend([OSLO_COUNT]))
    async with gateway(stack, backends) as client:
        response = await client.post("/v1/sql", json=QUESTION)
    assert response.status_code == 200
    catalog = Catalog(db_root)
    (g1,) = backends["g1"].calls
    (g2,) = backends["g2"].calls
    bare = catalog.schema_text(QUESTION["db_id"], "mschema", 0)
    assert "Examples:" not in bare and bare in g1["messages"][0]["content"]
    assert catalog.schema_text(QUESTION["db_id"], "ddl") in g2["messages"][0]["content"]


async def test_a_generator_with_a_schema_order_is_shown_that_order(db_root: Path) -> None:
    """``prompt.schema_order``: the tables and columns in the order the seed draws for the database,
    the text training rendered for that generator (same tables and columns, another arrangement)."""
    from sqlensemble.catalog import Catalog

    stack = make_stack(
        db_root,
        {"g1": {"prompt": {"max_examples": 0, "schema_order": 7}}, "g2": {"prompt": {"max_examples": 0}}},
    )
    backends = Backends(g1=Backend([OSLO_COUNT]), g2=Backend([OSLO_COUNT]))
    async with gateway(stack, backends) as client:
        assert (await client.post("/v1/sql", json=QUESTION)).status_code == 200
    catalog = Catalog(db_root)
    ordered = catalog.schema_text(QUESTION["db_id"], "mschema", 0, 7)
    plain = catalog.schema_text(QUESTION["db_id"], "mschema", 0)
    lines = [sorted(line.rstrip(",") for line in text.splitlines()) for text in (ordered, plain)]
    assert ordered != plain and lines[0] == lines[1]
    (g1,) = backends["g1"].calls
    (g2,) = backends["g2"].calls
    assert ordered in g1["messages"][0]["content"] and plain in g2["messages"][0]["content"]


async def test_single_generator_model_samples_only_that_one(two_generators: Any) -> None:
    stack, backends = two_generators
    async with gateway(stack, backends) as client:
        response = await client.post("/v1/sql", json={**QUESTION, "model": "g2"})
    body = response.json()
    assert response.status_code == 200
    assert backends["g1"].calls == [] and len(backends["g2"].calls) == 1
    assert body["model"] == "g2"
    assert {c["generator"] for c in body["candidates"]} == {"g2"}
    assert body["sql"] == OSLO_COUNT_ALT  # shortest SQL of the only generator's winning cluster
    assert body["confidence"] == 1.0


async def test_equal_statements_execute_once(db_root: Path) -> None:
    backends = Backends(g1=Backend([OSLO_COUNT, "select count(*) from schools where city = 'Oslo';"]))
    async with gateway(make_stack(db_root, {"g1": {"n": 2}}), backends) as client:
        body = (await client.post("/v1/sql", json=QUESTION)).json()
    first, second = body["candidates"]
    # Same normalized statement: one execution, whose time both candidates report.
    assert first["sql"] != second["sql"]
    assert first["exec_ms"] == second["exec_ms"]
    assert body["clusters"][0]["size"] == 2


async def test_row_options(db_root: Path) -> None:
    backends = Backends(g1=Backend(["SELECT n FROM numbers ORDER BY n"]))
    stack = make_stack(db_root, {"g1": {"n": 1}}, max_rows=20)
    request = {"question": "List the numbers", "db_id": "shop"}
    async with gateway(stack, backends) as client:
        capped = (await client.post("/v1/sql", json={**request, "max_rows": 5})).json()
        hidden = (await client.post("/v1/sql", json={**request, "return_rows": False})).json()
        default = (await client.post("/v1/sql", json=request)).json()
    five = [[1], [2], [3], [4], [5]]
    assert capped["result"] == {
        "columns": ["n"],
        "rows": five,
        "row_count": 5,
        "truncated": True,
        "truncated_by": "max_rows",
    }
    assert hidden["result"]["rows"] == [] and hidden["result"]["row_count"] == 20
    assert default["result"]["row_count"] == 20 and default["result"]["truncated"] is True


async def test_return_rows_setting_off(db_root: Path) -> None:
    backends = Backends(g1=Backend([ALL_COUNT]))
    stack = make_stack(db_root, {"g1": {"n": 1}}, return_rows=False)
    async with gateway(stack, backends) as client:
        off = (await client.post("/v1/sql", json=QUESTION)).json()
        asked = (await client.post("/v1/sql", json={**QUESTION, "return_rows": True})).json()
    assert off["result"]["rows"] == [] and off["result"]["row_count"] == 1
    assert asked["result"]["rows"] == [[4]]


async def test_equivalence_override(db_root: Path) -> None:
    # Same rows in another order: one cluster under "bird" (sets), two under "ordered".
    backends = Backends(
        g1=Backend(["SELECT id FROM schools ORDER BY id"]),
        g2=Backend(["SELECT id FROM schools ORDER BY id DESC"]),
    )
    stack = make_stack(db_root, {"g1": {"n": 1}, "g2": {"n": 1}})
    async with gateway(stack, backends) as client:
        bird = (await client.post("/v1/sql", json=QUESTION)).json()
        ordered = (await client.post("/v1/sql", json={**QUESTION, "equivalence": "ordered"})).json()
    assert [c["size"] for c in bird["clusters"]] == [2]
    assert [c["size"] for c in ordered["clusters"]] == [1, 1]


BERGEN_COUNT = "SELECT count(*) FROM schools WHERE city = 'Bergen'"  # 1: a value the question never names


# Oslo's schools whose name is their city: none, and no value the question does not name.
OSLO_NONE = "SELECT name FROM schools WHERE city = 'Oslo' AND name = city"
# Each discount, the wrong answer it weighs down and what the trail says of it.
DISCOUNTS = {
    "ungrounded_weight": (BERGEN_COUNT, "ok", ["'Bergen'"]),  # 1 row: a value the question never names
    "empty_weight": (OSLO_NONE, "empty", []),
}


@pytest.mark.parametrize("discount", sorted(DISCOUNTS))
@pytest.mark.parametrize("weight", [0.25, 1.0])
async def test_a_discount_lets_one_right_sample_beat_three(
    db_root: Path, discount: str, weight: float
) -> None:
    # Three samples agree on the wrong answer, one is Oslo's count: at 0.25 each the three weigh 0.75 and
    # Oslo's wins; at 1.0 (no discount) the three win.
    wrong, status, ungrounded = DISCOUNTS[discount]
    backends = Backends(g1=Backend([wrong, wrong]), g2=Backend([OSLO_COUNT, wrong]))
    stack = make_stack(db_root, {"g1": {}, "g2": {}}, **{discount: weight})
    async with gateway(stack, backends) as client:
        response = await client.post("/v1/sql", json=QUESTION)
    assert response.status_code == 200, response.text
    body = response.json()
    winner = OSLO_COUNT if weight < 1.0 else wrong
    assert body["sql"] == winner
    trail = [(c["sql"], c["status"], c["weight"], c["ungrounded"]) for c in body["candidates"]]
    discounted = (wrong, status, weight, ungrounded)
    assert trail == [discounted, discounted, (OSLO_COUNT, "ok", 1.0, []), discounted]
    total = 3 * weight + 1.0
    expected = (1.0 if winner == OSLO_COUNT else 3 * weight) / total
    assert body["confidence"] == pytest.approx(expected, abs=1e-6)


async def test_grounding_reads_the_evidence(db_root: Path) -> None:
    backends = Backends(g1=Backend([BERGEN_COUNT, BERGEN_COUNT]), g2=Backend([OSLO_COUNT, BERGEN_COUNT]))
    async with gateway(make_stack(db_root, {"g1": {}, "g2": {}}), backends) as client:
        asked = {**QUESTION, "evidence": "the west coast school is in Bergen"}
        body = (await client.post("/v1/sql", json=asked)).json()
    assert body["sql"] == BERGEN_COUNT
    assert all(c["weight"] == 1.0 and c["ungrounded"] == [] for c in body["candidates"])


async def test_both_discounts_multiply(db_root: Path) -> None:
    # No rows and a value the question never names: 0.5 * 0.25.
    nowhere = "SELECT name FROM schools WHERE city = 'Narvik'"
    backends = Backends(g1=Backend([nowhere]), g2=Backend([OSLO_COUNT]))
    stack = make_stack(db_root, {"g1": {"n": 1}, "g2": {"n": 1}}, ungrounded_weight=0.25, empty_weight=0.5)
    async with gateway(stack, backends) as client:
        body = (await client.post("/v1/sql", json=QUESTION)).json()
    assert [(c["status"], c["weight"], c["ungrounded"]) for c in body["candidates"]] == [
        ("empty", 0.125, ["'Narvik'"]),
        ("ok", 1.0, []),
    ]
