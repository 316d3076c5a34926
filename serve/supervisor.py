"""Run the engines and the gateway as child processes: start in order, watch, restart, stop.

- Processes start one at a time, each waited on its ``/health`` until a deadline (engines started
  together would each size their KV cache against memory the others are about to take).
- Every child runs in its own process group (vLLM forks an engine core and workers) with its output
  appended to its own log file. On Linux a child also gets SIGTERM if the supervisor itself dies.
- A child that exits is restarted after a backoff that doubles with each quick failure; only one
  child starts at a time. Meanwhile the gateway's ``/ready`` reports that engine down.
- Stopping sends SIGTERM to every group, waits for the groups to empty, then SIGKILLs what is left.

:func:`supervise` is the whole life cycle with SIGINT/SIGTERM handling, as ``sqlensemble serve`` runs it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from sqlensemble.serve.engines import ProcessSpec
from sqlensemble.serve.errors import StartupError

State = Literal["stopped", "starting", "up", "down"]
Probe = Callable[[str], bool]
LOG_TAIL_LINES = 20
KILL_SETTLE_S = 5.0


@dataclass(frozen=True)
class Backoff:
    """Restart delays: ``initial_s * factor**(failures - 1)``, capped; a child that ran for
    ``reset_after_s`` before it died starts the count again.

    >>> [Backoff().delay(n) for n in (1, 2, 3, 8)]
    [1.0, 2.0, 4.0, 60.0]
    """

    initial_s: float = 1.0
    factor: float = 2.0
    max_s: float = 60.0
    reset_after_s: float = 300.0

    def delay(self, failures: int) -> float:
        return min(self.max_s, self.initial_s * self.factor ** max(0, failures - 1))


@dataclass
class Child:
    """The run-time state of one supervised process (mutable; owned by the supervisor)."""

    spec: ProcessSpec
    proc: subprocess.Popen[bytes] | None = None
    state: State = "stopped"
    starts: int = 0
    failures: int = 0
    started_at: float = 0.0
    restart_at: float = 0.0
    last_exit: int | None = None


def probe_health(url: str, timeout_s: float = 2.0) -> bool:
    """True when ``url`` answers 200."""
    try:
        return httpx.get(url, timeout=timeout_s, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform != "linux":
        return
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM))


def _group_alive(pgid: int) -> bool:
    """Whether any process other than a zombie is left in the process group ``pgid``."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class Supervisor:
    """Starts ``specs`` in order and keeps them running until :meth:`stop_all`.

    ``stop`` interrupts every wait; ``probe`` and ``clock`` are seams for tests.
    """

    def __init__(
        self,
        specs: Sequence[ProcessSpec],
        *,
        startup_timeout_s: float,
        backoff: Backoff = Backoff(),
        stop_grace_s: float = 30.0,
        poll_s: float = 0.5,
        stop: threading.Event | None = None,
        probe: Probe = probe_health,
        clock: Callable[[], float] = time.monotonic,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.children = [Child(spec) for spec in specs]
        self.startup_timeout_s = startup_timeout_s
        self.backoff = backoff
        self.stop_grace_s = stop_grace_s
        self.poll_s = poll_s
        self.stop = stop or threading.Event()
        self.probe = probe
        self.clock = clock
        self.on_event = on_event or (lambda message: print(message, file=sys.stderr, flush=True))

    def child(self, name: str) -> Child:
        return next(c for c in self.children if c.spec.name == name)

    def _launch(self, child: Child, now: float) -> None:
        spec = child.spec
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        child.starts += 1
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with spec.log_path.open("ab") as log:
            log.write(f"==> {stamp} start #{child.starts}: {' '.join(spec.argv)}\n".encode())
            log.flush()
            child.proc = subprocess.Popen(
                spec.argv,
                env={**os.environ, **spec.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, out of reach of the terminal's Ctrl-C
                preexec_fn=_die_with_parent,
            )
        child.state, child.started_at = "starting", now
        self.on_event(f"start {spec.name} (pid {child.proc.pid}, log {spec.log_path})")

    def _wait_up(self, child: Child) -> bool:
        """Block until ``child`` is healthy (True) or a stop is requested (False); raise StartupError."""
        assert child.proc is not None
        deadline = self.clock() + self.startup_timeout_s
        while not self.stop.is_set():
            code = child.proc.poll()
            if code is not None:
                tail = log_tail(child.spec.log_path)
                raise StartupError(
                    child.spec.name, f"exited with code {code} while starting", child.spec.log_path, tail
                )
            if self.probe(child.spec.health_url):
                child.state = "up"
                self.on_event(f"up {child.spec.name} at {child.spec.url}")
                return True
            if self.clock() > deadline:
                reason = f"was not healthy at {child.spec.health_url} within {self.startup_timeout_s:g}s"
                raise StartupError(
                    child.spec.name, reason, child.spec.log_path, log_tail(child.spec.log_path)
                )
            self.stop.wait(self.poll_s)
        return False

    def wait_up(self, name: str) -> bool:
        """Block until the child ``name`` is healthy (False on a stop); raise StartupError if it fails."""
        child = self.child(name)
        if child.state == "up":
            return True
        return self._wait_up(child)

    def start_all(self) -> bool:
        """Start every child in order, each healthy before the next; False when a stop was requested.

        On a StartupError everything already started is stopped before it propagates.
        """
        try:
            for child in self.children:
                if self.stop.is_set():
                    return False
                self._launch(child, self.clock())
                if not self._wait_up(child):
                    return False
        except BaseException:
            self.stop_all()
            raise
        return True

    def tick(self, now: float | None = None) -> None:
        """One supervision step: notice exits, promote healthy starters, restart what is due."""
        now = self.clock() if now is None else now
        for child in self.children:
            if child.proc is None or child.state not in ("starting", "up"):
                continue
            code = child.proc.poll()
            stuck = child.state == "starting" and now - child.started_at > self.startup_timeout_s
            if code is None and not stuck:
                if child.state == "starting" and self.probe(child.spec.health_url):
                    child.state = "up"
                    self.on_event(f"up {child.spec.name} at {child.spec.url} (restart #{child.starts - 1})")
                continue
            if stuck:
                self._terminate([child], grace_s=self.stop_grace_s)
            quick = now - child.started_at < self.backoff.reset_after_s
            child.failures = child.failures + 1 if quick else 1
            child.last_exit = child.proc.returncode
            child.restart_at = now + self.backoff.delay(child.failures)
            child.state = "down"
            why = "was not healthy in time" if stuck else f"exited with code {child.last_exit}"
            delay = child.restart_at - now
            self.on_event(f"down {child.spec.name}: {why}; restart in {delay:g}s (log {child.spec.log_path})")
        if any(c.state == "starting" for c in self.children):
            return  # one start at a time
        due = [c for c in self.children if c.state == "down" and now >= c.restart_at]
        if due:
            self._launch(min(due, key=lambda c: c.restart_at), now)

    def run(self) -> None:
        """Supervise until ``stop`` is set."""
        while not self.stop.wait(self.poll_s):
            self.tick()

    def pids(self) -> dict[str, int]:
        return {
            c.spec.name: c.proc.pid for c in self.children if c.proc is not None and c.proc.poll() is None
        }

    def _terminate(self, children: Sequence[Child], *, grace_s: float) -> None:
        procs = [c.proc for c in children if c.proc is not None]
        for proc in procs:
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        for proc in procs:  # the leader may be gone while its engine core or workers linger
            while _group_alive(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _group_alive(proc.pid) or proc.poll() is None:
                _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
            settle = time.monotonic() + KILL_SETTLE_S  # SIGKILL lands asynchronously on the rest of the group
            while _group_alive(proc.pid) and time.monotonic() < settle:
                time.sleep(0.02)

    def stop_all(self) -> None:
        """Stop the gateway and every engine; no process of theirs survives."""
        running = [c for c in reversed(self.children) if c.proc is not None]
        self._terminate(running, grace_s=self.stop_grace_s)
        for child in running:
            if child.state != "stopped":
                self.on_event(f"stopped {child.spec.name}")
            child.state = "stopped"


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM set ``stop`` instead of raising."""
    handler = lambda signum, frame: stop.set()  # noqa: E731
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def supervise(
    specs: Sequence[ProcessSpec],
    *,
    startup_timeout_s: float,
    on_ready: Callable[[Supervisor, float], None],
    backoff: Backoff = Backoff(),
    stop_grace_s: float = 30.0,
) -> int:
    """Start ``specs``, call ``on_ready(supervisor, seconds_to_ready)``, watch until SIGINT/SIGTERM, stop.

    Returns 0 after a requested stop; raises StartupError (with everything stopped) when a start fails.
    """
    stop = threading.Event()
    supervisor = Supervisor(specs, startup_timeout_s=startup_timeout_s, backoff=backoff,
                            stop_grace_s=stop_grace_s, stop=stop)  # fmt: skip
    began = time.monotonic()
    with stop_on_signals(stop):
        try:
            if supervisor.start_all():
                on_ready(supervisor, time.monotonic() - began)
                supervisor.run()
        finally:
            supervisor.stop_all()
    return 0
