"""The one writer of the ``fsds/...`` tags, shared by :class:`FrequencySimilarityMonitor` and :func:`log_fsds`.

- :func:`fsds_scalars`: ``fsds/val`` and ``fsds/band_<kk>`` from a score and a curve;
- :func:`write_fsds_curve`: the ``fsds/curve`` figure (model, and bicubic when known) to every sink, and the
  same curves as data through :meth:`Sink.log_curve` (a W&B line plot, an MLflow JSON artifact);
- :func:`write_fsds_band_map`: the ``fsds/band_map`` image (FSDS per band against validation step);
- :func:`log_fsds`: all of it for a :class:`~hyra_lightning.metrics.FrequencySpectrumDistributionSimilarity`
  and a list of Lightning loggers, outside any monitor (a notebook, a custom loop).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from hyra_lightning.tags import FSDS_BAND_MAP, FSDS_CURVE, FSDS_VAL, fsds_band

if TYPE_CHECKING:
    from lightning.pytorch.loggers import Logger
    from matplotlib.figure import Figure

    from hyra_lightning.callbacks.sinks import Sink
    from hyra_lightning.metrics import FrequencySpectrumDistributionSimilarity

__all__ = [
    "CURVE_X_LABEL",
    "CURVE_Y_LABEL",
    "fsds_scalars",
    "log_fsds",
    "write_fsds_band_map",
    "write_fsds_curve",
]

#: Axis names of the ``fsds/curve`` data (columns of the W&B table, keys of the MLflow artifact).
CURVE_X_LABEL = "radial frequency (Nyquist units)"
CURVE_Y_LABEL = "FSDS (dB)"


def fsds_scalars(value: float, curve: Sequence[float]) -> dict[str, float]:
    """``{"fsds/val": value, "fsds/band_00": curve[0], ...}``; non-finite values are kept (the writer leaves
    them out of the loggers, which cannot chart them).

    Example:
        >>> fsds_scalars(30.0, [40.0, 20.0])
        {'fsds/val': 30.0, 'fsds/band_00': 40.0, 'fsds/band_01': 20.0}
    """
    values = {FSDS_VAL: float(value)}
    values.update({fsds_band(k): float(v) for k, v in enumerate(curve)})
    return values


def _curve_series(
    curve: Sequence[float] | Tensor, bicubic: Sequence[float] | Tensor | None
) -> dict[str, np.ndarray]:
    def as_array(x: Sequence[float] | Tensor) -> np.ndarray:
        if isinstance(x, Tensor):
            return x.detach().to("cpu", torch.float64).numpy()
        return np.asarray(x, dtype=np.float64)

    series = {"model": as_array(curve)}
    if bicubic is not None:
        series["bicubic"] = as_array(bicubic)
    return series


def write_fsds_curve(
    sinks: Iterable[Sink],
    step: int,
    frequencies: Sequence[float] | Tensor,
    curve: Sequence[float] | Tensor,
    *,
    value: float,
    bicubic: Sequence[float] | Tensor | None = None,
    scale: int | None = None,
    ax: Any = None,
) -> None:
    """Draw ``fsds/curve`` (the model's curve, bicubic's beside it when given) and write it to every sink.

    Every sink gets the figure as an image (with a caption) and the curves as data
    (:meth:`~hyra_lightning.callbacks.sinks.Sink.log_curve`: a W&B line plot, an MLflow JSON artifact; nothing
    for TensorBoard and PNG files, which have the figure).

    Args:
        sinks: where to write (global rank zero).
        step: the step of the values.
        frequencies: band centres ``(num_bands,)``.
        curve: the model's FSDS per band ``(num_bands,)``.
        value: the dataset FSDS (in the title).
        bicubic: bicubic interpolation's FSDS per band on the same images, or ``None``.
        scale: SR scale factor; marks the LR Nyquist frequency.
        ax: a matplotlib axis to draw into (a template reused across steps); a new figure when ``None``.
    """
    from hyra_lightning.callbacks.sinks.raster import figure_to_array
    from hyra_lightning.metrics import plot_frequency_similarity

    sinks = list(sinks)
    if not sinks:
        return
    series = _curve_series(curve, bicubic)
    freqs = _curve_series(frequencies, None)["model"]
    if ax is not None:
        ax.cla()
    fig, ax = plot_frequency_similarity(freqs, series, scale=scale, ax=ax, title=None)
    ax.set_title(f"frequency similarity, step {step} (mean {value:.2f} dB)", fontsize=9)
    image = figure_to_array(fig)
    caption = f"FSDS per band at step {step}: model" + (
        " and bicubic on the same images" if bicubic is not None else ""
    )
    for sink in sinks:
        sink.log_image(FSDS_CURVE, image, step, caption=caption)
        sink.log_curve(FSDS_CURVE, freqs, series, step, x_label=CURVE_X_LABEL, y_label=CURVE_Y_LABEL)


def write_fsds_band_map(
    sinks: Iterable[Sink],
    steps: Sequence[int],
    curves: Sequence[Sequence[float]],
    *,
    scale: int | None = None,
) -> None:
    """Draw ``fsds/band_map`` (FSDS per band, rows, against validation step, columns) and write it to every sink
    at the last step."""
    from hyra_lightning.analysis import fsds_band_map
    from hyra_lightning.callbacks.sinks.raster import figure_to_array

    sinks = list(sinks)
    if not sinks or not steps:
        return
    fig: Figure = fsds_band_map(np.asarray(curves, dtype=np.float64), [int(s) for s in steps], scale=scale)
    image = figure_to_array(fig)
    caption = f"FSDS per band (rows, lowest frequency at the bottom) over {len(steps)} validation runs"
    for sink in sinks:
        sink.log_image(FSDS_BAND_MAP, image, int(steps[-1]), caption=caption)


def log_fsds(
    metric: FrequencySpectrumDistributionSimilarity,
    loggers: Logger | Sequence[Logger],
    step: int,
    *,
    scale: int | None = None,
    bicubic: Sequence[float] | Tensor | None = None,
    default_root: str | None = None,
) -> dict[str, float]:
    """Log a metric's score, band scalars and curve figure to Lightning loggers, as the monitor does.

    ``fsds/val`` and ``fsds/band_<kk>`` go to every logger (``log_metrics``; non-finite values left out);
    ``fsds/curve`` goes to every logger through its sink (:func:`~hyra_lightning.callbacks.sinks.sinks_for`:
    TensorBoard images, W&B images and a line plot, MLflow step-indexed images, PNG files for the others).
    The states are synchronised across processes (a collective in DDP: call it on every rank); only global
    rank zero writes. Runs on the calling thread.

    Args:
        metric: the metric, updated with the images to report.
        loggers: one Lightning logger or several.
        step: the step of the values.
        scale: SR scale factor; marks the LR Nyquist frequency in the figure.
        bicubic: bicubic interpolation's curve on the same images, drawn beside the metric's.
        default_root: directory for the PNG files of a logger without a directory of its own.

    Returns:
        The scalars, ``{"fsds/val": ..., "fsds/band_00": ..., ...}`` (non-finite values included).

    Example:
        >>> import torch
        >>> from lightning.pytorch.loggers import CSVLogger
        >>> from hyra_lightning.metrics import FSDS
        >>> metric = FSDS(num_bands=4)
        >>> hr = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> metric.update((hr + 0.05).clamp(0, 1), hr)
        >>> import tempfile
        >>> values = log_fsds(metric, CSVLogger(tempfile.mkdtemp()), step=0, scale=2)
        >>> sorted(values)
        ['fsds/band_00', 'fsds/band_01', 'fsds/band_02', 'fsds/band_03', 'fsds/val']
    """
    from lightning.pytorch.loggers import Logger as _Logger
    from lightning.pytorch.utilities.rank_zero import rank_zero_only

    from hyra_lightning.callbacks.sinks import failure_report, isolate, sinks_for

    loggers = [loggers] if isinstance(loggers, _Logger) else list(loggers)
    value, (freqs, curve) = metric.compute_with_curve()
    host = torch.cat([value.reshape(1).to(curve.dtype), curve]).to("cpu", torch.float64)
    values = fsds_scalars(float(host[0]), host[1:].tolist())
    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    rank = torch.distributed.get_rank() if distributed else getattr(rank_zero_only, "rank", 0)
    if rank != 0:
        return values
    finite = {tag: v for tag, v in values.items() if math.isfinite(v)}
    for logger in loggers:
        if finite:
            logger.log_metrics(dict(finite), step=step)
    sinks = isolate(sinks_for(loggers, default_root=default_root))  # a failing sink costs only its own writes
    write_fsds_curve(sinks, step, freqs, host[1:], value=float(host[0]), bicubic=bicubic, scale=scale)
    for sink in sinks:
        sink.flush()
    report = failure_report(sinks)
    if report is not None:
        warnings.warn(
            f"log_fsds could not write everything at step {step}: {report}.", UserWarning, stacklevel=2
        )
    return values
