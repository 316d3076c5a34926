"""How one request draws its candidates: ``full`` (every sample at once) or ``adaptive`` (in rounds).

``full`` is one pipelined round asking every generator for its ``n``. ``adaptive`` (the rules are in
:mod:`sqlensemble.adaptive`) first asks each generator for one sample at ``first_temperature``; after
each generator's candidates have executed the vote is checked, and once it is settled the calls still
outstanding are cancelled; otherwise another round asks for ``round_n`` more per generator, until each
has drawn its ``n``. Samples keep one index sequence per generator across rounds, and the response's
``sampling`` trail lists every round: what was asked, what came back, what was cancelled and why
sampling stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from sqlensemble.adaptive import (
    StopReason,
    next_round,
    remaining_weight,
    stop_reason,
    vote_state,
)
from sqlensemble.ensemble.candidates import Draft, Weighing, to_candidates
from sqlensemble.ensemble.generation import Generation, SamplingRequest
from sqlensemble.ensemble.pipeline import Partial, Pipeline
from sqlensemble.ensemble.protocol import RoundBody, SamplingBody, SamplingPolicyRequest
from sqlensemble.equivalence import Equivalence
from sqlensemble.executor import ExecResult
from sqlensemble.stack import SamplingPolicyConfig
from sqlensemble.voting import Candidate, Decision, vote


@dataclass(frozen=True)
class Drawn:
    """Every candidate a request drew, over all its rounds, the vote over them and the rounds' trail."""

    generations: list[Generation]
    drafts: list[Draft]
    candidates: list[Candidate]
    decision: Decision
    generation_ms: dict[str, float]
    generation_s: float
    execution_ms: float
    voting_ms: float
    trail: SamplingBody


def resolve(config: SamplingPolicyConfig, override: SamplingPolicyRequest | None) -> SamplingPolicyConfig:
    """The stack's policy with a request's overrides applied field by field.

    >>> resolve(SamplingPolicyConfig(), SamplingPolicyRequest(policy="adaptive", threshold=1.0)).threshold
    1.0
    """
    if override is None:
        return config
    return config.model_copy(update=override.model_dump(exclude_none=True))


def _received(generation: Generation) -> int:
    return 0 if generation.failed else len(generation.texts)


async def draw(
    pipeline: Pipeline,
    calls: list[SamplingRequest],
    db_path: Path,
    max_rows: int,
    config: SamplingPolicyConfig,
    equivalence: Equivalence,
    weighing: Weighing | None = None,
) -> Drawn:
    """The request's candidates under ``config``'s policy (``calls`` carry each generator's budget).

    ``full`` is a single round asking for every budget at once, never cut short; ``adaptive`` plans its
    rounds with :func:`~sqlensemble.adaptive.next_round` and stops with
    :func:`~sqlensemble.adaptive.stop_reason`. ``weighing`` discounts candidates that compare with a value
    the question never names or return no rows; a discount only lowers a weight, so the weight still to
    come stays an upper bound and the adaptive stop stays safe.
    """
    adaptive = config.policy == "adaptive"
    by_name = {c.generator.name: c for c in calls}
    budget = {name: c.n for name, c in by_name.items()}
    weights = {name: c.generator.weight for name, c in by_name.items()}
    drawn = dict.fromkeys(budget, 0)
    generations: list[Generation] = []
    drafts: list[Draft] = []
    results: dict[str, ExecResult] = {}
    generation_ms = dict.fromkeys(budget, 0.0)
    rounds: list[RoundBody] = []
    generation_s = execution_ms = voting_ms = 0.0
    n_calls = 0

    while True:
        first = not rounds
        plan = next_round(budget, drawn, first=first, round_n=config.round_n) if adaptive else budget
        round_calls = [
            replace(
                by_name[name],
                n=n,
                temperature=config.first_temperature if adaptive and first else by_name[name].temperature,
            )
            for name, n in plan.items()
        ]
        offsets = dict(drawn)
        planned = {name: drawn[name] + n for name, n in plan.items()}
        decided: list[StopReason] = []

        def renumber(new: list[Draft], offsets: dict[str, int] = offsets) -> list[Draft]:
            return [replace(d, index=d.index + offsets[d.generator.name]) for d in new]

        def settled(
            p: Partial,
            planned: dict[str, int] = planned,
            decided: list[StopReason] = decided,
            prior: list[Draft] = drafts,
        ) -> bool:
            if not p.pending:
                return False  # the round is complete: decided below, with nothing left to cancel
            pending = sum(weights[c.generator.name] * c.n for c in p.pending)
            candidates = to_candidates([*prior, *renumber(p.drafts)], {**results, **p.results}, weighing)
            so_far = sum(c.weight for c in candidates) + pending
            state = vote_state(vote(candidates, equivalence), so_far)
            reason = stop_reason(state, remaining_weight(budget, planned, weights) + pending, config)
            if reason in ("unbeatable", "agreement"):
                decided.append(reason)
                return True
            return False

        outcome = await pipeline.run(
            round_calls, [c.n for c in round_calls], db_path, max_rows, stop=settled if adaptive else None
        )
        n_calls += len(round_calls)
        generation_s += outcome.generation_s
        execution_ms += outcome.execution_ms
        for g in outcome.generations:
            generation_ms[g.generator] += g.elapsed_ms
            # a failed generator is not asked again: its budget is spent
            drawn[g.generator] = budget[g.generator] if g.failed else planned[g.generator]
        generations.extend(outcome.generations)
        drafts.extend(renumber(outcome.drafts))
        results.update(outcome.results)

        started = time.perf_counter()
        candidates = to_candidates(drafts, results, weighing)
        decision = vote(candidates, equivalence)
        voting_ms = round((time.perf_counter() - started) * 1000, 3)
        reason: StopReason | Literal["full"] | None = "full"
        if adaptive:
            state = vote_state(decision, sum(c.weight for c in candidates))
            reason = (
                decided[0]
                if decided
                else stop_reason(state, remaining_weight(budget, drawn, weights), config)
            )
        rounds.append(
            RoundBody(
                round=len(rounds) + 1,
                asked=plan,
                received={g.generator: _received(g) for g in outcome.generations},
                cancelled=outcome.cancelled,
                temperature={c.generator.name: c.temperature for c in round_calls},
                leader_share=round(decision.confidence, 6),
                stop=reason,
            )
        )
        if reason is not None:
            break

    return Drawn(
        generations=generations,
        drafts=drafts,
        candidates=candidates,
        decision=decision,
        generation_ms={name: round(ms, 3) for name, ms in generation_ms.items()},
        generation_s=generation_s,
        execution_ms=round(execution_ms, 3),
        voting_ms=voting_ms,
        trail=SamplingBody(policy=config.policy, calls=n_calls, rounds=rounds),
    )
