"""Short fits run in a child process by the tests that kill or interrupt a fit (``python -m`` this module).

``kill ROOT``: the three monitors, TensorBoard, a checkpoint every 3 steps and slow panels; the process kills
itself with SIGKILL at step 8, between two checkpoints.

``stuck ROOT``: an impulse probe at every step into a TensorBoard sink that never returns; prints ``STUCK`` when
the sink hangs and trains until a signal ends it.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint

import hyra_lightning.analysis as analysis
from hyra_lightning import FrequencySimilarityMonitor, HyRAMonitor, ImpulseResponseMonitor
from hyra_lightning.callbacks.sinks import TensorBoardSink
from tests.callbacks.helpers import PhotoData, SRModule, make_trainer

KILL_AT_STEP = 8
CHECKPOINT_EVERY = 3


class _KillAt(pl.Callback):
    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.global_step == KILL_AT_STEP:
            os.kill(os.getpid(), signal.SIGKILL)


def _slow(fn: Any, seconds: float) -> Any:
    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(seconds)
        return fn(*args, **kwargs)

    return slow


def kill(root: Path) -> None:
    analysis.hyra_panel = _slow(analysis.hyra_panel, 0.3)  # the writer lags behind the training
    checkpoint = ModelCheckpoint(
        dirpath=root / "checkpoints", every_n_train_steps=CHECKPOINT_EVERY, save_top_k=-1, filename="{step}"
    )
    monitors = [
        _KillAt(),  # before the monitors: the probe of the step it kills at never happens
        ImpulseResponseMonitor(every_n_steps=2),
        HyRAMonitor(),
        FrequencySimilarityMonitor(num_bands=16),
        checkpoint,
    ]
    trainer = make_trainer(root, monitors, max_steps=30, enable_checkpointing=True)
    trainer.fit(SRModule(), datamodule=PhotoData())


def stuck(root: Path) -> None:
    hang = threading.Event()

    def never_returns(self: TensorBoardSink, *args: Any, **kwargs: Any) -> None:
        print("STUCK", flush=True)
        hang.wait()

    TensorBoardSink.log_image = never_returns  # type: ignore[method-assign]
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # the test asks for the stacks if this hangs
    # Ctrl-C as in a terminal: a process started in the background by a non-interactive shell (a CI script
    # running `cmd &`) inherits SIGINT ignored, and Python then leaves it ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    trainer = make_trainer(
        root, [ImpulseResponseMonitor(every_n_steps=1)], max_steps=100_000, limit_val_batches=0
    )
    trainer.fit(SRModule(), datamodule=PhotoData())


if __name__ == "__main__":
    {"kill": kill, "stuck": stuck}[sys.argv[1]](Path(sys.argv[2]))
