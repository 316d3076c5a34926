"""The ``Authorization: Bearer KEY`` header every client here sends: the gateway to its generators, the
evaluator and the latency bench to the gateway. (The gateway's own check of incoming keys is
:mod:`sqlensemble.ensemble.auth`.)"""

from __future__ import annotations


def bearer_headers(key: str | None) -> dict[str, str]:
    """The request headers for an API key; none when there is no key (an open server).

    >>> bearer_headers("k1"), bearer_headers(None), bearer_headers("")
    ({'Authorization': 'Bearer k1'}, {}, {})
    """
    return {"Authorization": f"Bearer {key}"} if key else {}
