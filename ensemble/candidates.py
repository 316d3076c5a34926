"""From generator texts to voting candidates, as pure functions.

Each text is reduced to its SQL (``extract_sql``) and checked by the guard; a failed generator
contributes its ``n`` candidates as ``backend_error``. Whatever goes wrong while one text is reduced
stays with that text: its candidate is ``error`` with the reason, and the request goes on with the
rest. Drafts that pass the guard share one execution per normalized SQL; :func:`to_candidates` then
attaches the results and the generator's weight and priority, giving what
:func:`sqlensemble.voting.vote` takes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Literal

from sqlensemble.ensemble.generation import Generation
from sqlensemble.executor import ExecResult
from sqlensemble.extract import extract_sql
from sqlensemble.guard import check_sql
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
    """One sample before execution; ``normalized`` is set exactly when the guard accepted it."""

    generator: GeneratorConfig
    index: int
    raw: str | None
    sql: str | None
    normalized: str | None
    status: DraftStatus
    error: str | None


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
    sql = extract_sql(raw)
    if sql is None:
        return Draft(generator, index, raw, None, None, "no_sql", "no SQL found in the output")
    verdict = check_sql(sql)
    if not verdict.ok:
        return Draft(generator, index, raw, verdict.sql, None, "refused", verdict.reason)
    return Draft(generator, index, raw, verdict.sql, verdict.normalized, "pending", None)


def draft_all(generators: list[GeneratorConfig], generations: list[Generation], n: list[int]) -> list[Draft]:
    """Drafts in generator order, then sample order; a failed generator yields ``n`` backend errors.

    Extraction and the guard parse SQL (about a millisecond a text), and samples often repeat, so each
    distinct text is parsed once.
    """
    drafts: list[Draft] = []
    seen: dict[str, Draft] = {}
    for generator, generation, count in zip(generators, generations, n, strict=True):
        if generation.failed:
            drafts += [
                Draft(generator, i, None, None, None, "backend_error", generation.error) for i in range(count)
            ]
            continue
        for i, text in enumerate(generation.texts):
            if text not in seen:
                seen[text] = draft_sample(generator, i, text)
            drafts.append(replace(seen[text], generator=generator, index=i))
    return drafts


def distinct_statements(drafts: list[Draft]) -> dict[str, str]:
    """Normalized SQL -> the text to execute (the first draft's), one entry per distinct statement.

    >>> from sqlensemble.stack import GeneratorConfig
    >>> g = GeneratorConfig(name="g", base_url="http://h/v1", model="m")
    >>> distinct_statements([draft_sample(g, 0, "select 1"), draft_sample(g, 1, "SELECT 1;")])
    {'SELECT 1': 'select 1'}
    """
    statements: dict[str, str] = {}
    for draft in drafts:
        if draft.normalized is not None and draft.sql is not None:
            statements.setdefault(draft.normalized, draft.sql)
    return statements


def to_candidates(drafts: list[Draft], results: dict[str, ExecResult]) -> list[Candidate]:
    """Voting candidates, one per draft, in the same order."""
    candidates: list[Candidate] = []
    for d in drafts:
        weight, priority = d.generator.weight, d.generator.priority
        if d.normalized is not None:
            result = results[d.normalized]
            candidates.append(
                Candidate(d.generator.name, d.index, d.sql, result.status, result, weight, priority)
            )
        else:
            status = FAILED_STATUS[d.status]
            candidates.append(
                Candidate(d.generator.name, d.index, d.sql, status, None, weight, priority, error=d.error)
            )
    return candidates
