"""Adaptive sampling: draw candidates in rounds and stop as soon as more samples could not change much.

Self-consistency pays for every sample whether or not the answer is already clear. Adaptive-Consistency
(Aggarwal et al., EMNLP 2023) stops sampling once the majority answer is stable under a posterior over
the answer distribution; Early-Stopping Self-Consistency (Li et al., ICLR 2024) stops when a window of
samples agrees. Here the unit is a *round*: one request to every generator that still has budget, and
the rule is checked on the weighted execution vote after each round:

- ``unbeatable``: the leading group's lead over the runner-up is larger than the weight every sample
  still in the budget could add, so drawing them all could not change the winner (exact, not a guess);
- ``agreement``: the leading group holds at least ``threshold`` of the weight drawn so far, with at
  least ``min_votes`` successful candidates behind it (the Early-Stopping rule over a round);
- ``budget``: every generator has drawn its ``n``.

The first round asks each generator for one sample at ``first_temperature`` (near-greedy: the single
most likely query, the seed's own way of scoring a generator); later rounds draw ``round_n`` more at the
generator's own temperature.

>>> p = SamplingPolicyConfig(policy="adaptive", threshold=0.75)
>>> stop_reason(VoteState(lead=3, runner_up=1, drawn=4, votes=3), remaining=8, policy=p)
'agreement'
>>> stop_reason(VoteState(lead=2, runner_up=1, drawn=4, votes=3), remaining=8, policy=p) is None
True
>>> stop_reason(VoteState(lead=6, runner_up=1, drawn=8, votes=7), remaining=4, policy=p)
'unbeatable'
>>> stop_reason(VoteState(lead=0, runner_up=0, drawn=4, votes=0), remaining=0, policy=p)
'budget'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from sqlensemble.stack import SamplingPolicyConfig
from sqlensemble.voting import Decision

StopReason = Literal["unbeatable", "agreement", "budget"]
EPSILON = 1e-9


@dataclass(frozen=True)
class VoteState:
    """What the vote over the candidates drawn so far says: weights of the two leading groups, the weight
    of every candidate drawn (failed ones included) and how many successful candidates the leader has."""

    lead: float
    runner_up: float
    drawn: float
    votes: int


def vote_state(decision: Decision, drawn: float) -> VoteState:
    """The state of a :func:`sqlensemble.voting.vote` decision over candidates of total weight ``drawn``."""
    if decision.status != "ok" or not decision.clusters:
        return VoteState(0.0, 0.0, drawn, 0)
    lead = decision.clusters[0]
    runner_up = decision.clusters[1].weight if len(decision.clusters) > 1 else 0.0
    return VoteState(lead.weight, runner_up, drawn, lead.size)


def stop_reason(state: VoteState, remaining: float, policy: SamplingPolicyConfig) -> StopReason | None:
    """Why sampling stops now, or ``None`` to draw another round; ``remaining`` is the weight of every
    sample still in the budget."""
    if state.votes > 0 and state.lead - state.runner_up > remaining + EPSILON:
        return "unbeatable"
    if (
        state.votes >= policy.min_votes
        and state.drawn > 0
        and state.lead / state.drawn >= policy.threshold - EPSILON
    ):
        return "agreement"
    if remaining <= EPSILON:
        return "budget"
    return None


def next_round(
    budget: Mapping[str, int], drawn: Mapping[str, int], first: bool, round_n: int
) -> dict[str, int]:
    """Samples to ask each generator for in the next round (generators without budget left are absent).

    >>> next_round({"a": 3, "b": 1}, {"a": 0, "b": 0}, first=True, round_n=2)
    {'a': 1, 'b': 1}
    >>> next_round({"a": 3, "b": 1}, {"a": 1, "b": 1}, first=False, round_n=2)
    {'a': 2}
    """
    out = {}
    for name, n in budget.items():
        left = n - drawn.get(name, 0)
        if left > 0:
            out[name] = min(left, 1 if first else round_n)
    return out


def remaining_weight(
    budget: Mapping[str, int], drawn: Mapping[str, int], weights: Mapping[str, float]
) -> float:
    """The vote weight of every sample still in the budget.

    >>> remaining_weight({"a": 3, "b": 2}, {"a": 1, "b": 2}, {"a": 1.0, "b": 2.0})
    2.0
    """
    return sum(weights[name] * max(0, n - drawn.get(name, 0)) for name, n in budget.items())
