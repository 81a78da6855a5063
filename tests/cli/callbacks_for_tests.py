"""Callbacks that the CLI tests name by class path in a config."""

from __future__ import annotations

import time
from typing import Any

from lightning.pytorch import Callback


class SlowSteps(Callback):
    """Sleeps after every training step, so that a time limit stops the fit after a few steps."""

    def __init__(self, seconds: float = 0.5) -> None:
        self.seconds = seconds

    def on_train_batch_end(self, *args: Any, **kwargs: Any) -> None:
        time.sleep(self.seconds)


class InterruptAt(Callback):
    """Raises ``KeyboardInterrupt`` (as Ctrl-C would) when the global step reaches ``step``."""

    def __init__(self, step: int = 3) -> None:
        self.step = step

    def on_train_batch_start(self, trainer: Any, *args: Any, **kwargs: Any) -> None:
        if trainer.global_step >= self.step:
            raise KeyboardInterrupt
