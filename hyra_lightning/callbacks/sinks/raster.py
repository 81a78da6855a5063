"""Rasterising matplotlib figures for loggers that store images."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["figure_to_array"]


def figure_to_array(figure: Figure) -> np.ndarray:
    """Render ``figure`` with the Agg backend and return its pixels as ``H x W x 3`` ``uint8``."""
    canvas = figure.canvas if isinstance(figure.canvas, FigureCanvasAgg) else FigureCanvasAgg(figure)
    canvas.draw()
    return np.ascontiguousarray(np.asarray(canvas.buffer_rgba())[..., :3])
