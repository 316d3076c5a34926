"""Re-vote an evaluation's candidates offline: each generator's first k samples, the gateway's rules.

    python bench/revote.py runs/demo-eval [more run folders] [--k 1 3 5] [--share count presence]
        [--weights UNGROUNDED EMPTY]

Reads ``RUN/results.jsonl`` (written by ``sqlensemble eval``). Every candidate there keeps its group
(``cluster``: the gateway's result equivalence over all of the question's candidates), whether it was
right, its SQL and its row count, which is all a vote over a subset needs. For each k it prints the
vote's EX over the first k samples of every generator, the best generator's first-sample EX and the
best own-majority EX over the same k samples, and the vote's lead over each (issue 16's margins).

``--share`` weighs a group by ``f(s)`` summed over the generators, ``s`` being the share of a
generator's k samples in the group: ``count`` (``f(s) = s``: :func:`sqlensemble.voting.vote` itself,
today's rule, each sample counted at the weight the gateway gave it, so with its grounding
discount), ``presence`` (1 when the generator has a sample there), ``sqrt`` or ``square``. Ties
are broken as the gateway breaks them (more samples, rows before empty, the highest-priority first
sample, the shortest SQL). Weights are taken as equal and priorities in the generators' order, as in
``configs/stack.cpu.yaml``.

``--weights UNGROUNDED EMPTY`` re-weighs every candidate as the gateway would at those discounts
(``gateway.ungrounded_weight`` and ``gateway.empty_weight``) instead of the weight it was recorded with:
1, times the first when it names a value the question does not (its recorded ``ungrounded``), times the
second when its result had no rows. At the discounts the run was served with, this changes nothing.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from sqlensemble.eval.results import RESULTS_FILE, read_results
from sqlensemble.executor import ExecResult
from sqlensemble.voting import Candidate, CandidateStatus, vote

Record = dict[str, Any]
SHARES: dict[str, Callable[[float], float]] = {
    "count": lambda s: s,
    "presence": lambda s: 1.0 if s > 0 else 0.0,
    "sqrt": math.sqrt,
    "square": lambda s: s * s,
}


def read_records(run: Path) -> list[Record]:
    """The run's records as plain dicts (``eval.results.read_results``: an interrupted run's half-written
    last line is left out)."""
    path = run / RESULTS_FILE
    if not path.is_file():
        raise SystemExit(f"revote: no {RESULTS_FILE} in {run} (run `sqlensemble eval --out {run}` first)")
    return [record.model_dump(mode="json") for record in read_results(path)]


def as_candidate(c: Record, priority: int) -> Candidate:
    """A voting candidate standing for a recorded one: its rows are its group's id (none when its result
    was empty), so :func:`vote` groups exactly as the gateway did."""
    status = cast(CandidateStatus, c.get("gateway_status") or c.get("exec_status") or "error")
    if c.get("cluster") is None:
        return Candidate(
            c["generator"],
            c["index"],
            c.get("sql"),
            "error",
            None,
            float(c.get("weight", 1.0)),
            priority,
            "-",
        )
    rows = ((c["cluster"],),) if c.get("row_count") else ()
    result = ExecResult("ok" if rows else "empty", ("group",), rows, False, 0.0, None, c.get("sql") or "")
    weight = float(c.get("weight", 1.0))
    return Candidate(c["generator"], c["index"], c.get("sql"), status, result, weight, priority)


def reweigh(records: list[Record], ungrounded: float, empty: float) -> list[Record]:
    """The records with each candidate's weight set as the gateway sets it at these discounts."""
    out = []
    for r in records:
        candidates = []
        for c in r["candidates"]:
            weight = (ungrounded if c.get("ungrounded") else 1.0) * (
                empty if c.get("gateway_status") == "empty" else 1.0
            )
            candidates.append({**c, "weight": weight})
        out.append({**r, "candidates": candidates})
    return out


def voted_right(cands: list[Record], priority: dict[str, int], share: str) -> bool:
    """Whether the vote over ``cands`` picks a right group."""
    if not cands:
        return False
    if share == "count":
        decision = vote([as_candidate(c, priority[c["generator"]]) for c in cands])
        if decision.status != "ok":
            return False
        return bool(cands[decision.clusters[0].representative]["correct"])
    groups: dict[int, list[int]] = {}
    for p, c in enumerate(cands):
        if c.get("cluster") is not None:
            groups.setdefault(c["cluster"], []).append(p)
    if not groups:
        return False
    drawn = Counter(c["generator"] for c in cands)
    f = SHARES[share]

    def rank(members: list[int]) -> tuple[Any, ...]:
        per = Counter(cands[p]["generator"] for p in members)
        score = sum(f(per[g] / drawn[g]) for g in per)
        return (
            -round(score, 9),
            -len(members),
            not cands[members[0]].get("row_count"),
            min((priority[cands[p]["generator"]], cands[p]["index"]) for p in members),
            min(len((cands[p].get("sql") or "").strip()) for p in members),
            members[0],
        )

    best = min(groups.values(), key=rank)
    return bool(cands[best[0]]["correct"])


def revote(records: list[Record], k: int, shares: list[str]) -> dict[str, float]:
    """EX (%) over the first ``k`` samples per generator: each share's vote, the best first sample and
    the best own majority."""
    generators = [g["generator"] for g in records[0]["generators"]]
    priority = {g: i for i, g in enumerate(generators, start=1)}
    right: Counter[str] = Counter()
    for r in records:
        cands = [c for c in r["candidates"] if c["index"] < k]
        for share in shares:
            right[share] += voted_right(cands, priority, share)
        for g in generators:
            own = [c for c in cands if c["generator"] == g]
            right[f"own:{g}"] += voted_right(own, priority, "count")
            right[f"first:{g}"] += any(c["correct"] for c in own if c["index"] == 0)
    n = len(records)
    out = {share: 100 * right[share] / n for share in shares}
    out["best first"] = max(100 * right[f"first:{g}"] / n for g in generators)
    out["best own"] = max(100 * right[f"own:{g}"] / n for g in generators)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="folders written by sqlensemble eval")
    parser.add_argument("--k", nargs="+", type=int, default=None, help="samples per generator (default 1..n)")
    parser.add_argument("--share", nargs="+", choices=sorted(SHARES), default=["count"])
    parser.add_argument(
        "--weights",
        nargs=2,
        type=float,
        metavar=("UNGROUNDED", "EMPTY"),
        help="re-weigh the candidates at these discounts (each in [0, 1]) instead of their recorded weights",
    )
    args = parser.parse_args(argv)
    if args.weights is not None and not all(0.0 <= w <= 1.0 for w in args.weights):
        parser.error(f"--weights: each discount must be in [0, 1], got {args.weights[0]} {args.weights[1]}")
    for run in args.runs:
        records = read_records(run)
        if args.weights is not None:
            records = reweigh(records, *args.weights)
        if not records:
            print(f"{run}: no answered questions", file=sys.stderr)
            continue
        drawn = 1 + max((c["index"] for r in records for c in r["candidates"]), default=0)
        ks = args.k or list(range(1, drawn + 1))
        print(f"{run} ({len(records)} questions, up to {drawn} samples per generator)")
        for k in ks:
            ex = revote(records, k, args.share)
            votes = "  ".join(
                f"{s} {ex[s]:5.1f} ({ex[s] - ex['best first']:+.1f} / {ex[s] - ex['best own']:+.1f})"
                for s in args.share
            )
            print(f"  k={k:<2} best first {ex['best first']:5.1f}  best own {ex['best own']:5.1f}  {votes}")
    print("(vote EX, then its lead over the best first sample / over the best own majority, in points)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
