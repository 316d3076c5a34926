"""The demo: data -> four generators -> vLLM engines + gateway -> evaluation, on this machine.

    make demo            # = sqlensemble demo

Each stage reuses what an earlier run finished (the synthetic data, trained and merged generators,
answered evaluation questions), so a second run goes straight to what is missing. Every process the
demo starts is stopped before it returns, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlensemble.bird import load_examples
from sqlensemble.errors import SqlEnsembleError
from sqlensemble.eval.runner import load_state, pending
from sqlensemble.serve.background import start_stack, stop, wait_ready
from sqlensemble.stack import load_stack
from sqlensemble.synth.writer import SIZES, read_settings


@dataclass
class StageClock:
    """Wall time of each stage, for the final summary."""

    stages: list[tuple[str, float, str]] = field(default_factory=list)

    def record(self, name: str, started: float, note: str) -> None:
        self.stages.append((name, time.monotonic() - started, note))

    def render(self) -> str:
        lines = ["stage        seconds  note"]
        lines += [f"{name:<12} {secs:>7.1f}  {note}" for name, secs, note in self.stages]
        return "\n".join(lines)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sqlensemble demo", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("data/synth"), help="synthetic benchmark folder")
    parser.add_argument(
        "--size", choices=sorted(SIZES), default="demo", help="synthetic benchmark size (8 databases)"
    )
    parser.add_argument("--preset", default="cpu-tiny", help="training preset")
    parser.add_argument("--run", type=Path, default=None, help="training run folder (runs/PRESET)")
    parser.add_argument("--config", type=Path, default=Path("configs/stack.cpu.yaml"), help="stack file")
    parser.add_argument("--out", type=Path, default=None, help="evaluation folder (runs/demo-eval)")
    parser.add_argument("--limit", type=int, default=None, help="evaluate only the first N dev questions")
    parser.add_argument("--concurrency", type=int, default=8, help="questions in flight during eval")
    parser.add_argument("--ready-timeout-s", type=float, default=900.0, help="deadline for the stack")
    parser.add_argument(
        "--selector",
        action="store_true",
        help="also train the preset's selection model and answer with it (selection mode model); "
        "evaluates into runs/demo-selector-eval unless --out is given",
    )
    return parser


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "sqlensemble.cli", *args]


def _run(argv: Sequence[str]) -> None:
    print("+ " + " ".join(argv[2:] if argv[:2] == [sys.executable, "-m"] else argv), flush=True)
    subprocess.run(list(argv), check=True)


def _check_benchmark(data: Path, size: str) -> None:
    """Refuse to reuse a benchmark of another size: the generators would train on the wrong one."""
    made = read_settings(data)
    if made is None or made.get("size") != size or made.get("cross_domain"):
        found = "no synth.json" if made is None else f"size {made.get('size')!r}"
        raise RuntimeError(
            f"{data} holds a benchmark the demo did not make ({found}); the demo needs "
            f"`sqlensemble synth --size {size}`: remove {data} or pass another --data"
        )


SELECTOR_ENV = {"SQLENSEMBLE_SELECTION__MODE": "model"}


def run_demo(args: argparse.Namespace) -> int:
    clock = StageClock()
    run_dir = args.run or Path("runs") / args.preset
    if args.out is None:
        args.out = Path("runs/demo-selector-eval" if args.selector else "runs/demo-eval")

    started = time.monotonic()
    if (args.data / "dev" / "dev.json").exists():
        _check_benchmark(args.data, args.size)
        clock.record("synth", started, f"reused {args.data}")
    else:
        _run(_cli("synth", "--out", str(args.data), "--size", args.size))
        clock.record("synth", started, f"wrote {args.data}")

    started = time.monotonic()
    train = [
        "train",
        "all",
        "--preset",
        args.preset,
        "--data",
        str(args.data / "train"),
        "--run",
        str(run_dir),
    ]
    _run(_cli(*train, *([] if args.selector else ["--without-selector"])))
    clock.record("train", started, f"generators{' and selector' if args.selector else ''} in {run_dir}")

    stack = load_stack(args.config)
    gateway_url = f"http://{stack.gateway.host}:{stack.gateway.port}"
    if _unanswered(args.data / "dev", args.out, args.limit) == 0 and (args.out / "report.md").exists():
        clock.record("serve", time.monotonic(), "skipped: every question was answered by an earlier run")
        return _summary(args, clock)
    started = time.monotonic()
    serve = start_stack(args.config, SELECTOR_ENV if args.selector else None)
    try:
        wait_ready(gateway_url, serve, args.ready_timeout_s)
        clock.record("serve", started, f"gateway ready at {gateway_url}")

        started = time.monotonic()
        eval_argv = [
            "eval",
            "--data",
            str(args.data / "dev" / "dev.json"),
            "--db-root",
            str(args.data / "dev" / "dev_databases"),
            "--gateway",
            gateway_url,
            "--out",
            str(args.out),
            "--concurrency",
            str(args.concurrency),
        ]
        if args.limit is not None:
            eval_argv += ["--limit", str(args.limit)]
        _run(_cli(*eval_argv))
        clock.record("eval", started, f"report in {args.out}")
    finally:
        started = time.monotonic()
        stop(serve)
        clock.record("stop", started, "every engine and the gateway stopped")

    return _summary(args, clock)


def _unanswered(dev: Path, out: Path, limit: int | None) -> int:
    """How many of the evaluated questions have no answer in ``out`` yet."""
    examples = load_examples(dev / "dev.json", dev / "dev_databases")
    examples = examples[:limit] if limit is not None else examples
    return len(pending(examples, load_state(out, examples).answered))


def _summary(args: argparse.Namespace, clock: StageClock) -> int:
    report = args.out / "report.md"
    print()
    print(report.read_text(encoding="utf-8") if report.exists() else f"no report at {report}")
    print(clock.render())
    print(f"\nreport: {report}  plot: {args.out / 'report.png'}  database: {args.out / 'results.duckdb'}")
    print(f"the same report as one page, figures included: {args.out / 'report.html'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        return run_demo(args)
    except subprocess.CalledProcessError as e:
        print(
            f"sqlensemble demo: a stage failed (exit {e.returncode}): {' '.join(e.cmd[2:])}", file=sys.stderr
        )
        return 1
    except (RuntimeError, SqlEnsembleError) as e:
        print(f"sqlensemble demo: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sqlensemble demo: interrupted; every process it started was stopped", file=sys.stderr)
        return 130
