"""The Weights & Biases sink: images with captions, figures as images, curves as W&B line plots."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from lightning.pytorch.loggers import WandbLogger

from hyra_lightning.callbacks.sinks.base import Sink, check_logger
from hyra_lightning.callbacks.sinks.raster import check_rgb_uint8

__all__ = ["WandbSink", "curve_key"]


def curve_key(tag: str) -> str:
    """W&B key of the line plot of the curve ``tag``: ``<tag>_plot`` (its data table is ``<tag>_plot_table``).

    Distinct from ``tag`` itself, which holds the curve's figure as an image.

    Example:
        >>> curve_key("fsds/curve")
        'fsds/curve_plot'
    """
    return f"{tag}_plot"


class WandbSink(Sink):
    """Writes a monitor's media to the run of a :class:`~lightning.pytorch.loggers.WandbLogger`.

    - images: ``WandbLogger.log_image(tag, [image], step, caption=[caption])``, one ``wandb.Image`` under
      ``tag`` with its caption (W&B's media panel, with a step slider);
    - figures: rasterised by Agg and written as images (:meth:`Sink.log_figure`);
    - curves: a W&B line plot under :func:`curve_key` (``<tag>_plot``), one line per series, drawn from a
      ``wandb.Table`` with the columns ``x_label``, ``y_label`` and ``series``; W&B draws the latest table of
      every run of a workspace in one chart, so the curves of several runs compare. Non-finite points are
      left out of the table;
    - layouts: ignored (W&B builds its own panels).

    Like every value the logger writes, each entry also records ``trainer/global_step = step`` (W&B's own
    ``_step`` counts calls to ``log``, as with Lightning's scalars); the logger's ``prefix`` applies.

    Args:
        logger: a ``WandbLogger`` (needs the ``wandb`` package: ``pip install hyra-lightning[wandb]``).

    Raises:
        TypeError: if ``logger`` is not a ``WandbLogger``.
        ModuleNotFoundError: if ``wandb`` is not installed.
    """

    logger: WandbLogger

    def __init__(self, logger: WandbLogger) -> None:
        check_logger("WandbSink", logger, WandbLogger, "wandb", "wandb")
        super().__init__(logger)

    def log_image(self, tag: str, image: np.ndarray, step: int, caption: str | None = None) -> None:
        """Write ``image`` (``H x W x 3`` ``uint8``) as ``tag`` at ``step``, with ``caption`` under it."""
        image = check_rgb_uint8(image)
        kwargs = {} if caption is None else {"caption": [caption]}
        self.logger.log_image(tag, [image], step=step, **kwargs)

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
        """Write ``series`` (name -> values over ``x``) as a W&B line plot under :func:`curve_key` ``(tag)``."""
        import wandb

        xs = np.asarray(x, dtype=np.float64).reshape(-1)
        rows = []
        for name, values in series.items():
            ys = np.asarray(values, dtype=np.float64).reshape(-1)
            if ys.shape != xs.shape:
                raise ValueError(
                    f"Expected `series[{name!r}]` to hold {xs.size} values (one per `x`), got {ys.size}."
                )
            rows.extend(
                [float(a), float(b), str(name)]
                for a, b in zip(xs, ys, strict=True)
                if math.isfinite(a) and math.isfinite(b)
            )
        table = wandb.Table(columns=[x_label, y_label, "series"], data=rows)
        chart = wandb.plot.line(table, x_label, y_label, stroke="series", title=f"{tag} (step {step})")
        self.logger.log_metrics({curve_key(tag): chart}, step=step)  # type: ignore[dict-item]
