"""What a backend's words may become before a client sees them: short, printable, no secrets.

A generator's error body is untrusted text (an HTML error page, a stack trace, an echo of the request
with its ``Authorization`` header). The gateway quotes it to explain a failure, in the 503 "every
generator failed" message and in ``candidates[].error``, so it passes :func:`snippet` first: the
``message`` of an OpenAI-style error body (or the text with tags removed), control characters dropped,
whitespace collapsed, keys and bearer tokens redacted, and at most ``limit`` characters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

SNIPPET_CHARS = 160  # the most of one backend's words a client sees

_TAG = re.compile(r"<[^>]{0,200}>")
_SECRETS = (
    re.compile(r"(?i)\b(bearer|basic|token|api[_-]?key|authorization|password|secret)(\s*[:=]?\s*)\S+"),
    re.compile(r"\b(sk|pk|rk|hf|gh[pousr])[-_][A-Za-z0-9_-]{6,}"),
)
REDACTED = "[redacted]"


def error_text(body: bytes) -> str:
    """The human part of an error body: ``error.message``/``message``/``detail`` of a JSON body, else
    the body's text.

    >>> error_text(b'{"error": {"message": "engine exploded", "type": "internal"}}')
    'engine exploded'
    >>> error_text(b'{"detail": "Not Found"}'), error_text(b"plain words")
    ('Not Found', 'plain words')
    """
    text = body.decode("utf-8", "replace")
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return text
    if isinstance(parsed, dict):
        error = parsed.get("error")
        for candidate in (
            error.get("message") if isinstance(error, dict) else error,
            parsed.get("message"),
            parsed.get("detail"),
        ):
            if isinstance(candidate, str) and candidate.strip():
                return candidate
    return text


def snippet(text: str, *, limit: int = SNIPPET_CHARS, secrets: Iterable[str] = ()) -> str:
    """``text`` made safe to quote: tags and control characters gone, secrets redacted, capped.

    >>> snippet("<html><h1>502</h1>\\n\\x1b[31mBad\\tGateway</html>")
    '502 [31mBad Gateway'
    >>> snippet("auth failed for Authorization: Bearer sk-abcdef123456 (key sk-live_0123456789)")
    'auth failed for Authorization: [redacted] [redacted] (key [redacted])'
    >>> snippet("x" * 500, limit=10)
    'xxxxxxxxx…'
    >>> snippet("the key was hunter2-longer", secrets=["hunter2-longer"])
    'the key was [redacted]'
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = _TAG.sub(" ", text[: limit * 20])
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates out
    for pattern in _SECRETS:
        text = pattern.sub(
            lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}" if m.lastindex == 2 else REDACTED, text
        )
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
