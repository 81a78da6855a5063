"""Rasterising matplotlib figures and image tensors for the sinks (``H x W x 3`` ``uint8`` arrays)."""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["check_rgb_uint8", "figure_to_array", "image_to_array"]


def figure_to_array(figure: Figure) -> np.ndarray:
    """Render ``figure`` with the Agg backend and return its pixels as ``H x W x 3`` ``uint8``."""
    canvas = figure.canvas if isinstance(figure.canvas, FigureCanvasAgg) else FigureCanvasAgg(figure)
    canvas.draw()
    return np.ascontiguousarray(np.asarray(canvas.buffer_rgba())[..., :3])


def image_to_array(image: torch.Tensor) -> np.ndarray:
    """A ``3 x H x W`` float image in [0, 1] as ``H x W x 3`` ``uint8`` (values clipped, then scaled by 255 and
    truncated, as TensorBoard's ``add_image`` does with float images)."""
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"Expected `image` to have shape (3, H, W), got {tuple(image.shape)}.")
    array = image.detach().to("cpu", torch.float32).numpy().transpose(1, 2, 0)
    return np.ascontiguousarray((np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8))


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
