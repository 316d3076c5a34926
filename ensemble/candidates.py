"""From generator texts to voting candidates, as pure functions.

Each text is reduced to its SQL (``extract_statement``) and checked by the guard on the parse that
extraction made (each distinct text is parsed once, and the guard's verdict travels to the SQL worker,
which does not guard it again); a failed generator
contributes its ``n`` candidates as ``backend_error``. Whatever goes wrong while one text is reduced
stays with that text: its candidate is ``error`` with the reason, and the request goes on with the
rest. Drafts that pass the guard share one execution per normalized SQL; :func:`to_candidates` then
attaches the results, the generator's weight and priority, and the discounts for a value the question
never names (:mod:`sqlensemble.grounding`) and for a result with no rows, giving what
:func:`sqlensemble.voting.vote` takes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Literal

from sqlensemble.ensemble.generation import Generation
from sqlensemble.executor import ExecResult
from sqlensemble.extract import extract_statement
from sqlensemble.grounding import GroundingText, ValueLiteral, compared_literals, is_grounded
from sqlensemble.guard import GuardResult, check_sql
from sqlensemble.stack import GeneratorConfig
from sqlensemble.voting import Candidate, CandidateStatus

DraftStatus = Literal["pending", "no_sql", "refused", "backend_error", "error"]
# A draft that never reaches the executor keeps its status as the candidate's.
FAILED_STATUS: dict[DraftStatus, CandidateStatus] = {
    "no_sql": "no_sql",
    "refused": "refused",
    "backend_error": "backend_error",
    "error": "error",
}

log = logging.getLogger("sqlensemble.gateway")


@dataclass(frozen=True)
class Draft:
    """One sample before execution; ``normalized`` and ``checked`` (the guard's acceptance) are set
    exactly when the guard accepted it."""

    generator: GeneratorConfig
    index: int
    raw: str | None
    sql: str | None
    normalized: str | None
    status: DraftStatus
    error: str | None
    checked: GuardResult | None = None
    literals: tuple[ValueLiteral, ...] = ()


@dataclass(frozen=True)
class Weighing:
    """What a request's candidate weighs besides its generator's weight: the factor for a candidate that
    compares with a value its text does not name (``source``, from ``grounding.grounding_text``) and the
    factor for one whose result has no rows (1: no discount).

    Each distinct literal is checked once per request: samples repeat their values, and a request's
    candidates are weighed again after every round and once more for the answer's trail.
    """

    source: GroundingText
    ungrounded_weight: float = 1.0
    empty_weight: float = 1.0
    _grounded: dict[ValueLiteral, bool] = field(default_factory=dict, init=False, repr=False, compare=False)

    def missing(self, draft: Draft) -> tuple[str, ...]:
        """The draft's compared values this request's text does not name, as SQL writes them."""
        return tuple(str(v) for v in draft.literals if not self._is_grounded(v))

    def _is_grounded(self, value: ValueLiteral) -> bool:
        known = self._grounded.get(value)
        if known is None:
            known = self._grounded[value] = is_grounded(value, self.source)
        return known

    def factor(self, draft: Draft, result: ExecResult) -> float:
        """The draft's weight factor, given what its SQL returned."""
        factor = self.empty_weight if result.status == "empty" else 1.0
        if self.ungrounded_weight != 1.0 and any(not self._is_grounded(v) for v in draft.literals):
            factor *= self.ungrounded_weight
        return factor


def draft_sample(generator: GeneratorConfig, index: int, raw: str) -> Draft:
    """Extract and guard one generated text.

    A sketch with a stand-in generator:

    >>> from sqlensemble.stack import GeneratorConfig
    >>> g = GeneratorConfig(name="g", base_url="http://h/v1", model="m")
    >>> draft_sample(g, 0, "select  1;\\n```").normalized
    'SELECT 1'
    >>> draft_sample(g, 1, "no idea").status
    'no_sql'
    >>> draft_sample(g, 2, "SELECT load_extension('x')").status
    'refused'
    """
    try:
        return _draft(generator, index, raw)
    except Exception as e:  # a parser bug met by one text must not fail the request
        log.exception("could not process a candidate of %s", generator.name)
        reason = f"could not process this output: {type(e).__name__}"
        return Draft(generator, index, raw, None, None, "error", reason)


def _draft(generator: GeneratorConfig, index: int, raw: str) -> Draft:
    found = extract_statement(raw)
    if found is None:
        return Draft(generator, index, raw, None, None, "no_sql", "no SQL found in the output")
    verdict = check_sql(found.sql, found.tree)
    if not verdict.ok:
        return Draft(generator, index, raw, verdict.sql, None, "refused", verdict.reason)
    literals = compared_literals(found.tree) if found.tree is not None else ()
    return Draft(generator, index, raw, verdict.sql, verdict.normalized, "pending", None, verdict, literals)


def draft_generation(
    generator: GeneratorConfig, generation: Generation, count: int, seen: dict[str, Draft] | None = None
) -> list[Draft]:
    """One generator's drafts in sample order; a failed generator yields ``count`` backend errors.

    Extraction and the guard parse SQL (about a millisecond a text), and samples often repeat, so each
    distinct text is parsed once: ``seen`` (text -> draft) is shared by the generators of a request.
    """
    if generation.failed:
        return [
            Draft(generator, i, None, None, None, "backend_error", generation.error) for i in range(count)
        ]
    seen = {} if seen is None else seen
    drafts: list[Draft] = []
    for i, text in enumerate(generation.texts):
        if text not in seen:
            seen[text] = draft_sample(generator, i, text)
        drafts.append(replace(seen[text], generator=generator, index=i))
    return drafts


def to_candidates(
    drafts: list[Draft], results: dict[str, ExecResult], weighing: Weighing | None = None
) -> list[Candidate]:
    """Voting candidates, one per draft, in the same order; a candidate's weight is its generator's,
    times ``weighing``'s factor for it."""
    candidates: list[Candidate] = []
    for d in drafts:
        weight, priority = d.generator.weight, d.generator.priority
        if d.normalized is not None:
            result = results[d.normalized]
            weight *= weighing.factor(d, result) if weighing is not None else 1.0
            candidates.append(
                Candidate(d.generator.name, d.index, d.sql, result.status, result, weight, priority)
            )
        else:
            status = FAILED_STATUS[d.status]
            candidates.append(
                Candidate(d.generator.name, d.index, d.sql, status, None, weight, priority, error=d.error)
            )
    return candidates
