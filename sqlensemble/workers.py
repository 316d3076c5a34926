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
import queue
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

log = logging.getLogger("sqlensemble.workers")

KILL_GRACE_S = 0.5  # after the deadline, before the worker is killed; the progress handler usually wins
DEFAULT_MEMORY_BYTES = 2**30  # address space per worker; SQLite's heap limit is half of it
MIN_MEMORY_BYTES = 256 * 2**20
START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
OOM_SCORE_ADJ = 1000  # the most likely victim of the kernel's OOM killer
RESTART_DELAY_S = 1.0
START_TIMEOUT_S = 60.0  # for a worker to apply its limits and say it is ready
READY = "ready"  # between attempts to start a replacement that failed to start


@dataclass(frozen=True)
class Job:
    """One query for a worker (pickled over the pipe)."""

    db_path: str
    sql: str
    timeout_s: float
    max_rows: int
    max_result_bytes: int


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
        conn.send(answer(job, memory_bytes))


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


class WorkerPool:
    """``workers`` SQL worker processes; :meth:`execute` is blocking and safe to call from many threads.

    A call waits for an idle worker, then at most ``timeout_s + kill_grace_s`` for its answer.
    ``replaced`` counts the workers killed at a deadline or found dead.
    """

    def __init__(
        self,
        workers: int = 4,
        *,
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
        kill_grace_s: float = KILL_GRACE_S,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if memory_bytes < MIN_MEMORY_BYTES:
            raise ValueError(f"memory_bytes must be >= {MIN_MEMORY_BYTES}, got {memory_bytes}")
        if not kill_grace_s > 0:
            raise ValueError(f"kill_grace_s must be > 0, got {kill_grace_s}")
        self.workers = workers
        self.memory_bytes = memory_bytes
        self.kill_grace_s = kill_grace_s
        self.replaced = 0
        self._context: Any = multiprocessing.get_context(START_METHOD)
        if START_METHOD == "forkserver":
            self._context.set_forkserver_preload([__name__])
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._lock = threading.Condition()
        self._closed = False
        self._members: list[_Worker] = []
        self._refills: list[threading.Thread] = []
        for _ in range(workers):
            self._idle.put(self._start())

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
    ) -> ExecResult:
        """``execute_readonly`` in a worker, answered by ``timeout_s + kill_grace_s`` at the latest."""
        check_limits(timeout_s, max_rows, max_result_bytes)
        if self._closed:
            raise RuntimeError("the SQL worker pool is closed")
        job = Job(str(db_path), sql, timeout_s, max_rows, max_result_bytes)
        worker = self._idle.get()
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

    def _release(self, worker: _Worker) -> None:
        if self._closed:
            self._stop(worker)
        else:
            self._idle.put(worker)

    def _replace(self, worker: _Worker) -> None:
        """Kill ``worker`` now; start its replacement in the background."""
        self._stop(worker, kill=True)
        with self._lock:
            self.replaced += 1
        if not self._closed:
            refill = threading.Thread(target=self._refill, name="sqlensemble-sql-refill", daemon=True)
            with self._lock:
                self._refills = [t for t in self._refills if t.is_alive()] + [refill]
            refill.start()

    def _refill(self) -> None:
        while not self._closed:
            try:
                worker = self._start()
            except OSError:
                log.exception("cannot start an SQL worker; retrying in %s s", RESTART_DELAY_S)
                time.sleep(RESTART_DELAY_S)
                continue
            self._release(worker)
            return

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

    def wait_whole(self, timeout_s: float) -> bool:
        """Wait until every killed worker has its replacement; ``False`` if that took over ``timeout_s``."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self._members) >= self.workers, timeout=timeout_s)

    def pids(self) -> list[int]:
        """Process ids of the live workers (for tests and the fault bench)."""
        with self._lock:
            return [w.process.pid for w in self._members if w.process.pid is not None]

    def close(self) -> None:
        """Stop the idle workers now; a busy one stops when its query answers (or at its deadline).

        A replacement being started is waited for (and stopped), so that no half-started worker is
        left behind when the process exits.
        """
        self._closed = True
        with self._lock:
            refills = list(self._refills)
        for refill in refills:
            refill.join(timeout=30)
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                return
            self._stop(worker)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Executor:
    """A :class:`WorkerPool` for asyncio callers: ``await executor.run(...)``.

    At most ``max_workers`` queries run at once; the rest wait their turn. A query's deadline starts
    when a worker picks it up; a cancelled caller does not stop its query before the deadline.
    """

    def __init__(self, max_workers: int = 4, *, memory_bytes: int = DEFAULT_MEMORY_BYTES) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers}")
        self.max_workers = max_workers
        self.pool = WorkerPool(max_workers, memory_bytes=memory_bytes)
        self._threads = ThreadPoolExecutor(max_workers, thread_name_prefix="sqlensemble-exec")

    async def run(
        self,
        db_path: Path | str,
        sql: str,
        *,
        timeout_s: float = 30.0,
        max_rows: int = 10000,
        max_result_bytes: int = MAX_RESULT_BYTES,
    ) -> ExecResult:
        check_limits(timeout_s, max_rows, max_result_bytes)
        call = functools.partial(
            self.pool.execute,
            db_path,
            sql,
            timeout_s=timeout_s,
            max_rows=max_rows,
            max_result_bytes=max_result_bytes,
        )
        return await asyncio.get_running_loop().run_in_executor(self._threads, call)

    def close(self) -> None:
        self._threads.shutdown(wait=True, cancel_futures=True)
        self.pool.close()

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
