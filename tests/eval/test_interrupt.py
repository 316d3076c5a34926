"""Ctrl-C during an evaluation: the first SIGINT always ends the run, even while the event loop sleeps.

The cause of the eval test's old "rare" hang: ``asyncio.run`` handles SIGINT with ``signal.signal``
alone, so a signal whose C-level handler runs just before the loop blocks in ``epoll_wait`` (or on
another thread) is noticed only when the loop next wakes, and with every request parked at the gateway
it never does. Here the signal is aimed at a helper thread, which makes that window certain.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time

import pytest

from sqlensemble.eval.cli import interruptible

PARKED_S = 30.0  # how long the loop would sleep if the signal did not wake it


def _sigint_from_another_thread(parked: threading.Event) -> threading.Thread:
    def send() -> None:
        parked.wait()
        time.sleep(0.2)  # let the loop reach epoll_wait
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


async def _park(parked: threading.Event, cancelled: list[bool]) -> str:
    parked.set()
    try:
        await asyncio.sleep(PARKED_S)
    except asyncio.CancelledError:
        cancelled.append(True)
        raise
    return "slept"


def test_sigint_wakes_a_sleeping_loop_and_cancels_the_work() -> None:
    parked, cancelled = threading.Event(), []
    thread = _sigint_from_another_thread(parked)
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(interruptible(_park(parked, cancelled)))
    thread.join()
    assert time.monotonic() - start < PARKED_S / 3  # interrupted, not slept out
    assert cancelled == [True]  # the work saw the cancellation (its finally blocks ran)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back


def test_work_that_finishes_returns_its_value() -> None:
    async def quick() -> int:
        return 7

    assert asyncio.run(interruptible(quick())) == 7
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
