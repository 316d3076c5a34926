"""Run ``supervise`` over fake engines and a fake gateway, as ``sqlensemble serve`` runs the real ones.

    python run_fake_stack.py LOG_DIR PORT1 PORT2 PORT3

Prints ``READY`` once everything is healthy, then supervises until SIGINT/SIGTERM.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sqlensemble.serve.engines import ProcessSpec
from sqlensemble.serve.supervisor import Supervisor, supervise

FAKE_ENGINE = Path(__file__).with_name("fake_engine.py")


def main() -> int:
    log_dir, ports = Path(sys.argv[1]), [int(p) for p in sys.argv[2:5]]
    names = ["engine-a", "engine-b", "gateway"]
    specs = [
        ProcessSpec(
            name=name,
            role="gateway" if name == "gateway" else "engine",
            argv=(sys.executable, str(FAKE_ENGINE), "--port", str(port), "--spawn-child"),
            host="127.0.0.1",
            port=port,
            log_path=log_dir / f"{name}.log",
        )
        for name, port in zip(names, ports, strict=True)
    ]

    def ready(supervisor: Supervisor, seconds: float) -> None:
        print("READY", flush=True)

    return supervise(specs, startup_timeout_s=30.0, on_ready=ready, stop_grace_s=10.0)


if __name__ == "__main__":
    raise SystemExit(main())
