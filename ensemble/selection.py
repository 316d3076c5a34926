"""Asking the selection model which of the vote's groups answers the question (stack ``selection``).

The vote decides first. The selector is consulted only with ``mode: model``, when the vote produced at
least two groups and its confidence is below ``below_confidence``; it is one greedy call of at most
``max_tokens`` tokens within ``timeout_s``, through the same bounded client as the generators. Whatever
goes wrong (no answer in time, an HTTP error, a text that is not one valid label) leaves the vote's
answer, and the trail (:class:`~sqlensemble.ensemble.protocol.SelectionBody`) says what happened.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from sqlensemble.ensemble.generation import ResponseLimits, SamplingRequest, sample
from sqlensemble.ensemble.protocol import SelectionBody
from sqlensemble.executor import json_value
from sqlensemble.selection import (
    LABELS,
    MAX_GROUPS,
    PREVIEW_ROWS,
    Group,
    build_selector_messages,
    display_order,
    order_key,
    parse_label,
)
from sqlensemble.stack import SelectionConfig
from sqlensemble.voting import Candidate, Cluster, Decision

ANSWER_CHARS = 64


@dataclass(frozen=True)
class Selected:
    """The cluster that answers (``None``: every candidate failed) and the trail of how it was chosen."""

    cluster: int | None
    trail: SelectionBody


def group_of(cluster: Cluster, candidates: Sequence[Candidate]) -> Group:
    """A cluster as the selector sees it: its representative's SQL and first rows, its vote count."""
    answer = candidates[cluster.representative]
    result = answer.result
    rows = result.rows if result is not None else ()
    return Group(
        sql=answer.sql or "",
        columns=tuple(result.columns) if result is not None else (),
        rows=tuple(tuple(json_value(v) for v in row) for row in rows[:PREVIEW_ROWS]),
        row_count=len(rows),
        votes=cluster.size,
    )


def consult_reason(decision: Decision, config: SelectionConfig, mode: str) -> str | None:
    """Why the selector is not asked (``None``: it is).

    >>> from sqlensemble.voting import Candidate, vote
    >>> unanimous = vote([Candidate("a", 0, None, "no_sql", None)])
    >>> consult_reason(unanimous, SelectionConfig(), "vote")
    'selection.mode is vote'
    >>> consult_reason(unanimous, SelectionConfig(), "model")  # a request asks, the stack serves none
    'no selector is served (selection.base_url is not set)'
    """
    if mode != "model":
        return "selection.mode is vote"
    if config.base_url is None:
        return "no selector is served (selection.base_url is not set)"
    if decision.status != "ok":
        return "every candidate failed"
    if len(decision.clusters) < 2:
        return "one group: nothing to choose"
    if decision.confidence >= config.below_confidence:
        return f"vote confidence {decision.confidence:.2f} >= below_confidence {config.below_confidence:g}"
    return None


async def choose(
    client: httpx.AsyncClient,
    config: SelectionConfig,
    mode: str,
    decision: Decision,
    candidates: Sequence[Candidate],
    *,
    db_id: str,
    question: str,
    evidence: str,
    schema_text: str | None,
    limits: ResponseLimits,
) -> Selected:
    """The answering cluster: the vote's, or the selector's pick when it is consulted and answers."""
    vote_cluster = decision.cluster
    vote_sql = decision.winner.sql if decision.status == "ok" else None

    def trail(reason: str, **fields: object) -> SelectionBody:
        return SelectionBody.model_validate(
            {
                "mode": mode,
                "consulted": False,
                "reason": reason,
                "answered_by": "vote",
                "vote_cluster": vote_cluster,
                "vote_sql": vote_sql,
                "selector_cluster": None,
                **fields,
            }
        )

    reason = consult_reason(decision, config, mode)
    if reason is not None or schema_text is None:
        return Selected(vote_cluster, trail(reason or "no schema text"))
    shown = decision.clusters[:MAX_GROUPS]
    groups = [group_of(c, candidates) for c in shown]
    order = display_order(len(groups), order_key(db_id, question))
    labels = {LABELS[i]: shown[position].id for i, position in enumerate(order)}
    messages = build_selector_messages(config.prompt.dialect, schema_text, question, evidence, groups, order)
    backend = config.as_backend()
    started = time.perf_counter()
    generation = await sample(client, SamplingRequest(backend, messages, 1, 0.0), limits)
    elapsed = round((time.perf_counter() - started) * 1000, 3)
    consulted = {"consulted": True, "labels": labels, "elapsed_ms": elapsed}
    if generation.failed:
        return Selected(vote_cluster, trail(f"selector failed: {generation.error}", **consulted))
    text = generation.texts[0] if generation.texts else ""
    answer = text[:ANSWER_CHARS]
    position = parse_label(text, len(groups))
    if position is None:
        return Selected(
            vote_cluster, trail("the selector's answer is not one label", answer=answer, **consulted)
        )
    picked = shown[order[position]].id
    verdict = "agreed with the vote" if picked == vote_cluster else "overruled the vote"
    body = trail(
        f"selector {verdict}",
        answered_by="selector",
        selector_cluster=picked,
        answer=answer,
        **consulted,
    )
    return Selected(picked, body)
