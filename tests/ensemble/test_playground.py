"""The playground's routes and the schema endpoint it reads, in-process: the page holds no data, only
shipped assets are served, and the schema is behind the same key as the rest of ``/v1``."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import pytest

from sqlensemble.ensemble.playground import ASSETS, PAGE
from sqlensemble.stack import StackConfig

from .conftest import Backend, Backends, gateway, make_stack

pytestmark = pytest.mark.anyio

KEY = "sk-playground"


async def test_the_page_is_static_and_names_only_shipped_assets(
    two_generators: tuple[StackConfig, Backends], db_root: Path
) -> None:
    stack, backends = two_generators
    async with gateway(stack, backends) as client:
        page = await client.get("/")
        assets = {name: await client.get(f"/playground/{name}") for name in ASSETS}

    assert page.status_code == 200 and page.headers["content-type"] == ASSETS[PAGE]
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp and "script-src 'self'" in csp
    html = page.text
    assert "schools" not in html and "shop" not in html and "<option" not in html  # no data in the page
    linked = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert linked and all(link.startswith("playground/") for link in linked), linked
    assert {link.removeprefix("playground/") for link in linked} <= set(ASSETS)
    for name, response in assets.items():
        assert response.status_code == 200, name
        assert response.headers["content-type"] == ASSETS[name]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "http://" not in response.text and "https://" not in response.text, name


@pytest.mark.parametrize("path", ["/playground/app.py", "/playground/..%2Fapp.py", "/playground/"])
async def test_only_listed_assets_are_served(path: str, two_generators: tuple[StackConfig, Backends]) -> None:
    stack, backends = two_generators
    async with gateway(stack, backends) as client:
        response = await client.get(path)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["type"] == "not_found_error" and error["code"] in {"asset_not_found", "unknown_route"}


async def test_schema_lists_tables_columns_and_foreign_keys(
    two_generators: tuple[StackConfig, Backends],
) -> None:
    stack, backends = two_generators
    async with gateway(stack, backends) as client:
        response = await client.get("/v1/databases/schools/schema")
        openapi = (await client.get("/openapi.json")).json()

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "schools" and body["object"] == "database.schema"
    assert [t["name"] for t in body["tables"]] == ["schools", "teachers"]
    schools = body["tables"][0]["columns"]
    assert [c["name"] for c in schools] == ["id", "name", "city", "students"]
    assert schools[0]["primary_key"] is True and schools[0]["type"] == "INTEGER"
    assert schools[2]["examples"] == ["Oslo", "Bergen", "Tromso"]
    assert body["foreign_keys"] == [
        {"table": "teachers", "column": "school_id", "ref_table": "schools", "ref_column": "id"}
    ]
    assert "/v1/databases/{db_id}/schema" in openapi["paths"]
    assert "/" not in openapi["paths"]


async def test_schema_of_an_unknown_database_is_a_404(two_generators: tuple[StackConfig, Backends]) -> None:
    stack, backends = two_generators
    async with gateway(stack, backends) as client:
        response = await client.get("/v1/databases/nope/schema")
    assert response.status_code == 404
    assert response.json()["error"] == {
        "message": "unknown database 'nope'",
        "type": "not_found_error",
        "param": "db_id",
        "code": "database_not_found",
    }


async def test_with_keys_the_page_is_open_and_the_schema_is_not(
    db_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SQLENSEMBLE_API_KEYS", KEY)
    backends = Backends(g1=Backend(["SELECT 1"]))
    async with gateway(make_stack(db_root, {"g1": {}}), backends) as client:
        page = await client.get("/")
        refused = await client.get("/v1/databases/schools/schema")
        allowed = await client.get("/v1/databases/schools/schema", headers={"authorization": f"Bearer {KEY}"})
    assert page.status_code == 200
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "missing_api_key"
    assert allowed.status_code == 200 and allowed.json()["id"] == "schools"


def test_every_asset_is_package_data() -> None:
    """An installed gateway (a wheel, the gateway image) serves the same files as this checkout."""
    repo = Path(__file__).resolve().parents[2]
    config = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["sqlensemble.ensemble"]
    for name in ASSETS:
        assert (repo / "ensemble" / "static" / name).is_file(), name
        assert any(fnmatch.fnmatch(f"static/{name}", p) for p in patterns), name
