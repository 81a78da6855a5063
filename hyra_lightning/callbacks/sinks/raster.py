"""Rasterising matplotlib figures for loggers that store images."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["check_rgb_uint8", "figure_to_array"]


def figure_to_array(figure: Figure) -> np.ndarray:
    """Render ``figure`` with the Agg backend and return its pixels as ``H x W x 3`` ``uint8``."""
    canvas = figure.canvas if isinstance(figure.canvas, FigureCanvasAgg) else FigureCanvasAgg(figure)
    canvas.draw()
    return np.ascontiguousarray(np.asarray(canvas.buffer_rgba())[..., :3])


def check_rgb_uint8(image: np.ndarray, name: str = "image") -> np.ndarray:
    """``image`` as a C-contiguous ``H x W x 3`` ``uint8`` array, or a ``ValueError`` naming ``name``."""
    if (
        not isinstance(image, np.ndarray)
        or image.dtype != np.uint8
        or image.ndim != 3
        or image.shape[-1] != 3
    ):
        got = (
            f"{image.dtype} array of shape {image.shape}"
            if isinstance(image, np.ndarray)
            else type(image).__name__
        )
        raise ValueError(f"Expected `{name}` to be an H x W x 3 uint8 array, got {got}.")
    return np.ascontiguousarray(image)
