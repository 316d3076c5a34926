"""Bearer-key authentication, OpenAI style: ``Authorization: Bearer KEY``.

The keys come from the environment variable the stack names (``gateway.api_keys_env``, comma-separated)
and are read once when the app is built. No keys configured means the API is open.
"""

from __future__ import annotations

import hmac

from fastapi import Request

from sqlensemble.ensemble.errors import AuthenticationError


def key_matches(given: str, keys: frozenset[str]) -> bool:
    """Constant-time comparison against every key, so timing does not reveal which one nearly matched.

    >>> key_matches("b", frozenset({"a", "b"})), key_matches("c", frozenset({"a"}))
    (True, False)
    """
    found = False
    for key in keys:
        found |= hmac.compare_digest(given.encode(), key.encode())
    return found


async def require_api_key(request: Request) -> None:
    """FastAPI dependency for the ``/v1`` routes; raises :class:`AuthenticationError` (401)."""
    keys: frozenset[str] = request.app.state.api_keys
    if not keys:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("missing API key: send 'Authorization: Bearer KEY'", code="missing_api_key")
    if not key_matches(token.strip(), keys):
        raise AuthenticationError("invalid API key", code="invalid_api_key")
