"""What extraction and the guard cost the gateway per question, on an evaluation's own candidates.

    python bench/draft_cost.py runs/demo-eval [--repeat 3]

Reads ``RUN/results.jsonl`` (written by ``sqlensemble eval``) and runs every question's distinct
candidate texts through :func:`sqlensemble.ensemble.candidates.draft_sample` (extraction, then the
guard on extraction's parse), as the gateway does on its event loop, each text once per question.
Prints the milliseconds per question and per text (the best of ``--repeat`` passes) and which sqlglot
build parsed them (compiled, from ``sqlglotc``, or interpreted).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import sqlglot.parser

from sqlensemble.ensemble.candidates import draft_sample
from sqlensemble.eval.results import RESULTS_FILE, read_results
from sqlensemble.stack import GeneratorConfig

FENCE = "\n```"  # what a completion of the prompt's open fence ends with


def question_texts(run: Path) -> list[list[str]]:
    """Each answered question's distinct candidate SQL texts, as a generator would have written them."""
    path = run / RESULTS_FILE
    if not path.is_file():
        raise SystemExit(f"draft_cost: no {RESULTS_FILE} in {run} (run `sqlensemble eval --out {run}` first)")
    return [
        list(dict.fromkeys(c.sql + FENCE for c in record.candidates if c.sql))
        for record in read_results(path)
    ]


def parser_build() -> str:
    compiled = Path(sqlglot.parser.__file__).suffix in {".so", ".pyd"}
    return f"sqlglot {sqlglot.__version__}, {'compiled' if compiled else 'interpreted'} parser"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a folder written by sqlensemble eval")
    parser.add_argument("--repeat", type=int, default=3, help="passes; the fastest counts")
    args = parser.parse_args(argv)
    questions = [q for q in question_texts(args.run) if q]
    if not questions:
        raise SystemExit(f"draft_cost: no candidate SQL in {args.run}")
    generator = GeneratorConfig(name="bench", base_url="http://127.0.0.1:1/v1", model="bench")
    texts = sum(len(q) for q in questions)
    best = float("inf")
    for _ in range(max(args.repeat, 1)):
        start = time.perf_counter()
        for question in questions:
            for index, text in enumerate(question):
                draft_sample(generator, index, text)
        best = min(best, time.perf_counter() - start)
    print(
        f"{len(questions)} questions, {texts} distinct candidate texts ({texts / len(questions):.1f} per "
        f"question); {parser_build()}"
    )
    print(
        f"extraction + guard: {best / len(questions) * 1000:.2f} ms per question, "
        f"{best / texts * 1000:.3f} ms per text (fastest of {args.repeat} passes)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
