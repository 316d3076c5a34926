"""``sqlensemble eval``: run a BIRD-format dev set through the gateway and report execution accuracy.

    sqlensemble eval --data data/synth/dev/dev.json --db-root data/synth/dev/dev_databases \\
        --gateway http://127.0.0.1:8000 --out runs/eval --concurrency 4

Writes RUN_DIR/results.jsonl (one judged question per line, as answered), results.duckdb, report.md,
report.png, report.html (self-contained: figures inlined), and in BIRD's official prediction format
predict_dev.json (the answer) and predict_dev.<generator>.json (each generator's first sample). With
--limit N also the slice's dev.json and dev_gold.sql, so BIRD's evaluation.py scores the same N questions.
--n and --temperature override every generator's sampling (e.g. --n 1 --temperature 0.01 as the seed
evaluated each generator alone). Re-running the same command resumes: answered questions are kept, failed
or missing ones are asked; a resumed run must use the same --model, --n and --temperature.
Ctrl-C keeps every answered question.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlensemble.errors import SqlEnsembleError

if TYPE_CHECKING:
    from sqlensemble.bird import Example
    from sqlensemble.eval.runner import RunConfig, RunState

API_KEY_ENV = "SQLENSEMBLE_API_KEY"


T = TypeVar("T")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sqlensemble eval",
        description="Evaluate a BIRD-format dev set through the gateway (EX per difficulty, per generator, "
        "ensemble and oracle).",
    )
    parser.add_argument("--data", type=Path, required=True, help="BIRD dev.json (or mini-dev JSONL)")
    parser.add_argument("--db-root", type=Path, required=True, help="ROOT/<db_id>/<db_id>.sqlite")
    parser.add_argument("--gateway", required=True, help="gateway root URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--out", type=Path, required=True, help="RUN_DIR for results and the report")
    parser.add_argument("--concurrency", type=int, default=4, help="questions in flight at once (default 4)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    parser.add_argument("--model", default="ensemble", help='"ensemble" (default) or one generator')
    parser.add_argument(
        "--n", type=int, default=None, help="samples per generator (default: each generator's own sampling.n)"
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="sampling temperature, 0 to 2 (default: each generator's own; the seed used 0.01)",
    )
    parser.add_argument(
        "--policy",
        choices=("full", "adaptive"),
        default=None,
        help="how candidates are drawn (default: the stack's gateway.sampling_policy)",
    )
    parser.add_argument(
        "--threshold", type=float, default=None, help="adaptive: the agreement share that stops sampling"
    )
    parser.add_argument("--api-key", default=None, help=f"gateway Bearer key (default: ${API_KEY_ENV})")
    parser.add_argument(
        "--sql-timeout", type=float, default=30.0, help="seconds for gold and prediction together (BIRD: 30)"
    )
    parser.add_argument("--request-timeout", type=float, default=600.0, help="seconds per /v1/sql call")
    parser.add_argument("--retries", type=int, default=2, help="in-run retries of a call (network, 429, 5xx)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


async def interruptible(work: Coroutine[Any, Any, T]) -> T:
    """Await ``work``; Ctrl-C (SIGINT) cancels it and raises ``KeyboardInterrupt``, a second one at once.

    ``asyncio.run`` handles SIGINT with ``signal.signal`` alone, so a signal whose C-level handler runs
    while the event loop is about to block (or on a thread other than the loop's) is only noticed when
    the loop next wakes: with every request waiting on the gateway, never, and the first Ctrl-C was
    lost (the eval test's "rare" hang). ``loop.add_signal_handler`` also registers the loop's wakeup
    file descriptor, so every SIGINT wakes the loop.
    """
    if threading.current_thread() is not threading.main_thread():
        return await work  # signals reach the main thread only; a run driven from a thread has none
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    interrupted = False

    def on_sigint() -> None:
        nonlocal interrupted
        if interrupted:
            raise KeyboardInterrupt
        interrupted = True
        task.cancel()

    loop.add_signal_handler(signal.SIGINT, on_sigint)
    try:
        return await work
    except asyncio.CancelledError:
        if interrupted:
            raise KeyboardInterrupt from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def _fail(message: str, code: int = 1) -> int:
    print(f"sqlensemble eval: {message}", file=sys.stderr)
    return code


def _check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.concurrency < 1:
        parser.error("--concurrency must be >= 1")
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be >= 1")
    if not (args.sql_timeout > 0 and args.request_timeout > 0):
        parser.error("--sql-timeout and --request-timeout must be > 0")
    if args.retries < 0:
        parser.error("--retries must be >= 0")
    if args.n is not None and args.n < 1:
        parser.error("--n must be >= 1")
    if args.temperature is not None and not 0.0 <= args.temperature <= 2.0:
        parser.error("--temperature must be between 0 and 2")
    if args.threshold is not None and not 0.0 < args.threshold <= 1.0:
        parser.error("--threshold must be above 0 and at most 1")


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    _check_args(parser, args)

    from sqlensemble.bird import load_examples, read_records
    from sqlensemble.eval.gold import remove_slice, write_slice
    from sqlensemble.eval.runner import RunConfig, check_manifest, load_state

    try:
        examples = load_examples(args.data, args.db_root)
    except SqlEnsembleError as e:
        return _fail(str(e), 2)
    examples = list(examples[: args.limit] if args.limit is not None else examples)
    config = RunConfig(
        gateway=args.gateway,
        out_dir=args.out,
        model=args.model,
        api_key=args.api_key or os.environ.get(API_KEY_ENV) or None,
        concurrency=args.concurrency,
        request_timeout_s=args.request_timeout,
        sql_timeout_s=args.sql_timeout,
        retries=args.retries,
        n=args.n,
        temperature=args.temperature,
        policy=args.policy,
        threshold=args.threshold,
    )
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        check_manifest(args.out, config)
        state = load_state(args.out, examples)
        if args.limit is not None:  # the official script then scores the same slice
            write_slice(args.out, read_records(args.data)[: len(examples)], examples)
        else:
            remove_slice(args.out, keep=args.data)
    except (OSError, SqlEnsembleError) as e:
        return _fail(str(e), 2)

    try:
        return _run(args, config, examples, state)
    except KeyboardInterrupt:
        return _fail(
            f"interrupted: {len(state.answered)} of {state.total} questions answered and kept in "
            f"{args.out / 'results.jsonl'}; run the same command again to resume",
            130,
        )


def _run(args: argparse.Namespace, config: RunConfig, examples: list[Example], state: RunState) -> int:
    """Ask what is pending, then write the outputs and print the EX table."""
    from sqlensemble.eval.errors import EvalError
    from sqlensemble.eval.outputs import print_ex_table, write_outputs
    from sqlensemble.eval.runner import pending, run_questions

    if pending(examples, state.answered):
        from sqlensemble.eval.progress import progress_bar

        try:
            with progress_bar(state, enabled=not args.no_progress) as bar:
                questions = run_questions(config, examples, state, on_ready=bar.ready, on_update=bar.update)
                asyncio.run(interruptible(questions))
        except EvalError as e:
            return _fail(str(e))

    sampling = (
        ", ".join(f"{key}={value}" for key, value in config.sampling().items()) or "each generator's own"
    )
    context = [
        f"data: {args.data} (db root {args.db_root})",
        f"gateway: {args.gateway}, model: {args.model}, sampling: {sampling}",
        f"answered: {len(state.answered)} of {state.total} questions"
        + (f" (first {args.limit})" if args.limit else "")
        + "; every question of the slice counts, an unanswered one as wrong",
    ]
    table = write_outputs(args.out, examples, list(state.answered.values()), context)
    print_ex_table(table)
    files = (
        "results.jsonl, results.duckdb, report.md, report.png, report.html, predict_dev[.<generator>].json"
    )
    if args.limit is not None:
        files += ", dev.json, dev_gold.sql"
    print(f"wrote {args.out}/{{{files}}}")
    if state.failures:
        first = state.failures[0]
        return _fail(
            f"{len(state.failures)} question(s) failed (first: question {first.question_id}: "
            f"{first.message}); run the same command again to retry them"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
