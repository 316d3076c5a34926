"""The run's progress bar (on stderr): questions done, running EX of the ensemble, questions per second."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from sqlensemble.eval.runner import RunState


def _fields(state: RunState) -> dict[str, Any]:
    ex = state.running_ex
    return {
        "ex": "–" if ex is None else f"{ex:.1f}%",
        "rate": f"{state.rate:.2f}",
        "failed": str(len(state.failures)),
    }


class ProgressBar:
    """Shown from ``ready()`` (the gateway answered its checks) until the ``progress_bar`` block ends."""

    def __init__(self, state: RunState, enabled: bool) -> None:
        self.state = state
        self._progress = Progress(
            TextColumn("[bold]eval"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("EX {task.fields[ex]}"),
            TextColumn("{task.fields[rate]} q/s"),
            TextColumn("failed {task.fields[failed]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=not enabled,
        )
        self._task: TaskID | None = None

    def ready(self) -> None:
        done = len(self.state.answered)
        self._task = self._progress.add_task(
            "eval", total=self.state.total, completed=done, **_fields(self.state)
        )
        self._progress.start()

    def update(self, state: RunState) -> None:
        if self._task is not None:
            done = len(state.answered) + len(state.failures)
            self._progress.update(self._task, completed=done, **_fields(state))

    def stop(self) -> None:
        self._progress.stop()


@contextmanager
def progress_bar(state: RunState, enabled: bool = True) -> Iterator[ProgressBar]:
    bar = ProgressBar(state, enabled)
    try:
        yield bar
    finally:
        bar.stop()
