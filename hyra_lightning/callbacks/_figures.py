"""Matplotlib figures without pyplot state, for the monitors' writer thread."""

from __future__ import annotations

import sys

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor

__all__ = ["new_figure", "render_figure"]


def new_figure(width: float = 5.0, height: float = 3.2, dpi: int = 100) -> Figure:
    """A matplotlib ``Figure`` on an Agg canvas, unknown to ``pyplot`` (nothing to leak)."""
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def render_figure(fig: Figure) -> Tensor:
    """Rasterise ``fig`` to a ``3 x H x W`` float image in [0, 1] and close it.

    Works for figures made by :func:`new_figure` and for ``pyplot`` figures (which are closed in ``pyplot``
    too, so that no figure accumulates in a long run).
    """
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba(), dtype=np.uint8)
    image = torch.from_numpy(np.ascontiguousarray(rgba[..., :3].transpose(2, 0, 1))).float() / 255.0
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)
    return image
