"""SQL worker processes: a hard deadline and a memory limit for every query.

``executor.run_query``'s progress handler stops a query between SQLite instructions, but not inside one
long function call: a ``printf('%.*c', 2000000000, 'x')`` width bomb or a quadratic ``instr``/``replace``
over megabyte strings runs to its end. So every query runs in a worker process that can be killed:

- :class:`WorkerPool` starts its workers up front. With the ``forkserver`` start method (Linux) a
  server process imports this module once and each worker is a fork of it: a replacement costs
  milliseconds, not an interpreter start.
- A query goes to an idle worker over a pipe. The worker runs ``execute_readonly`` there, so every
  defence of the executor stays in place (guard, read-only immutable URI, ``query_only``, authorizer,
  length limits, row cap, byte cap); its progress handler answers ``timeout`` at the deadline as before.
- When no answer comes by the deadline plus :data:`KILL_GRACE_S`, the worker is killed (``SIGKILL``),
  the query answers ``timeout``, and a replacement starts in the background: a query past its deadline
  no longer holds a worker.
- Each worker limits its own address space (``RLIMIT_AS``, ``memory_bytes``) and SQLite's heap (half of
  it), and offers itself first to the kernel's OOM killer. A query that needs more fails alone
  (``error``), or at worst kills its own worker, which is replaced; the gateway process and the other
  queries never share its memory.

:class:`Executor` is the pool for asyncio callers (the gateway); ``sqlensemble exec`` uses a pool of one.
Results come back as values whatever happens to the query; only a database file that cannot be opened
raises ``CatalogError``, in the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
import signal
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from sqlensemble.errors import CatalogError
from sqlensemble.executor import MAX_RESULT_BYTES, ExecResult, ExecStatus, execute_readonly
from sqlensemble.guard import GuardResult

log = logging.getLogger("sqlensemble.workers")

KILL_GRACE_S = 0.5  # after the deadline, before the worker is killed; the progress handler usually wins
DEFAULT_MEMORY_BYTES = 2**30  # address space per worker; SQLite's heap limit is half of it
MIN_MEMORY_BYTES = 256 * 2**20
START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
OOM_SCORE_ADJ = 1000  # the most likely victim of the kernel's OOM killer
RESTART_DELAY_S = 1.0  # between attempts to start a replacement that failed to start
SURPLUS_IDLE_S = 30.0  # a worker above the kept number stops after this long idle
START_TIMEOUT_S = 60.0  # for a worker to apply its limits and say it is ready
READY = "ready"  # a worker's first message


@dataclass(frozen=True)
class Job:
    """One query for a worker (pickled over the pipe)."""

    db_path: str
    sql: str
    timeout_s: float
    max_rows: int
    max_result_bytes: int
    checked: GuardResult | None = None  # the caller's guard verdict, so the worker does not parse again


@dataclass(frozen=True)
class CatalogFailure:
    """A worker's answer when the database file cannot be opened; the caller raises ``CatalogError``."""

    message: str


def _limit_memory(memory_bytes: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    # When the machine or the container runs out of memory anyway, the kernel kills a worker first
    # (the pool answers its query ``error`` and replaces it), not the gateway.
    with contextlib.suppress(OSError):  # not Linux, or /proc not writable
        Path("/proc/self/oom_score_adj").write_text(f"{OOM_SCORE_ADJ}\n")
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(f"PRAGMA hard_heap_limit = {memory_bytes // 2}")
    finally:
        conn.close()


def answer(job: Job, memory_bytes: int) -> ExecResult | CatalogFailure:
    """What a worker sends back for ``job``: a result value, whatever went wrong."""
    try:
        return execute_readonly(
            job.db_path,
            job.sql,
            timeout_s=job.timeout_s,
            max_rows=job.max_rows,
            max_result_bytes=job.max_result_bytes,
            checked=job.checked,
        )
    except CatalogError as e:
        return CatalogFailure(str(e))
    except MemoryError:
        return _failed(job.sql, "error", f"out of memory (worker limit {memory_bytes} bytes)")
    except Exception as e:  # a bug met by one query stays with that query
        log.exception("query failed in its worker")
        return _failed(job.sql, "error", f"internal error while executing: {type(e).__name__}")


def serve(conn: Connection, memory_bytes: int) -> None:
    """A worker's life: apply the limits, then answer jobs until the pipe closes or brings ``None``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's business
    _limit_memory(memory_bytes)
    conn.send(READY)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        reply = answer(job, memory_bytes)
        try:
            conn.send(reply)
        except MemoryError:  # pickling a large result under the worker's memory limit
            conn.send(_failed(job.sql, "error", f"out of memory (worker limit {memory_bytes} bytes)"))


def _failed(sql: str, status: ExecStatus, error: str, elapsed_ms: float = 0.0) -> ExecResult:
    return ExecResult(status, (), (), False, elapsed_ms, error, sql)


def check_limits(timeout_s: float, max_rows: int, max_result_bytes: int) -> None:
    """``ValueError`` for a non-positive limit, before any worker is asked."""
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
    if max_rows < 1:
        raise ValueError(f"max_rows must be >= 1, got {max_rows}")
    if max_result_bytes < 1:
        raise ValueError(f"max_result_bytes must be >= 1, got {max_result_bytes}")


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    idle_since: float = 0.0


class WorkerPool:
    """``workers`` SQL worker processes; :meth:`execute` is blocking and safe to call from many threads.

    A call takes the idle worker used last; when none is idle the pool grows, up to ``max_workers``
    (default ``workers``), by forking one more (milliseconds), so that queries that wait out their
    deadline do not make the others queue. Workers above ``workers`` stop after ``surplus_idle_s``
    idle. A call waits at most ``timeout_s + kill_grace_s`` for its answer. ``replaced`` counts the
    workers killed at a deadline or found dead.
    """

    def __init__(
        self,
        workers: int = 4,
        *,
        max_workers: int | None = None,
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
        kill_grace_s: float = KILL_GRACE_S,
        surplus_idle_s: float = SURPLUS_IDLE_S,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if max_workers is not None and max_workers < workers:
            raise ValueError(f"max_workers must be >= workers ({workers}), got {max_workers}")
        if memory_bytes < MIN_MEMORY_BYTES:
            raise ValueError(f"memory_bytes must be >= {MIN_MEMORY_BYTES}, got {memory_bytes}")
        if not kill_grace_s > 0:
            raise ValueError(f"kill_grace_s must be > 0, got {kill_grace_s}")
        self.workers = workers
        self.max_workers = workers if max_workers is None else max_workers
        self.memory_bytes = memory_bytes
        self.kill_grace_s = kill_grace_s
        self.surplus_idle_s = surplus_idle_s
        self.replaced = 0
        self._context: Any = multiprocessing.get_context(START_METHOD)
        if START_METHOD == "forkserver":
            self._context.set_forkserver_preload([__name__])
        self._idle: list[_Worker] = []  # a stack: the last released is taken first
        self._lock = threading.Condition()
        self._closed = False
        self._members: list[_Worker] = []
        self._refills: list[threading.Thread] = []
        self._starting = 0  # workers being started (to grow the pool or replace a killed one)
        self._waiting = 0  # calls waiting for an idle worker
        for _ in range(workers):
            self._release(self._start())
        self._reaper: threading.Thread | None = None
        if self.max_workers > workers:
            self._reaper = threading.Thread(target=self._reap, name="sqlensemble-sql-reaper", daemon=True)
            self._reaper.start()

    def _start(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=serve, args=(child, self.memory_bytes), name="sqlensemble-sql", daemon=True
        )
        process.start()
        child.close()
        try:
            ready = parent.recv() if parent.poll(START_TIMEOUT_S) else None
        except (EOFError, OSError):
            ready = None
        if ready != READY:
            process.kill()
            process.join(timeout=5)
            parent.close()
            raise OSError(f"an SQL worker did not start (exit code {process.exitcode})")
        worker = _Worker(process, parent)
        with self._lock:
            self._members.append(worker)
            self._lock.notify_all()
        return worker

    def execute(
        self,
        db_path: Path | str,
        sql: str,
        *,
        timeout_s: float = 30.0,
        max_rows: int = 10000,
        max_result_bytes: int = MAX_RESULT_BYTES,
        checked: GuardResult | None = None,
    ) -> ExecResult:
        """``execute_readonly`` in a worker, answered by ``timeout_s + kill_grace_s`` at the latest;
        ``checked``: the guard's verdict on ``sql``, when the caller has it (see ``execute_readonly``)."""
        check_limits(timeout_s, max_rows, max_result_bytes)
        if self._closed:
            raise RuntimeError("the SQL worker pool is closed")
        if checked is not None and not (checked.ok and checked.sql == sql.strip()):
            raise ValueError("checked must be the guard's acceptance of this SQL")
        job = Job(str(db_path), sql, timeout_s, max_rows, max_result_bytes, checked)
        worker = self._acquire()
        start = time.perf_counter()
        reply: ExecResult | CatalogFailure | None = None
        try:
            worker.conn.send(job)
            if worker.conn.poll(timeout_s + self.kill_grace_s):
                reply = worker.conn.recv()
        except (EOFError, OSError) as e:  # the worker died under the query (a crash, the OOM killer)
            elapsed = (time.perf_counter() - start) * 1000
            self._replace(worker)
            code = worker.process.exitcode
            return _failed(
                sql, "error", f"the SQL worker died (exit code {code}): {type(e).__name__}", elapsed
            )
        if reply is None:
            elapsed = (time.perf_counter() - start) * 1000
            self._replace(worker)
            return _failed(
                sql,
                "timeout",
                f"query exceeded the {timeout_s:g} s time limit (its worker was stopped)",
                elapsed,
            )
        self._release(worker)
        if isinstance(reply, CatalogFailure):
            raise CatalogError(reply.message)
        return reply

    def _acquire(self) -> _Worker:
        """The idle worker used last, else a new one while the pool may grow, else the next released."""
        with self._lock:
            if self._idle:
                return self._idle.pop()
            grow = len(self._members) + self._starting < self.max_workers
            if grow:
                self._starting += 1
            else:
                self._waiting += 1  # counted at once, so that a kill in between starts a replacement
        if grow:
            try:
                return self._start()
            except OSError:
                log.exception("cannot start an extra SQL worker; waiting for a busy one")
                with self._lock:
                    self._waiting += 1
            finally:
                with self._lock:
                    self._starting -= 1
        with self._lock:
            try:
                self._lock.wait_for(lambda: bool(self._idle) or self._closed)
            finally:
                self._waiting -= 1
            if not self._idle:
                raise RuntimeError("the SQL worker pool is closed")
            return self._idle.pop()

    def _release(self, worker: _Worker) -> None:
        if self._closed:
            self._stop(worker)
            return
        with self._lock:
            worker.idle_since = time.monotonic()
            self._idle.append(worker)
            self._lock.notify_all()

    def _reap(self) -> None:
        """Stop workers above ``workers`` once they have been idle for ``surplus_idle_s``."""
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._closed, timeout=self.surplus_idle_s / 2)
                if self._closed:
                    return
                cutoff = time.monotonic() - self.surplus_idle_s
                extra = len(self._members) - self.workers
                stale = [w for w in self._idle if w.idle_since < cutoff][: max(extra, 0)]
                self._idle = [w for w in self._idle if w not in stale]
            for worker in stale:
                self._stop(worker)

    def _replace(self, worker: _Worker) -> None:
        """Kill ``worker`` now; start a replacement in the background when the pool is below
        ``workers``, or when calls wait and it may grow."""
        self._stop(worker, kill=True)
        with self._lock:
            self.replaced += 1
            live = len(self._members) + self._starting
            need = not self._closed and (
                live < self.workers or (self._waiting > 0 and live < self.max_workers)
            )
            if need:
                self._starting += 1
                refill = threading.Thread(target=self._refill, name="sqlensemble-sql-refill", daemon=True)
                self._refills = [t for t in self._refills if t.is_alive()] + [refill]
        if need:
            refill.start()

    def _refill(self) -> None:
        try:
            while not self._closed:
                try:
                    worker = self._start()
                except OSError:
                    log.exception("cannot start an SQL worker; retrying in %s s", RESTART_DELAY_S)
                    time.sleep(RESTART_DELAY_S)
                    continue
                self._release(worker)
                return
        finally:
            with self._lock:
                self._starting -= 1

    def _stop(self, worker: _Worker, *, kill: bool = False) -> None:
        if kill:
            worker.process.kill()
        else:
            try:
                worker.conn.send(None)
            except OSError:
                worker.process.kill()
        worker.process.join(timeout=5)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join(timeout=5)
        worker.conn.close()
        with self._lock:
            if worker in self._members:
                self._members.remove(worker)
            self._lock.notify_all()

    def wait_whole(self, timeout_s: float) -> bool:
        """Wait until every killed worker has its replacement; ``False`` if that took over ``timeout_s``."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self._members) >= self.workers, timeout=timeout_s)

    def wait_shrunk(self, timeout_s: float) -> bool:
        """Wait until the pool is back to ``workers`` (extra ones idle long enough have stopped)."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self._members) <= self.workers, timeout=timeout_s)

    def pids(self) -> list[int]:
        """Process ids of the live workers (for tests and the fault bench)."""
        with self._lock:
            return [w.process.pid for w in self._members if w.process.pid is not None]

    def close(self) -> None:
        """Stop the idle workers now; a busy one stops when its query answers (or at its deadline).

        A replacement being started is waited for (and stopped), so that no half-started worker is
        left behind when the process exits.
        """
        with self._lock:
            self._closed = True
            self._lock.notify_all()
            threads = [*self._refills, *([self._reaper] if self._reaper else [])]
        for thread in threads:
            thread.join(timeout=30)
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            self._stop(worker)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Executor:
    """A :class:`WorkerPool` for asyncio callers: ``await executor.run(...)``.

    ``workers`` processes are kept, up to ``max_workers`` run at once (default ``workers``); the rest
    wait their turn. A query's deadline starts when a worker picks it up; a cancelled caller does not
    stop its query before the deadline.
    """

    def __init__(
        self, workers: int = 4, *, max_workers: int | None = None, memory_bytes: int = DEFAULT_MEMORY_BYTES
    ) -> None:
        self.pool = WorkerPool(workers, max_workers=max_workers, memory_bytes=memory_bytes)
        self.max_workers = self.pool.max_workers
        self._threads = ThreadPoolExecutor(self.max_workers, thread_name_prefix="sqlensemble-exec")

    async def run(
        self,
        db_path: Path | str,
        sql: str,
        *,
        timeout_s: float = 30.0,
        max_rows: int = 10000,
        max_result_bytes: int = MAX_RESULT_BYTES,
        checked: GuardResult | None = None,
    ) -> ExecResult:
        check_limits(timeout_s, max_rows, max_result_bytes)
        call = functools.partial(
            self.pool.execute,
            db_path,
            sql,
            timeout_s=timeout_s,
            max_rows=max_rows,
            max_result_bytes=max_result_bytes,
            checked=checked,
        )
        return await asyncio.get_running_loop().run_in_executor(self._threads, call)

    def close(self) -> None:
        self._threads.shutdown(wait=True, cancel_futures=True)
        self.pool.close()

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
