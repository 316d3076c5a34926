"""Trainer callbacks. Imports ``transformers`` at module level: import this module inside functions.

:class:`TrainingLogCallback` appends one line per logging step to ``training.log`` in the output
folder, e.g. ``step=20 epoch=0.40 loss=1.2345 learning_rate=1.9e-03``; a resumed run appends to
the same file, after a line that says where it resumed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

LOGGED_KEYS = ("loss", "learning_rate", "grad_norm", "train_loss")


def format_log_line(step: int, epoch: float | None, logs: dict[str, Any]) -> str:
    """One ``training.log`` line.

    >>> format_log_line(20, 0.4, {"loss": 1.23456, "learning_rate": 0.0019, "other": 1})
    'step=20 epoch=0.40 loss=1.2346 learning_rate=1.9e-03'
    """
    parts = [f"step={step}"]
    if epoch is not None:
        parts.append(f"epoch={epoch:.2f}")
    for key in LOGGED_KEYS:
        value = logs.get(key)
        if isinstance(value, int | float):
            parts.append(f"{key}={value:.1e}" if key == "learning_rate" else f"{key}={value:.4f}")
    return " ".join(parts)


class TrainingLogCallback(TrainerCallback):  # type: ignore[misc]
    """Appends loss and learning rate to ``path`` on the main process."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _write(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            self._write(f"# {stamp} train begin at step={state.global_step} max_steps={state.max_steps}")

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if state.is_world_process_zero and logs and any(k in logs for k in LOGGED_KEYS):
            self._write(format_log_line(state.global_step, state.epoch, logs))
