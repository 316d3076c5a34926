"""``sqlensemble serve`` as a child process: started in its own session, waited for, stopped with all it
started (engines and gateway). The demo and the selector's data pass both run a whole stack this way.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx


def start_stack(config: Path, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``sqlensemble serve --config CONFIG`` (``env`` overrides the stack file, e.g.
    ``SQLENSEMBLE_DATABASES__ROOT``) in a new session, so that :func:`stop` reaches every process."""
    print(f"+ serve --config {config}", flush=True)
    return subprocess.Popen(
        [sys.executable, "-m", "sqlensemble.cli", "serve", "--config", str(config)],
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )


def wait_ready(url: str, proc: subprocess.Popen[bytes], deadline_s: float) -> None:
    """Return once ``URL/ready`` answers 200; ``RuntimeError`` if the stack exits or the deadline passes."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sqlensemble serve exited with code {proc.returncode}; see its logs")
        try:
            if httpx.get(f"{url}/ready", timeout=5.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(2.0)
    raise RuntimeError(f"the stack was not ready at {url}/ready within {deadline_s:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the stack's process group (the supervisor stops its children), SIGKILL after 60 s."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
