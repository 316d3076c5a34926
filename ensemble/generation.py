"""Sampling candidates from the generators: one OpenAI ``/chat/completions`` call per generator.

Each call asks for ``n`` samples of the same prompt, so the engine shares the prompt's prefill across
them. A call never raises: an HTTP error, a timeout, a refused connection or a body that is not a chat
completion comes back as a :class:`Generation` with ``error`` set, and costs only that generator's
candidates.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from sqlensemble.bearer import bearer_headers
from sqlensemble.stack import GeneratorConfig

FailureKind = Literal["timeout", "connect", "http_status", "bad_response"]
ERROR_BODY_CHARS = 200  # how much of a backend's error body a message quotes


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


class BadResponseError(ValueError):
    """A backend answered 2xx with a body that is not a chat completion."""


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


async def sample(client: httpx.AsyncClient, request: SamplingRequest) -> Generation:
    """Call one generator; every failure becomes a :class:`Generation` with ``error`` set."""
    gen = request.generator
    headers = bearer_headers(gen.api_key())
    start = time.perf_counter()

    def failed(kind: FailureKind, message: str) -> Generation:
        elapsed = (time.perf_counter() - start) * 1000
        return Generation(gen.name, (), 0, 0, elapsed, f"{gen.name}: {message}", kind)

    try:
        response = await client.post(
            f"{gen.base_url}/chat/completions",
            json=chat_payload(request),
            headers=headers,
            timeout=gen.timeout_s,
        )
    except httpx.TimeoutException:
        return failed("timeout", f"no answer within {gen.timeout_s:g} s")
    except httpx.HTTPError as e:  # connection refused, reset, protocol errors
        return failed("connect", f"request failed ({type(e).__name__}: {e})")
    if response.status_code >= 400:
        snippet = " ".join(response.text[:ERROR_BODY_CHARS].split())
        return failed("http_status", f"HTTP {response.status_code}: {snippet}")
    try:
        texts, prompt_tokens, completion_tokens = parse_completion(response.json())
    except (ValueError, TypeError, AttributeError) as e:  # JSONDecodeError is a ValueError
        return failed("bad_response", f"not a chat completion ({e})")
    elapsed = (time.perf_counter() - start) * 1000
    return Generation(gen.name, texts, prompt_tokens, completion_tokens, elapsed)


async def sample_all(client: httpx.AsyncClient, requests: list[SamplingRequest]) -> list[Generation]:
    """All generators at once; the results are in the order of ``requests``."""
    return list(await asyncio.gather(*(sample(client, r) for r in requests)))


async def probe(client: httpx.AsyncClient, gen: GeneratorConfig, timeout_s: float) -> dict[str, Any]:
    """``GET {base_url}/models`` for the readiness check: reachable, and serving ``gen.model``."""
    headers = bearer_headers(gen.api_key())
    try:
        response = await client.get(f"{gen.base_url}/models", headers=headers, timeout=timeout_s)
    except httpx.HTTPError as e:
        return {"ready": False, "error": f"{type(e).__name__}: {e}" if str(e) else type(e).__name__}
    if response.status_code >= 400:
        return {"ready": False, "error": f"HTTP {response.status_code}"}
    try:
        served = {m.get("id") for m in response.json().get("data", []) if isinstance(m, dict)}
    except (ValueError, AttributeError):
        return {"ready": False, "error": "GET /models did not return a model list"}
    if gen.model not in served:
        serving = ", ".join(sorted(map(str, served)))
        return {"ready": False, "error": f"model {gen.model!r} not served (serving: {serving})"}
    return {"ready": True, "error": None}
