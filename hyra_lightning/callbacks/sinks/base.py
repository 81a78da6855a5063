"""The interface every logger family's sink implements."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from lightning.pytorch.loggers import Logger
from matplotlib.figure import Figure

__all__ = ["IsolatedSink", "Sink", "check_logger", "failure_report", "isolate"]


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


class IsolatedSink(Sink):
    """Wraps a sink so that each write is independent: a write that raises loses only its own picture.

    Every call to :meth:`log_image`, :meth:`log_figure`, :meth:`log_curve`, :meth:`log_layout` and :meth:`flush`
    is attempted; an exception is caught and counted (:attr:`failures`, with the first one kept in
    :attr:`first_error`) instead of reaching the caller, so the next picture and the other sinks are still
    written. The monitors wrap their sinks in it and report the counts at the end of the run.

    Args:
        sink: the sink written through.
        label: the name the counts are reported under (by default the sink's class name).
    """

    def __init__(self, sink: Sink, label: str | None = None) -> None:
        super().__init__(sink.logger)
        self.sink = sink
        self.label = label or type(sink).__name__
        #: Writes attempted and writes that raised.
        self.attempts = 0
        self.failures = 0
        #: ``"TypeName: message"`` of the first write that raised, or ``None``.
        self.first_error: str | None = None

    @property
    def location(self) -> str | None:
        """The wrapped sink's :attr:`~Sink.location`."""
        return self.sink.location

    def _attempt(self, write: Any, *args: Any, **kwargs: Any) -> None:
        self.attempts += 1
        try:
            write(*args, **kwargs)
        except Exception as err:  # one failing write must not cost the others
            self.failures += 1
            if self.first_error is None:
                self.first_error = f"{type(err).__name__}: {err}"

    def log_image(self, tag: str, image: np.ndarray, step: int, caption: str | None = None) -> None:
        """:meth:`Sink.log_image` of the wrapped sink; an exception is counted, not raised."""
        self._attempt(self.sink.log_image, tag, image, step, caption=caption)

    def log_figure(self, tag: str, figure: Figure, step: int, caption: str | None = None) -> None:
        """:meth:`Sink.log_figure` of the wrapped sink; an exception is counted, not raised."""
        self._attempt(self.sink.log_figure, tag, figure, step, caption=caption)

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
        """:meth:`Sink.log_curve` of the wrapped sink; an exception is counted, not raised."""
        self._attempt(self.sink.log_curve, tag, x, series, step, x_label=x_label, y_label=y_label)

    def log_layout(self, layout: Mapping[str, Mapping[str, Sequence[Any]]]) -> None:
        """:meth:`Sink.log_layout` of the wrapped sink; an exception is counted, not raised."""
        self._attempt(self.sink.log_layout, layout)

    def flush(self) -> None:
        """:meth:`Sink.flush` of the wrapped sink; an exception is counted, not raised."""
        self._attempt(self.sink.flush)


def isolate(sinks: Sequence[Sink]) -> list[IsolatedSink]:
    """Each sink wrapped in an :class:`IsolatedSink`, labelled by its class name (``#2``, ``#3``... for repeats)."""
    isolated: list[IsolatedSink] = []
    seen: dict[str, int] = {}
    for sink in sinks:
        name = type(sink).__name__
        seen[name] = seen.get(name, 0) + 1
        isolated.append(IsolatedSink(sink, name if seen[name] == 1 else f"{name}#{seen[name]}"))
    return isolated


def failure_report(sinks: Sequence[IsolatedSink]) -> str | None:
    """``"TensorBoardSink: 7 of 33 writes failed (first: OSError: ...)"`` for every sink with failures, joined by
    ``"; "``, or ``None`` when every write succeeded."""
    parts = [
        f"{sink.label}: {sink.failures} of {sink.attempts} writes failed (first: {sink.first_error})"
        for sink in sinks
        if sink.failures
    ]
    return "; ".join(parts) if parts else None
