"""``sqlensemble serve``: start vLLM engines for a stack's generators, then the gateway, and supervise them.

    sqlensemble serve --config configs/stack.cpu.yaml --dry-run     # print commands and environment
    sqlensemble serve --config configs/stack.cpu.yaml               # run until Ctrl-C / SIGTERM
    sqlensemble serve --config configs/stack.gpu-3b.yaml --dry-run --gpus 4

The stack file's ``serve:`` section picks the layout (``merged`` or ``lora``) and the device; its
``manifest`` is the ``RUN/generators.yaml`` that training wrote, or its ``models`` name released
checkpoints by hub id or local path (``configs/stack.xiyan-released.yaml``). Engine and gateway logs go to
``serve.run_dir``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlensemble.checkpoints import local_path, model_source
from sqlensemble.errors import ConfigError, SqlEnsembleError
from sqlensemble.manifest import check_prompts, load_manifest, planned_manifest, released_manifest
from sqlensemble.serve.engines import ProcessSpec, build_engines, build_gateway, check_ports, check_routes
from sqlensemble.serve.errors import StartupError
from sqlensemble.serve.supervisor import Supervisor, supervise
from sqlensemble.stack import load_stack


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sqlensemble serve",
        description="Start vLLM engines for a stack's generators and the gateway; stop with Ctrl-C.",
    )
    parser.add_argument("--config", required=True, type=Path, help="stack YAML with a serve: section")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the commands and environment; start nothing"
    )
    parser.add_argument(
        "--gpus", type=int, default=None, metavar="N",
        help="plan for N GPUs instead of the visible ones (CUDA_VISIBLE_DEVICES, else nvidia-smi)",
    )  # fmt: skip
    return parser


def visible_gpus(requested: int | None = None) -> list[str]:
    """The CUDA device ids engines may use: CUDA_VISIBLE_DEVICES, else those nvidia-smi lists."""
    declared = os.environ.get("CUDA_VISIBLE_DEVICES")
    if declared is not None:
        ids = [d.strip() for d in declared.split(",") if d.strip()]
    elif shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(
                ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=False
            )
            ids = [str(i) for i, line in enumerate(out.stdout.splitlines()) if line.startswith("GPU ")]
        except (OSError, subprocess.TimeoutExpired):
            ids = []
    else:
        ids = []
    if requested is None:
        return ids
    return (ids + [str(i) for i in range(len(ids), requested)])[:requested]


def render_plan(specs: Sequence[ProcessSpec]) -> str:
    """The exact commands, one block per process, as a shell would run them."""
    blocks = []
    for spec in specs:
        head = f"# {spec.role} {spec.name}: {spec.url}"
        if spec.models:
            head += f"/v1 serves {', '.join(spec.models)}"
        env = [f"{k}={shlex.quote(v)}" for k, v in spec.env.items()]
        command = shlex.join(spec.argv)
        blocks.append(
            f"{head}\n# log: {spec.log_path}\n{' '.join(['env', *env, command]) if env else command}"
        )
    return "\n\n".join(blocks)


def _port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _print_ready(supervisor: Supervisor, seconds: float) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"sqlensemble serve: ready in {seconds:.1f}s (Ctrl-C stops everything)")
    for column in ("process", "url", "models", "pid", "log"):
        table.add_column(column)
    pids = supervisor.pids()
    for child in supervisor.children:
        spec = child.spec
        table.add_row(
            spec.name, spec.url, ", ".join(spec.models), str(pids.get(spec.name, "-")), str(spec.log_path)
        )
    Console(stderr=True).print(table)


def plan(config: Path, gpus: int | None, *, dry_run: bool = False) -> tuple[list[ProcessSpec], float]:
    """The engines and the gateway for a stack file, checked; and the per-process start deadline.

    A dry run plans without the data or the models: a missing database folder or manifest (merged mode)
    is a warning on stderr, and the engines are planned at the paths training will write.
    """
    stack = load_stack(config, check_paths=not dry_run)
    if stack.serve is None:
        raise SqlEnsembleError(f"{config}: no serve: section (what engines to start)")
    if dry_run and not stack.databases.root.is_dir():
        print(f"warning: databases.root {str(stack.databases.root)!r} is not a folder yet", file=sys.stderr)
    if stack.serve.models:
        absent = [
            f"{name} ({source})"
            for name, source in stack.serve.models.items()
            if model_source(source) == "path" and not local_path(source).is_dir()
        ]
        if absent and not dry_run:
            raise ConfigError(f"{config}: serve.models: no such folder for {', '.join(absent)}")
        if absent:
            print(f"warning: serve.models: no such folder yet for {', '.join(absent)}", file=sys.stderr)
        manifest = released_manifest(stack)
    elif dry_run and stack.serve.mode == "merged" and not Path(stack.serve.manifest).is_file():
        print(
            f"warning: no manifest at {str(stack.serve.manifest)!r}; planning the paths training will "
            "write there (make train-generators)",
            file=sys.stderr,
        )
        manifest = planned_manifest(stack)
    else:
        manifest = load_manifest(stack.serve.manifest)
    check_prompts(stack, manifest, source=str(config))
    engines = build_engines(stack, manifest, gpus=visible_gpus(gpus) if stack.serve.device == "cuda" else ())
    check_routes(stack, engines)
    specs = [*engines, build_gateway(stack, config)]
    check_ports(specs)
    return specs, stack.serve.startup_timeout_s


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    if args.gpus is not None and args.gpus < 1:
        print("sqlensemble serve: --gpus must be at least 1", file=sys.stderr)
        return 2
    try:
        specs, startup_timeout_s = plan(args.config, args.gpus, dry_run=args.dry_run)
    except SqlEnsembleError as e:
        print(f"sqlensemble serve: {e}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(render_plan(specs))
        return 0
    taken = [f"{s.name} ({s.host}:{s.port})" for s in specs if _port_taken(s.host, s.port)]
    if taken:
        print(f"sqlensemble serve: port already in use for {', '.join(taken)}", file=sys.stderr)
        return 2
    try:
        return supervise(specs, startup_timeout_s=startup_timeout_s, on_ready=_print_ready)
    except StartupError as e:
        tail = f"\n--- last lines of {e.log_path} ---\n{e.log_tail}" if e.log_tail else ""
        print(f"sqlensemble serve: {e}{tail}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
