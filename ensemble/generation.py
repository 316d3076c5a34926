"""Sampling candidates from the generators: one OpenAI ``/chat/completions`` call per generator.

Each call asks for ``n`` samples of the same prompt, so the engine shares the prompt's prefill across
them. A call never raises: an HTTP error, a timeout, a refused connection, an answer above the size cap
or a body that is not a chat completion comes back as a :class:`Generation` with ``error`` set, and
costs only that generator's candidates.

A backend is untrusted, so every call is bounded:

- time: ``timeout_s`` is a deadline for the whole call (connect, headers and every byte of the body),
  not per read, so a backend that trickles one byte a second cannot hold a request;
- size: the body is asked for uncompressed, streamed and dropped past :attr:`ResponseLimits.max_bytes`
  (counted after decompression, should a backend compress anyway), and each sample's text is cut to
  :attr:`ResponseLimits.max_text_chars` before it is parsed for SQL or echoed in ``candidates[].raw``,
  and only the ``n`` samples asked for are kept, however many choices come back;
- words: an error body is read up to :data:`ERROR_BODY_BYTES` and quoted only through
  :func:`sqlensemble.ensemble.redaction.snippet`.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
import httpx

from sqlensemble.bearer import bearer_headers
from sqlensemble.ensemble.redaction import error_text, snippet
from sqlensemble.stack import GatewayConfig, GeneratorConfig

FailureKind = Literal["timeout", "connect", "http_status", "bad_response", "too_large"]
ERROR_BODY_BYTES = 4096  # the most of a backend's error body that is read
MODEL_LIST_BYTES = 1024 * 1024  # the most of a GET /models answer that is read


@dataclass(frozen=True)
class Generation:
    """What one generator returned: its texts in choice order, or the reason it returned none."""

    generator: str
    texts: tuple[str, ...]
    prompt_tokens: int
    completion_tokens: int
    elapsed_ms: float
    error: str | None = None
    failure: FailureKind | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass(frozen=True)
class SamplingRequest:
    """One generator's call: its prompt and the sampling knobs after request overrides."""

    generator: GeneratorConfig
    messages: list[dict[str, str]]
    n: int
    temperature: float


@dataclass(frozen=True)
class ResponseLimits:
    """How much of a backend's answer the gateway reads (bytes) and keeps per sample (characters)."""

    max_bytes: int = 4 * 1024 * 1024
    max_text_chars: int = 16384

    @classmethod
    def of(cls, gateway: GatewayConfig) -> ResponseLimits:
        return cls(gateway.max_backend_bytes, gateway.max_completion_chars)


class BadResponseError(ValueError):
    """A backend answered 2xx with a body that is not a chat completion."""


class TooLargeError(Exception):
    """A backend's body passed the byte cap."""


async def read_capped(response: httpx.Response, max_bytes: int, *, truncate: bool = False) -> bytes:
    """The body, at most ``max_bytes`` of it (after decompression): :class:`TooLargeError` past the cap,
    or, with ``truncate``, the first ``max_bytes``. A declared ``Content-Length`` above the cap is
    refused before any byte is read."""
    declared = response.headers.get("content-length", "")
    if not truncate and declared.isdigit() and int(declared) > max_bytes:
        raise TooLargeError(f"declared {int(declared)} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            if truncate:
                break
            raise TooLargeError(f"more than {max_bytes} bytes")
    return b"".join(chunks)[:max_bytes]


def chat_payload(request: SamplingRequest) -> dict[str, Any]:
    """The OpenAI chat-completions body for one generator."""
    sampling = request.generator.sampling
    payload: dict[str, Any] = {
        "model": request.generator.model,
        "messages": request.messages,
        "n": request.n,
        "temperature": request.temperature,
        "top_p": sampling.top_p,
        "max_tokens": sampling.max_tokens,
        # Sent every time: engines run with --generation-config vllm, so nothing the checkpoint's
        # generation_config.json says fills a field left out.
        "top_k": sampling.top_k,
        "repetition_penalty": sampling.repetition_penalty,
    }
    if sampling.seed is not None:
        payload["seed"] = sampling.seed
    return payload


def parse_completion(body: Any) -> tuple[tuple[str, ...], int, int]:
    """Texts (in choice order), prompt tokens and completion tokens of a chat-completion body.

    >>> parse_completion({"choices": [{"index": 1, "message": {"content": "b"}},
    ...                               {"index": 0, "message": {"content": "a"}}],
    ...                   "usage": {"prompt_tokens": 5, "completion_tokens": 2}})
    (('a', 'b'), 5, 2)
    """
    if not isinstance(body, dict) or not isinstance(body.get("choices"), list) or not body["choices"]:
        raise BadResponseError("no choices in the response")
    indexed: list[tuple[int, str]] = []
    for position, choice in enumerate(body["choices"]):
        message = choice.get("message") if isinstance(choice, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if content is not None and not isinstance(content, str):
            raise BadResponseError(f"choice {position} has non-text content")
        index = choice.get("index", position) if isinstance(choice, dict) else position
        indexed.append((index if isinstance(index, int) else position, content or ""))
    usage = body.get("usage")
    if not isinstance(usage, dict):
        usage = {}
    prompt = usage.get("prompt_tokens") or 0
    completion = usage.get("completion_tokens") or 0
    return tuple(text for _, text in sorted(indexed)), int(prompt), int(completion)


def clean(texts: tuple[str, ...], max_chars: int) -> tuple[str, ...]:
    """Each text cut to ``max_chars`` characters, with what cannot be encoded (a lone surrogate from a
    ``"\\udfff"`` escape, which would break the response's UTF-8) replaced by ``?``.

    >>> clean(("SELECT 1", "x" * 10, "a" + chr(0xDFFF)), 4)
    ('SELE', 'xxxx', 'a?')
    """
    return tuple(t[:max_chars].encode("utf-8", "replace").decode("utf-8") for t in texts)


def timed_out(error: Exception) -> bool:
    """Whether a timeout exception means no answer in time. The aiohttp transport (the gateway's real
    one) reports a refused or dropped connection as ``httpx.ConnectTimeout``; its cause tells them apart.

    >>> timed_out(httpx.ReadTimeout("slow")), timed_out(TimeoutError())
    (True, True)
    >>> refused = httpx.ConnectTimeout("refused")
    >>> refused.__cause__ = aiohttp.ClientConnectionError("refused")
    >>> timed_out(refused)
    False
    """
    cause = error.__cause__
    return not (isinstance(cause, aiohttp.ClientError) and not isinstance(cause, TimeoutError))


async def sample(
    client: httpx.AsyncClient, request: SamplingRequest, limits: ResponseLimits = ResponseLimits()
) -> Generation:
    """Call one generator within its ``timeout_s`` (the whole call); every failure is a value."""
    gen = request.generator
    key = gen.api_key()
    headers = bearer_headers(key)
    # identity: a compressed answer could expand far past the byte cap between two checks.
    headers |= {"Content-Type": "application/json", "Accept-Encoding": "identity"}
    # ensure_ascii: text the gateway cannot encode (a lone surrogate) is escaped, never an exception.
    content = json.dumps(chat_payload(request), ensure_ascii=True).encode("ascii")
    start = time.perf_counter()

    def failed(kind: FailureKind, message: str) -> Generation:
        elapsed = (time.perf_counter() - start) * 1000
        return Generation(gen.name, (), 0, 0, elapsed, f"{gen.name}: {message}", kind)

    def quoted(text: str) -> str:
        return snippet(text, secrets=[key] if key else [])

    try:
        async with asyncio.timeout(gen.timeout_s):
            async with client.stream(
                "POST",
                f"{gen.base_url}/chat/completions",
                content=content,
                headers=headers,
                timeout=gen.timeout_s,
            ) as response:
                if response.status_code >= 400:
                    body = await read_capped(response, ERROR_BODY_BYTES, truncate=True)
                    return failed("http_status", f"HTTP {response.status_code}: {quoted(error_text(body))}")
                body = await read_capped(response, limits.max_bytes)
    except (TimeoutError, httpx.TimeoutException) as e:
        if not timed_out(e):
            return failed("connect", f"request failed ({type(e.__cause__).__name__}: {quoted(str(e))})")
        return failed("timeout", f"no answer within {gen.timeout_s:g} s")
    except TooLargeError as e:
        return failed("too_large", f"answer above the {limits.max_bytes}-byte cap ({e})")
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as e:  # refused, reset, protocol errors
        detail = quoted(str(e))
        return failed("connect", f"request failed ({type(e).__name__}{': ' + detail if detail else ''})")
    try:
        texts, prompt_tokens, completion_tokens = parse_completion(json.loads(body))
    except (ValueError, TypeError, AttributeError, OverflowError, RecursionError) as e:
        # JSONDecodeError and UnicodeDecodeError are ValueErrors; a nesting bomb is a RecursionError.
        return failed("bad_response", f"not a chat completion ({quoted(str(e))})")
    elapsed = (time.perf_counter() - start) * 1000
    # At most the n samples asked for: extra choices would pass gateway.max_candidates downstream.
    kept = clean(texts[: request.n], limits.max_text_chars)
    return Generation(gen.name, kept, prompt_tokens, completion_tokens, elapsed)


async def sample_all(
    client: httpx.AsyncClient, requests: list[SamplingRequest], limits: ResponseLimits = ResponseLimits()
) -> list[Generation]:
    """All generators at once; the results are in the order of ``requests``."""
    return list(await asyncio.gather(*(sample(client, r, limits) for r in requests)))


async def probe(client: httpx.AsyncClient, gen: GeneratorConfig, timeout_s: float) -> dict[str, Any]:
    """``GET {base_url}/models`` for the readiness check: reachable, and serving ``gen.model``; bounded
    like :func:`sample` (one deadline for the whole call, :data:`MODEL_LIST_BYTES` at most)."""
    key = gen.api_key()
    headers = bearer_headers(key)

    def not_ready(reason: str) -> dict[str, Any]:
        return {"ready": False, "error": snippet(reason, secrets=[key] if key else [])}

    try:
        async with asyncio.timeout(timeout_s):
            async with client.stream(
                "GET", f"{gen.base_url}/models", headers=headers, timeout=timeout_s
            ) as r:
                if r.status_code >= 400:
                    return not_ready(f"HTTP {r.status_code}")
                body = await read_capped(r, MODEL_LIST_BYTES)
    except (TimeoutError, httpx.TimeoutException) as e:
        if not timed_out(e):
            return not_ready(f"{type(e.__cause__).__name__}: {e}")
        return not_ready(f"no answer within {timeout_s:g} s")
    except TooLargeError:
        return not_ready(f"the model list is above {MODEL_LIST_BYTES} bytes")
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as e:
        return not_ready(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__)
    try:
        served = {m.get("id") for m in json.loads(body).get("data", []) if isinstance(m, dict)}
    except (ValueError, AttributeError, TypeError, RecursionError):
        return not_ready("GET /models did not return a model list")
    if gen.model not in served:
        serving = ", ".join(sorted(map(str, served)))
        return not_ready(f"model {gen.model!r} not served (serving: {serving})")
    return {"ready": True, "error": None}
