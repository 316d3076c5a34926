"""Bearer-key authentication, OpenAI style: ``Authorization: Bearer KEY``.

The keys come from the environment variable the stack names (``gateway.api_keys_env``, comma-separated)
and are read once when the app is built. No keys configured means the API is open.

The check is an ASGI middleware in front of every ``/v1`` path, so a client without a key learns
nothing else first: not whether its body parses (400), fits (413) or names a real route (404).
The probes (``/health``, ``/ready``) and ``/metrics`` stay open.
"""

from __future__ import annotations

import hmac
import json

from starlette.types import ASGIApp, Receive, Scope, Send

from sqlensemble.ensemble.errors import AuthenticationError, error_body

PROTECTED_PREFIX = "/v1"


def key_matches(given: str, keys: frozenset[str]) -> bool:
    """Constant-time comparison against every key, so timing does not reveal which one nearly matched.

    >>> key_matches("b", frozenset({"a", "b"})), key_matches("c", frozenset({"a"}))
    (True, False)
    """
    found = False
    for key in keys:
        found |= hmac.compare_digest(given.encode(), key.encode())
    return found


def check_authorization(header: str, keys: frozenset[str]) -> AuthenticationError | None:
    """The 401 for an ``Authorization`` header value, or ``None`` when it carries one of ``keys``.

    >>> check_authorization("Bearer k1", frozenset({"k1"})) is None
    True
    >>> check_authorization("Basic k1", frozenset({"k1"})).code, check_authorization("Bearer x", {"k1"}).code
    ('missing_api_key', 'invalid_api_key')
    """
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return AuthenticationError(
            "missing API key: send 'Authorization: Bearer KEY'", code="missing_api_key"
        )
    if not key_matches(token.strip(), frozenset(keys)):
        return AuthenticationError("invalid API key", code="invalid_api_key")
    return None


class ApiKeyMiddleware:
    """401 in the error shape for a ``/v1`` request without a valid key, before the body is read."""

    def __init__(self, app: ASGIApp, keys: frozenset[str]) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if not self.keys or scope["type"] != "http" or not _protected(path):
            await self.app(scope, receive, send)
            return
        raw = dict(scope.get("headers", [])).get(b"authorization", b"")
        error = check_authorization(raw.decode("latin-1"), self.keys)
        if error is None:
            await self.app(scope, receive, send)
            return
        payload = json.dumps(error_body(error)).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            (b"www-authenticate", b"Bearer"),
        ]
        await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


def _protected(path: str) -> bool:
    """``/v1`` and everything under it (``/v1x`` is another route).

    >>> [_protected(p) for p in ("/v1", "/v1/sql", "/v1x", "/health")]
    [True, True, False, False]
    """
    return path == PROTECTED_PREFIX or path.startswith(PROTECTED_PREFIX + "/")
