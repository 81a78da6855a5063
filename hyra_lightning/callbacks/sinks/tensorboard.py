"""The TensorBoard sink: images and rasterised figures through the logger's ``SummaryWriter``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from lightning.pytorch.loggers import Logger

from hyra_lightning.callbacks.sinks.base import Sink

__all__ = ["TensorBoardSink"]


class TensorBoardSink(Sink):
    """Writes images, figures (rasterised, as ``SummaryWriter.add_figure`` does) and the custom-scalars layout to
    a :class:`~lightning.pytorch.loggers.TensorBoardLogger`.

    The ``SummaryWriter`` is taken from the logger when the sink is made (on the training thread, where
    Lightning has already created it), so the writer thread never creates a second one. Captions are not
    written: TensorBoard's image dashboard has no place for them.

    Args:
        logger: a :class:`~lightning.pytorch.loggers.TensorBoardLogger` (or any logger whose ``experiment`` is a
            ``SummaryWriter``).
    """

    def __init__(self, logger: Logger) -> None:
        super().__init__(logger)
        self.writer = logger.experiment

    @property
    def location(self) -> str | None:
        """The event files' directory (``SummaryWriter.log_dir``)."""
        log_dir = getattr(self.writer, "log_dir", None)
        if log_dir is None and hasattr(self.writer, "get_logdir"):
            log_dir = self.writer.get_logdir()
        return None if log_dir is None else str(log_dir)

    def log_image(self, tag: str, image: np.ndarray, step: int, caption: str | None = None) -> None:
        """Write ``image`` (``H x W x 3`` ``uint8``) as the image ``tag`` at ``step``."""
        self.writer.add_image(tag, image, global_step=step, dataformats="HWC")

    def log_layout(self, layout: Mapping[str, Mapping[str, Sequence[Any]]]) -> None:
        """Write the layout of the ``CUSTOM SCALARS`` tab (``SummaryWriter.add_custom_scalars``)."""
        self.writer.add_custom_scalars({name: dict(charts) for name, charts in layout.items()})

    def flush(self) -> None:
        """Flush the event file."""
        self.writer.flush()
