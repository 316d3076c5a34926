"""Score a selection model on an evaluation's candidates without serving it.

    python bench/selector_offline.py --results runs/sel-eval-1/results.jsonl \\
        --model runs/cpu-tiny/merged/selector --data data/synth/dev/dev.json \\
        --db-root data/synth/dev/dev_databases [--below-confidence 0.5]

For every answered question whose candidates form two groups or more (and whose vote confidence is below
``--below-confidence``) it builds the prompt the gateway would send (``sqlensemble.selection``, the same
groups, order and schema text) and takes the model's most likely label (transformers, on the CPU). It
prints EX of the vote and of vote + selector over the same questions, their paired bootstrap difference,
and how often the selector was asked, overruled the vote, and was right or wrong when it did. The
gateway asks the same model greedily, so where the first token it writes is a label the picks agree;
this makes trying a selector recipe a matter of seconds instead of a served evaluation.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sqlensemble.bird import load_examples
from sqlensemble.catalog import Catalog
from sqlensemble.eval.bootstrap import paired_bootstrap
from sqlensemble.eval.results import read_results
from sqlensemble.selection import LABELS, build_selector_messages, display_order, order_key
from sqlensemble.train.selector import record_groups


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, required=True, help="an evaluation's results.jsonl")
    parser.add_argument("--model", required=True, help="the merged selector (a folder)")
    parser.add_argument("--data", type=Path, required=True, help="the evaluated BIRD file (for evidence)")
    parser.add_argument("--db-root", type=Path, required=True)
    parser.add_argument("--below-confidence", type=float, default=1.0)
    parser.add_argument("--schema-style", default="mschema")
    parser.add_argument("--max-examples", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(args.threads)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model).eval()
    label_ids = [tokenizer.encode(label, add_special_tokens=False)[0] for label in LABELS]
    evidence = {str(e.question_id): e.evidence for e in load_examples(args.data, args.db_root)}
    catalog = Catalog(args.db_root)

    vote: list[bool] = []
    chosen: list[bool] = []
    asked = overruled = fixed = broke = 0
    for record in sorted(read_results(args.results), key=lambda r: r.position):
        groups, right = record_groups(record)
        vote_right = bool(right) and right[0]
        final = vote_right
        confidence = record.clusters[0].size / len(record.candidates) if record.clusters else 1.0
        if len(groups) >= 2 and confidence < args.below_confidence:
            asked += 1
            order = display_order(len(groups), order_key(record.db_id, record.question))
            schema = catalog.schema_text(record.db_id, args.schema_style, args.max_examples)  # type: ignore[arg-type]
            messages = build_selector_messages(
                "SQLite", schema, record.question, evidence.get(str(record.question_id), ""), groups, order
            )
            ids = tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )["input_ids"]
            with torch.no_grad():
                logits = model(ids).logits[0, -1]
            picked = order[int(logits[label_ids[: len(groups)]].argmax())]
            final = right[picked]
            if picked != 0:
                overruled += 1
                fixed += final and not vote_right
                broke += vote_right and not final
        vote.append(vote_right)
        chosen.append(final)
    if not vote:
        print(f"{args.results}: no answered questions")
        return 1
    n = len(vote)
    d = paired_bootstrap(tuple(chosen), tuple(vote))
    print(
        f"questions {n}: vote EX {100 * sum(vote) / n:.2f}, vote + selector EX {100 * sum(chosen) / n:.2f}, "
        f"difference {d.points:+.2f} (95% interval {d.low:+.2f} to {d.high:+.2f}); asked {asked}, "
        f"overruled {overruled}, right when it overruled {fixed}, overruled a correct vote {broke}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
