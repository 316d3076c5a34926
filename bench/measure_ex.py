"""Execution accuracy of trained generators, measured directly with ``transformers`` (no server).

    .venv/bin/python bench/measure_ex.py --data data/synth/dev --run runs/cpu-tiny --n 100
    .venv/bin/python bench/measure_ex.py --data data/synth/dev --models runs/cpu-tiny/merged/sqlg4_no_aug \
        --samples 4 --temperature 0.8

For each dev question: the prompt from the shared builder, ``--samples`` completions per model (greedy
when ``--temperature 0``), each cut at the closing fence or ``<|im_end|>``, read with the gateway's
extractor, executed read-only and compared with the gold result (BIRD equivalence). Prints EX per
model (first sample, and its own vote when sampling), the execution vote over all models' samples,
and the oracle (any sample right).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from sqlensemble.bird import load_examples, locate_split
from sqlensemble.catalog import Catalog
from sqlensemble.equivalence import equivalent
from sqlensemble.executor import ExecResult, execute_readonly
from sqlensemble.extract import extract_sql
from sqlensemble.prompts import build_messages
from sqlensemble.stack import schema_view
from sqlensemble.train.config import load_preset
from sqlensemble.train.rundir import MERGED_DIR
from sqlensemble.voting import Candidate, vote


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="BIRD split folder with <split>.json")
    p.add_argument("--run", type=Path, help="run folder: measure every model under RUN/merged")
    p.add_argument("--models", nargs="*", type=Path, default=[], help="model folders")
    p.add_argument("--preset", default="cpu-tiny", help="prompt settings come from this preset")
    p.add_argument("--n", type=int, default=100, help="questions (the first N)")
    p.add_argument("--samples", type=int, default=1)
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--max-new-tokens", type=int, default=160)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--show", type=int, default=0, help="print gold and first sample of the first N questions")
    return p


def _cut(text: str) -> str:
    return text.split("```")[0].split("<|im_end|>")[0]


def generate(
    model_dir: Path, prompts: list[list[dict[str, str]]], args: argparse.Namespace
) -> list[list[str]]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    texts = [tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=False) for m in prompts]
    sampling: dict[str, Any] = (
        {"do_sample": True, "temperature": args.temperature, "top_p": args.top_p}
        if args.temperature > 0
        else {"do_sample": False}
    )
    outputs: list[list[str]] = []
    for start in range(0, len(texts), args.batch):
        batch = tokenizer(texts[start : start + args.batch], return_tensors="pt", padding=True)
        with torch.no_grad():
            out = model.generate(
                **batch,
                max_new_tokens=args.max_new_tokens,
                num_return_sequences=args.samples,
                pad_token_id=tokenizer.pad_token_id,
                **sampling,
            )
        new = out[:, batch["input_ids"].shape[1] :]
        decoded = [_cut(t) for t in tokenizer.batch_decode(new, skip_special_tokens=False)]
        outputs += [decoded[i : i + args.samples] for i in range(0, len(decoded), args.samples)]
    return outputs


def _run(db: Path, sql: str | None) -> ExecResult | None:
    return execute_readonly(db, sql, timeout_s=10.0, max_rows=10000) if sql else None


def _correct(result: ExecResult | None, gold: ExecResult) -> bool:
    return bool(result and result.succeeded and equivalent(result.rows, gold.rows, "bird"))


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    models = list(args.models) + (
        sorted(p for p in (args.run / MERGED_DIR).iterdir() if p.is_dir()) if args.run else []
    )
    if not models:
        print("measure_ex: no models (use --run or --models)", file=sys.stderr)
        return 2
    questions, db_root = locate_split(args.data)
    items = load_examples(questions, db_root)[: args.n]
    catalog = Catalog(db_root)
    preset = load_preset(args.preset)

    def prompts_for(name: str) -> list[list[dict[str, str]]]:
        # each generator's own rendering (the preset's generator_prompts), as training and the gateway
        prompt = preset.prompt_for(name)
        return [
            build_messages(
                prompt.template,
                prompt.dialect,
                catalog.schema_text(it.db_id, *schema_view(prompt)),
                it.question,
                it.evidence,
            )
            for it in items
        ]

    dbs = [it.db_path for it in items]
    golds = [execute_readonly(it.db_path, it.sql, timeout_s=30.0) for it in items]
    per_model: dict[str, list[list[tuple[str | None, ExecResult | None]]]] = {}
    for model_dir in models:
        t0 = time.monotonic()
        texts = generate(model_dir, prompts_for(model_dir.name), args)
        per_model[model_dir.name] = [
            [(sql, _run(db, sql)) for sql in (extract_sql(t) for t in samples)]
            for db, samples in zip(dbs, texts, strict=True)
        ]
        print(f"# {model_dir.name}: generated in {time.monotonic() - t0:.0f}s", file=sys.stderr)
    for name, answers in per_model.items():
        for it, a, g in list(zip(items, answers, golds, strict=True))[: args.show]:
            mark = "ok " if _correct(a[0][1], g) else "BAD"
            print(f"{name} {mark} {it.question}\n  gold: {it.sql}\n  got:  {a[0][0]}")
    print(f"questions: {len(items)}  samples/model: {args.samples}  temperature: {args.temperature}")
    ensemble, oracle = 0, 0
    for name, answers in per_model.items():
        first = sum(_correct(a[0][1], g) for a, g in zip(answers, golds, strict=True))
        own = sum(_correct(_vote(name, a), g) for a, g in zip(answers, golds, strict=True))
        n = len(items)
        print(f"{name:<22} EX(first) {100 * first / n:5.1f}%   EX(own vote) {100 * own / n:5.1f}%")
    for q, gold in enumerate(golds):
        pooled = [(name, answers[q]) for name, answers in per_model.items()]
        ensemble += _correct(_vote_pooled(pooled), gold)
        oracle += any(_correct(r, gold) for _, a in pooled for _, r in a)
    n = len(items)
    print(f"{'ensemble vote':<22} EX {100 * ensemble / n:5.1f}%   oracle {100 * oracle / n:5.1f}%")
    return 0


def _candidates(name: str, answers: list[tuple[str | None, ExecResult | None]]) -> list[Candidate]:
    out = []
    for i, (sql, result) in enumerate(answers):
        status = result.status if result else "no_sql"
        out.append(Candidate(name, i, sql, status, result))  # type: ignore[arg-type]
    return out


def _vote(name: str, answers: list[tuple[str | None, ExecResult | None]]) -> ExecResult | None:
    decision = vote(_candidates(name, answers))
    return decision.winner.result if decision.status == "ok" and decision.winner else None


def _vote_pooled(pooled: list[tuple[str, list[tuple[str | None, ExecResult | None]]]]) -> ExecResult | None:
    candidates = [c for name, answers in pooled for c in _candidates(name, answers)]
    decision = vote(candidates)
    return decision.winner.result if decision.status == "ok" and decision.winner else None


if __name__ == "__main__":
    raise SystemExit(main())
