"""``sqlensemble gateway``: run the ensemble gateway with uvicorn.

    sqlensemble gateway --config configs/stack.cpu.yaml
    SQLENSEMBLE_API_KEYS=k1,k2 sqlensemble gateway --config STACK.yaml --port 9000

A stack file that is missing or unsafe is reported in one line, exit status 2. With ``gateway.workers``
above 1, uvicorn runs that many gateway processes on the one port, each loading the stack file itself,
and their Prometheus metrics are shared through a fresh ``PROMETHEUS_MULTIPROC_DIR`` folder, removed
when the gateway stops. When the stack names
the training manifest (``serve.manifest``) and it is there, every generator's prompt settings must be
the ones its model was trained with; the first difference is refused, naming the generator and field.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlensemble.stack import StackConfig


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sqlensemble gateway", description="Run the ensemble gateway (OpenAI-compatible API)."
    )
    parser.add_argument(
        "--config", required=True, help="the YAML stack file (generators, databases, gateway)"
    )
    parser.add_argument("--host", default=None, help="listen address (default: gateway.host)")
    parser.add_argument("--port", type=int, default=None, help="listen port (default: gateway.port)")
    levels = ["critical", "error", "warning", "info", "debug"]
    parser.add_argument("--log-level", default="info", choices=levels, help="uvicorn's log level")
    return parser


def check_trained_prompts(stack: StackConfig, config: str) -> None:
    """Refuse prompt settings that differ from the manifest's, when the stack names a manifest that exists.

    A gateway deployed apart from the training run (Compose, Kubernetes) has no manifest to compare, nor
    does a stack of released checkpoints (``serve.models``).
    """
    from sqlensemble.manifest import check_prompts, load_manifest

    if stack.serve is not None and not stack.serve.models and stack.serve.manifest.is_file():
        check_prompts(stack, load_manifest(stack.serve.manifest), source=config)


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    from sqlensemble.errors import SqlEnsembleError
    from sqlensemble.stack import load_stack

    try:
        stack = load_stack(args.config)
        check_trained_prompts(stack, args.config)
        if args.port is not None and not 1 <= args.port <= 65535:
            raise SqlEnsembleError(f"--port must be between 1 and 65535, got {args.port}")
        import uvicorn

        from sqlensemble.ensemble.app import build_app

        app = build_app(stack)
    except SqlEnsembleError as e:
        print(f"sqlensemble gateway: {e}", file=sys.stderr)
        return 2
    host = args.host or stack.gateway.host
    port = args.port or stack.gateway.port
    workers = stack.gateway.workers
    if workers == 1:
        uvicorn.run(app, host=host, port=port, log_level=args.log_level, timeout_graceful_shutdown=10)
        return 0
    from sqlensemble.ensemble.app import STACK_ENV
    from sqlensemble.ensemble.metrics import MULTIPROC_ENV

    folder = tempfile.mkdtemp(prefix="sqlensemble-metrics-")
    # Set before the workers start (and import prometheus_client), inherited by each of them.
    os.environ[MULTIPROC_ENV] = folder
    os.environ[STACK_ENV] = str(Path(args.config).resolve())
    try:
        uvicorn.run(
            "sqlensemble.ensemble.app:app_from_env",
            factory=True,
            workers=workers,
            host=host,
            port=port,
            log_level=args.log_level,
            timeout_graceful_shutdown=10,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
