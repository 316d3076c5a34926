"""The playground: one static page at ``/`` that asks the gateway's public API from the browser.

    GET /                      the page (HTML; no data in it)
    GET /playground/{asset}    its stylesheet and scripts, shipped in the package (no CDN, no npm)

The page and its assets hold no data, so they are served without a key even when keys are set; the
page asks for a key and sends it as ``Authorization: Bearer`` on every ``/v1`` call, like any client.
A strict Content-Security-Policy keeps it to its own origin: nothing is loaded from anywhere else.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

from sqlensemble.ensemble.errors import NotFoundError

PAGE = "playground.html"
# asset name -> media type. Only these files are ever served.
ASSETS: dict[str, str] = {
    PAGE: "text/html; charset=utf-8",
    "playground.css": "text/css; charset=utf-8",
    "playground.js": "text/javascript; charset=utf-8",
    "sql-highlight.js": "text/javascript; charset=utf-8",
}
HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

playground = APIRouter(include_in_schema=False)


@cache
def read_asset(name: str) -> bytes:
    """The bytes of a shipped asset; :class:`NotFoundError` for any name outside :data:`ASSETS`.

    >>> read_asset("playground.html").startswith(b"<!doctype html>")
    True
    >>> read_asset("../app.py")
    Traceback (most recent call last):
    ...
    sqlensemble.ensemble.errors.NotFoundError: no playground asset '../app.py'
    """
    if name not in ASSETS:
        raise NotFoundError(f"no playground asset {name!r}", param="asset", code="asset_not_found")
    return resources.files("sqlensemble.ensemble").joinpath("static", name).read_bytes()


def asset_response(name: str) -> Response:
    return Response(read_asset(name), media_type=ASSETS[name], headers=HEADERS)


@playground.get("/")
async def page() -> Response:
    return asset_response(PAGE)


@playground.get("/playground/{asset}")
async def asset(asset: str) -> Response:
    return asset_response(asset)
