"""Figures of quantities tracked over training, as matplotlib figures drawn off ``pyplot``.

Every function returns a :class:`~matplotlib.figure.Figure` on its own Agg canvas: nothing is registered with
``pyplot`` (safe to draw from a background thread, nothing to close), and the figure shows in a notebook with
``display(fig)`` or saves with ``fig.savefig(path)``. The frequency-similarity curve of one validation run is
drawn by :func:`hyra_lightning.metrics.plot_frequency_similarity`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from hyra_lightning.checks import check_float, check_int
from hyra_lightning.functional.frequency_similarity import frequency_bands

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["fsds_band_map", "new_figure", "render_figure"]


def new_figure(width: float = 5.0, height: float = 3.2, dpi: int = 100, **kwargs: Any) -> Figure:
    """A matplotlib ``Figure`` on its own Agg canvas, unknown to ``pyplot`` (nothing to leak, safe off the main
    thread); ``kwargs`` go to ``Figure`` (e.g. ``layout="constrained"``).

    Example:
        >>> new_figure(2.0, 1.0, dpi=50).canvas.get_width_height()
        (100, 50)
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi, **kwargs)
    FigureCanvasAgg(fig)
    return fig


def render_figure(fig: Figure) -> Tensor:
    """Rasterise ``fig`` to a ``3 x H x W`` float image in [0, 1] and close it.

    Works for figures made by :func:`new_figure` and for ``pyplot`` figures (which are closed in ``pyplot``
    too, so that no figure accumulates in a long run).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba(), dtype=np.uint8)
    image = torch.from_numpy(np.ascontiguousarray(rgba[..., :3].transpose(2, 0, 1))).float() / 255.0
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)
    return image


#: Colour map of :func:`fsds_band_map` and the colour of its cells without a value (NaN).
BAND_MAP_CMAP = "viridis"
BAND_MAP_MISSING_COLOUR = "#d9d9d9"

#: Most step labels written under :func:`fsds_band_map`.
MAX_STEP_TICKS = 8


def fsds_band_map(
    values: Tensor | np.ndarray | Sequence[Sequence[float]],
    steps: Sequence[int],
    *,
    scale: int | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    title: str | None = "FSDS per frequency band (dB)",
) -> Figure:
    """FSDS of every frequency band against validation step, as a colour map with a colour bar.

    One column per validation run (in the order given, labelled with its step), one row per band of
    :func:`~hyra_lightning.functional.frequency_bands`, the lowest frequency at the bottom and the vertical
    axis in radial frequency (Nyquist units); the colour is the band's FSDS in dB (``viridis``: dark is low,
    yellow is high). Read left to right, it shows the order in which a network learns the frequencies.

    A cell without a value (NaN: a band that no image scored) is drawn in light grey
    (:data:`BAND_MAP_MISSING_COLOUR`, not a colour of the map) and the figure says so; ``+inf`` (a band
    identical to the target) takes the colour of the top of the scale.

    Args:
        values: ``(num_steps, num_bands)`` FSDS in dB, row ``i`` the curve of the validation run at
            ``steps[i]`` (what :meth:`~hyra_lightning.metrics.FrequencySpectrumDistributionSimilarity.compute_curve`
            returns, stacked).
        steps: the ``num_steps`` global steps of the runs.
        scale: SR scale factor ``s``; when given, the LR Nyquist frequency ``1 / s`` is marked by a dashed line.
        vmin: FSDS at the bottom of the colour scale; default the smallest finite value.
        vmax: FSDS at the top of the colour scale; default the largest finite value.
        title: title of the figure (``None``: none).

    Returns:
        The figure (about 640 x 320 pixels at its 100 dpi).

    Raises:
        ValueError: if ``values`` is not two-dimensional, ``steps`` does not give one step per row, or
            ``scale``, ``vmin`` or ``vmax`` are invalid.

    Example:
        >>> curves = torch.tensor([[20.0, 10.0, 5.0], [25.0, 15.0, float("nan")]])
        >>> fig = fsds_band_map(curves, steps=[100, 200], scale=2)
        >>> fig.axes[0].get_ylabel(), fig.axes[1].get_ylabel()
        ('radial frequency (Nyquist units)', 'FSDS (dB)')
    """
    from matplotlib import colormaps

    if isinstance(values, Tensor):
        values = values.detach().cpu().double().numpy()
    data = np.array(values, dtype=np.float64)
    if data.ndim != 2 or data.shape[0] == 0 or data.shape[1] == 0:
        raise ValueError(
            f"Expected `values` to be a non-empty (num_steps, num_bands) array, got shape {tuple(data.shape)}."
        )
    steps = list(steps)
    if len(steps) != data.shape[0] or any(
        isinstance(step, bool) or not isinstance(step, (int, np.integer)) for step in steps
    ):
        raise ValueError(
            f"Expected `steps` to be {data.shape[0]} integers (one per row of `values`), got {steps!r}."
        )
    check_int("scale", scale, optional=True)
    for name, bound in (("vmin", vmin), ("vmax", vmax)):
        check_float(name, bound, optional=True)
    finite = data[np.isfinite(data)]
    low = vmin if vmin is not None else (float(finite.min()) if finite.size else 0.0)
    high = vmax if vmax is not None else (float(finite.max()) if finite.size else 1.0)
    if high <= low:
        low, high = low - 0.5, low + 0.5  # a constant map: any colour, a readable colour bar
    num_steps, num_bands = data.shape
    # +inf is "better than anything": the top colour; NaN stays NaN and is masked.
    shown = np.ma.masked_invalid(np.where(np.isposinf(data), high, np.where(np.isneginf(data), low, data)))
    _, edges = frequency_bands(num_bands, dtype=torch.float64)

    fig = new_figure(6.4, 3.2, dpi=100, layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    cmap = colormaps[BAND_MAP_CMAP].with_extremes(bad=BAND_MAP_MISSING_COLOUR)
    mesh = ax.pcolormesh(
        np.arange(num_steps + 1) - 0.5, edges.numpy(), shown.T, cmap=cmap, vmin=low, vmax=high, shading="flat"
    )
    colorbar = fig.colorbar(mesh, ax=ax, pad=0.02)
    colorbar.set_label("FSDS (dB)")
    ticks = sorted({round(t) for t in np.linspace(0, num_steps - 1, min(num_steps, MAX_STEP_TICKS))})
    ax.set_xticks(ticks, [str(int(steps[t])) for t in ticks])
    ax.set_xlim(-0.5, num_steps - 0.5)
    ax.set_ylim(0.0, float(edges[-1]))
    ax.set_xlabel("validation at global step")
    ax.set_ylabel("radial frequency (Nyquist units)")
    if scale is not None:
        ax.axhline(1.0 / scale, color="white", linestyle="--", linewidth=1)
        ax.annotate(
            f"LR Nyquist (1/{scale})",
            (0.0, 1.0 / scale),
            xycoords=("axes fraction", "data"),
            xytext=(3, 2),
            textcoords="offset points",
            color="white",
            fontsize=8,
        )
    if np.isnan(data).any():
        ax.annotate(
            "grey: no value",
            (1.0, 0.0),
            xycoords="axes fraction",
            xytext=(-3, 3),
            textcoords="offset points",
            ha="right",
            fontsize=8,
            color="black",
            bbox={"boxstyle": "square,pad=0.2", "facecolor": BAND_MAP_MISSING_COLOUR, "edgecolor": "none"},
        )
    if title is not None:
        ax.set_title(title, fontsize=10)
    return fig
