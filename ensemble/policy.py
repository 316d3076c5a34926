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

from dataclasses import dataclass, replace
from pathlib import Path

from sqlensemble.adaptive import (
    AdaptivePolicy,
    StopReason,
    next_round,
    remaining_weight,
    stop_reason,
    vote_state,
)
from sqlensemble.ensemble.candidates import Draft, to_candidates
from sqlensemble.ensemble.generation import Generation, SamplingRequest
from sqlensemble.ensemble.pipeline import Partial, Pipeline
from sqlensemble.ensemble.protocol import RoundBody, SamplingBody, SamplingPolicyRequest
from sqlensemble.equivalence import Equivalence
from sqlensemble.executor import ExecResult
from sqlensemble.stack import SamplingPolicyConfig
from sqlensemble.voting import vote


@dataclass(frozen=True)
class Drawn:
    """Every candidate a request drew, over all its rounds, and the trail of the rounds."""

    generations: list[Generation]
    drafts: list[Draft]
    results: dict[str, ExecResult]
    generation_ms: dict[str, float]
    generation_s: float
    execution_ms: float
    trail: SamplingBody


def resolve(config: SamplingPolicyConfig, override: SamplingPolicyRequest | None) -> SamplingPolicyConfig:
    """The stack's policy with a request's overrides applied field by field.

    >>> resolve(SamplingPolicyConfig(), SamplingPolicyRequest(policy="adaptive", threshold=1.0)).threshold
    1.0
    """
    if override is None:
        return config
    return config.model_copy(update=override.model_dump(exclude_none=True))


def _leader_share(drafts: list[Draft], results: dict[str, ExecResult], equivalence: Equivalence) -> float:
    candidates = to_candidates(drafts, results)
    return round(vote(candidates, equivalence).confidence, 6) if candidates else 0.0


def _received(generation: Generation) -> int:
    return 0 if generation.failed else len(generation.texts)


async def draw(
    pipeline: Pipeline,
    calls: list[SamplingRequest],
    db_path: Path,
    max_rows: int,
    config: SamplingPolicyConfig,
    equivalence: Equivalence,
) -> Drawn:
    """The request's candidates under ``config``'s policy (``calls`` carry each generator's budget)."""
    if config.policy == "full":
        outcome = await pipeline.run(calls, [c.n for c in calls], db_path, max_rows)
        round_ = RoundBody(
            round=1,
            asked={c.generator.name: c.n for c in calls},
            received={g.generator: _received(g) for g in outcome.generations},
            cancelled=[],
            temperature={c.generator.name: c.temperature for c in calls},
            leader_share=_leader_share(outcome.drafts, outcome.results, equivalence),
            stop="full",
        )
        return Drawn(
            generations=outcome.generations,
            drafts=outcome.drafts,
            results=outcome.results,
            generation_ms={g.generator: round(g.elapsed_ms, 3) for g in outcome.generations},
            generation_s=outcome.generation_s,
            execution_ms=outcome.execution_ms,
            trail=SamplingBody(policy="full", calls=len(calls), rounds=[round_]),
        )
    return await _adaptive(pipeline, calls, db_path, max_rows, config, equivalence)


async def _adaptive(
    pipeline: Pipeline,
    calls: list[SamplingRequest],
    db_path: Path,
    max_rows: int,
    config: SamplingPolicyConfig,
    equivalence: Equivalence,
) -> Drawn:
    policy = AdaptivePolicy(config.threshold, config.min_votes, config.first_temperature, config.round_n)
    by_name = {c.generator.name: c for c in calls}
    budget = {name: c.n for name, c in by_name.items()}
    weights = {name: c.generator.weight for name, c in by_name.items()}
    drawn = dict.fromkeys(budget, 0)
    generations: list[Generation] = []
    drafts: list[Draft] = []
    results: dict[str, ExecResult] = {}
    generation_ms = dict.fromkeys(budget, 0.0)
    rounds: list[RoundBody] = []
    generation_s = execution_ms = 0.0
    n_calls = 0

    while True:
        plan = next_round(budget, drawn, first=not rounds, round_n=policy.round_n)
        if not plan:
            break
        first = not rounds
        round_calls = [
            replace(
                by_name[name],
                n=n,
                temperature=policy.first_temperature if first else by_name[name].temperature,
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
            candidates = to_candidates([*prior, *renumber(p.drafts)], {**results, **p.results})
            so_far = sum(c.weight for c in candidates) + pending
            state = vote_state(vote(candidates, equivalence), so_far)
            reason = stop_reason(state, remaining_weight(budget, planned, weights) + pending, policy)
            if reason in ("unbeatable", "agreement"):
                decided.append(reason)
                return True
            return False

        outcome = await pipeline.run(round_calls, [c.n for c in round_calls], db_path, max_rows, stop=settled)
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

        candidates = to_candidates(drafts, results)
        decision = vote(candidates, equivalence)
        state = vote_state(decision, sum(c.weight for c in candidates))
        reason = (
            decided[0] if decided else stop_reason(state, remaining_weight(budget, drawn, weights), policy)
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
        results=results,
        generation_ms={name: round(ms, 3) for name, ms in generation_ms.items() if ms or name in drawn},
        generation_s=generation_s,
        execution_ms=round(execution_ms, 3),
        trail=SamplingBody(policy="adaptive", calls=n_calls, rounds=rounds),
    )
