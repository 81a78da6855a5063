"""The interface every logger family's sink implements."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from lightning.pytorch.loggers import Logger
from matplotlib.figure import Figure

__all__ = ["Sink", "check_logger"]


class Sink:
    """Writes a monitor's media to one Lightning logger.

    A sink is only ever called on global rank zero, possibly from the monitors' background writer thread, and
    never from two threads at once. Scalars do not pass through sinks: they go to every logger through
    ``logger.log_metrics``.

    Subclasses implement :meth:`log_image`; the other methods have defaults that suit a logger which only
    stores images: a figure is rasterised and logged as an image, a curve is left to its figure, a layout
    and a flush do nothing.

    Args:
        logger: the Lightning logger written to.
    """

    def __init__(self, logger: Logger) -> None:
        self.logger = logger

    @property
    def location(self) -> str | None:
        """Where this sink writes a layout (a log directory), or ``None`` for a sink that keeps no layout: a
        monitor writes its layout once per location."""
        return None

    def log_image(self, tag: str, image: np.ndarray, step: int, caption: str | None = None) -> None:
        """Write ``image`` (``H x W x 3`` ``uint8``) as ``tag`` at ``step``, with an optional caption."""
        raise NotImplementedError

    def log_figure(self, tag: str, figure: Figure, step: int, caption: str | None = None) -> None:
        """Write a matplotlib figure as ``tag`` at ``step``; the caller closes the figure afterwards."""
        from hyra_lightning.callbacks.sinks.raster import figure_to_array

        self.log_image(tag, figure_to_array(figure), step, caption=caption)

    def log_curve(
        self,
        tag: str,
        x: np.ndarray,
        series: Mapping[str, np.ndarray],
        step: int,
        *,
        x_label: str,
        y_label: str,
    ) -> None:
        """Write curves ``series`` (name -> values over ``x``) as data a logger can compare across runs.

        The default does nothing: the same curves reach every logger as a figure.
        """

    def log_layout(self, layout: Mapping[str, Mapping[str, Sequence[Any]]]) -> None:
        """Write a TensorBoard custom-scalars layout; other loggers ignore it."""

    def flush(self) -> None:
        """Make everything written so far durable (called at the end of ``fit``/``validate``/``test``)."""


def check_logger(owner: str, logger: Logger, logger_class: type[Logger], package: str, extra: str) -> None:
    """Raise unless ``logger`` is a ``logger_class`` and ``package`` is installed (for the sinks of optional loggers).

    Raises:
        TypeError: naming the expected logger class.
        ModuleNotFoundError: naming the package and the extra that installs it.
    """
    name = logger_class.__name__
    if not isinstance(logger, logger_class):
        article = "an" if name.startswith(("A", "E", "I", "O", "U", "ML")) else "a"  # "an MLFlowLogger"
        raise TypeError(f"Expected `logger` to be {article} {name}, got {type(logger).__name__}.")
    if importlib.util.find_spec(package) is None:
        raise ModuleNotFoundError(
            f"{owner} needs the `{package}` package: `pip install hyra-lightning[{extra}]` (or"
            f" `pip install {package}`)."
        )
