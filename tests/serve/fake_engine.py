"""A stand-in engine for supervisor tests: a real process with an HTTP ``/health``.

    python fake_engine.py --port 8123 [--after URL] [--spawn-child] [--exit-code N] [--unhealthy]
                          [--ignore-term]

--after URL      exit 3 at once unless URL answers 200 (proves the supervisor waited for the previous one)
--spawn-child    start a grandchild that lives until killed (as vLLM's engine core does)
--exit-code N    print a message and exit with N before serving
--unhealthy      /health answers 503
--ignore-term    ignore SIGTERM, so only SIGKILL stops it
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--after")
    parser.add_argument("--spawn-child", action="store_true")
    parser.add_argument("--exit-code", type=int)
    parser.add_argument("--unhealthy", action="store_true")
    parser.add_argument("--ignore-term", action="store_true")
    args = parser.parse_args()
    print(f"fake engine on port {args.port}", flush=True)
    if args.exit_code is not None:
        print("fake engine: model folder not found", flush=True)
        return args.exit_code
    if args.after:
        try:
            with urllib.request.urlopen(args.after, timeout=2) as reply:
                assert reply.status == 200
        except Exception as e:
            print(f"fake engine: {args.after} not up: {e}", flush=True)
            return 3
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.spawn_child:
        child = subprocess.Popen([sys.executable, "-c", "import signal\nwhile True: signal.pause()"])
        print(f"grandchild {child.pid}", flush=True)
    status = 503 if args.unhealthy else 200

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status if self.path == "/health" else 404)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    HTTPServer(("127.0.0.1", args.port), Handler).serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
