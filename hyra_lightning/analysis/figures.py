"""Figures of the probe, the HyRA decomposition and quantities tracked over training, drawn off ``pyplot``.

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

from hyra_lightning.checks import check_bool, check_float, check_int
from hyra_lightning.functional.frequency_similarity import frequency_bands
from hyra_lightning.spectral import to_fft_float

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from hyra_lightning.analysis.hyra import HyRAResult
    from hyra_lightning.analysis.impulse import ImpulseResponse

__all__ = [
    "fsds_band_map",
    "hyra_figure",
    "impulse_response_figure",
    "impulse_spectrum_figure",
    "new_figure",
    "phase_grid_caption",
    "render_figure",
]

#: Signed colour map of the impulse response and of the non-linear part (negative blue, zero white, positive
#: red; :func:`~hyra_lightning.analysis.signed_colormap` draws the same map without matplotlib).
SIGNED_CMAP = "RdBu_r"

#: Colour map of the log-magnitude spectra (0 dB white, the floor black, as
#: :func:`~hyra_lightning.analysis.log_magnitude_spectrum`).
SPECTRUM_CMAP = "gray"

#: Colour of the LR passband square ``|fx|, |fy| <= 1/s`` drawn on spectra (matplotlib's "tab:red").
PASSBAND_COLOUR = "#d62728"

#: Lowest level of the spectra, in dB below their reference.
SPECTRUM_FLOOR_DB = -60.0

#: The picture figures are laid out for about this many pixels per inch of their size, the scale at which
#: TensorBoard's time-series dashboard shows an image (its cards show images at most about 415 x 215 pixels),
#: and rendered at :data:`RENDER_DPI`, twice as sharp, for the enlarged card, the saved PNG and the report.
DISPLAY_DPI = 100
RENDER_DPI = 200

#: Font size of the picture figures in points: about 10 pixels where TensorBoard shows them.
FONT_PT = 7.5

#: A per-phase gain spread below this is "flat" in the caption of :func:`hyra_figure`.
PHASE_SPREAD_VISIBLE = 0.01


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


def _new_figure(width: float, height: float, *, layout: str | None = None) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=RENDER_DPI, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def _log_spectrum_db(x: Tensor, reference: float | None = None) -> tuple[np.ndarray, float]:
    """Centred ``20 log10(|DFT(x)| / reference)`` (channel mean of the magnitude), clipped to the floor."""
    x = x.detach().cpu()
    if x.ndim == 2:
        x = x[None]
    mag = torch.fft.fftshift(torch.fft.fft2(to_fft_float(x)).abs().mean(0), dim=(-2, -1)).double()
    ref = float(mag.max()) if reference is None else float(reference)
    if not ref > 0:
        return np.full(tuple(mag.shape), SPECTRUM_FLOOR_DB), 1.0
    db = 20 * torch.log10(torch.clamp(mag / ref, min=1e-30))
    return db.clamp(min=SPECTRUM_FLOOR_DB).numpy(), ref


def _frequency_extent(height: int, width: int) -> tuple[float, float, float, float]:
    """``imshow`` extent of a centred spectrum in Nyquist units (bin ``k`` of ``n`` at ``2 k / n``)."""

    def edges(n: int) -> tuple[float, float]:
        lo = -(n // 2) * 2.0 / n
        hi = ((n - 1) // 2) * 2.0 / n
        half = 1.0 / n
        return lo - half, hi + half

    x0, x1 = edges(width)
    y0, y1 = edges(height)
    return (x0, x1, y0, y1)


def _passband_square(ax: Axes, scale: int, *, label: str | None, linewidth: float = 1.2) -> None:
    from matplotlib.patches import Rectangle

    c = 1.0 / scale
    ax.add_patch(
        Rectangle(
            (-c, -c), 2 * c, 2 * c, fill=False, edgecolor=PASSBAND_COLOUR, linewidth=linewidth, label=label
        )
    )


def impulse_response_figure(response: ImpulseResponse, crop_radius: int = 3) -> Figure:
    """The luminance impulse response around its centre, with axes in LR pixels and a colour bar.

    The window of ``crop_radius`` LR pixels on each side of the response centre
    (:func:`~hyra_lightning.analysis.crop_center`), drawn in a diverging map (:data:`SIGNED_CMAP`: negative
    lobes blue, zero white, positive red) symmetric about zero. The axes give the offset from the centre in LR
    pixels (one LR pixel is ``s`` HR pixels); the colour bar gives ``g``, the HR output per unit of LR impulse
    (its sum is ``s^2`` times the DC gain). This is the ``impulse/response`` picture of
    :class:`~hyra_lightning.callbacks.ImpulseResponseMonitor`.

    Args:
        response: a measured :class:`~hyra_lightning.analysis.ImpulseResponse`.
        crop_radius: half-width of the window in LR pixels (>= 1).

    Returns:
        The figure (2.7 x 2.15 inches, 540 x 430 pixels at its :data:`RENDER_DPI`).

    Example:
        >>> from hyra_lightning.analysis import impulse_response
        >>> from hyra_lightning.models import BicubicUpsampler
        >>> fig = impulse_response_figure(impulse_response(BicubicUpsampler(2), in_channels=1, size=9))
        >>> fig.axes[0].get_xlabel(), fig.axes[1].get_ylabel()
        ('x offset (LR pixels)', 'g: HR output per unit LR impulse')
    """
    from hyra_lightning.analysis.display import crop_center

    check_int("crop_radius", crop_radius)
    s = response.scale
    g = response.luminance.detach().double().cpu()
    window = crop_center(g, response.center, crop_radius * s).numpy()
    h, w = window.shape
    vmax = float(np.abs(window).max()) or 1.0
    fig = _new_figure(2.7, 2.15, layout="constrained")
    ax = fig.add_subplot()
    extent = (-w / (2 * s), w / (2 * s), -h / (2 * s), h / (2 * s))
    im = ax.imshow(
        window,
        cmap=SIGNED_CMAP,
        vmin=-vmax,
        vmax=vmax,
        extent=extent,
        origin="upper",
        interpolation="nearest",
    )
    ax.set_xlabel("x offset (LR pixels)", fontsize=FONT_PT)
    ax.set_ylabel("y offset (LR pixels)", fontsize=FONT_PT)
    step = 1 if crop_radius <= 3 else -(-crop_radius // 3)  # at most 7 labels per axis
    ticks = [t for t in range(-crop_radius, crop_radius + 1) if t % step == 0]
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    ax.tick_params(labelsize=FONT_PT)
    ax.set_title(f"impulse response g, x{s}", fontsize=FONT_PT)
    bar = fig.colorbar(im, ax=ax)
    bar.set_label("g: HR output per unit LR impulse", fontsize=FONT_PT)
    bar.ax.tick_params(labelsize=FONT_PT)
    return fig


def impulse_spectrum_figure(response: ImpulseResponse) -> Figure:
    """The log-magnitude spectrum of the luminance response, with frequency axes, a colour bar and a legend.

    ``20 log10(|DFT(g)| / max|DFT(g)|)`` (0 dB white, :data:`SPECTRUM_FLOOR_DB` (-60 dB) and below black),
    centred on the zero frequency, with both axes in HR Nyquist units (the HR Nyquist frequency is 1, the edge
    of the picture). The red square (:data:`PASSBAND_COLOUR`, in the legend) is the LR passband
    ``|fx|, |fy| <= 1/s``, whose edge is the LR Nyquist frequency: an ideal SR low-pass filter is white inside
    it and black outside. This is the ``impulse/spectrum`` picture of
    :class:`~hyra_lightning.callbacks.ImpulseResponseMonitor`.

    Args:
        response: a measured :class:`~hyra_lightning.analysis.ImpulseResponse`.

    Returns:
        The figure (2.7 x 2.15 inches, 540 x 430 pixels at its :data:`RENDER_DPI`).

    Example:
        >>> from hyra_lightning.analysis import impulse_response
        >>> from hyra_lightning.models import BicubicUpsampler
        >>> fig = impulse_spectrum_figure(impulse_response(BicubicUpsampler(2), in_channels=1, size=9))
        >>> fig.axes[0].get_legend().get_texts()[0].get_text()
        'LR passband |fx|, |fy| ≤ 1/2'
    """
    s = response.scale
    db, _ = _log_spectrum_db(response.luminance)
    fig = _new_figure(2.7, 2.15, layout="constrained")
    ax = fig.add_subplot()
    im = ax.imshow(
        db,
        cmap=SPECTRUM_CMAP,
        vmin=SPECTRUM_FLOOR_DB,
        vmax=0.0,
        extent=_frequency_extent(*db.shape),
        origin="lower",
        interpolation="nearest",
    )
    _passband_square(ax, s, label=f"LR passband |fx|, |fy| ≤ 1/{s}")
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1)
    ax.set_xticks([-1, -0.5, 0, 0.5, 1], ["-1", "-.5", "0", ".5", "1"])
    ax.set_yticks([-1, -0.5, 0, 0.5, 1], ["-1", "-.5", "0", ".5", "1"])
    ax.set_xlabel("fx (HR Nyquist units)", fontsize=FONT_PT)
    ax.set_ylabel("fy (HR Nyquist units)", fontsize=FONT_PT)
    ax.tick_params(labelsize=FONT_PT)
    ax.legend(
        loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=FONT_PT, frameon=False, borderaxespad=0.1,
        handlelength=1.2,
    )  # fmt: skip
    bar = fig.colorbar(im, ax=ax)
    bar.set_label("|DFT(g)| (dB re peak)", fontsize=FONT_PT)
    bar.ax.tick_params(labelsize=FONT_PT)
    return fig


def phase_grid_caption(result: HyRAResult) -> str:
    """The line on the per-phase gain grid of the linear part that :func:`hyra_figure` writes under it.

    The linear part of an SR network with sub-pixel outputs (a pixel shuffle, a transposed convolution) can give
    each of the ``s x s`` HR positions of an LR pixel its own DC gain, per colour channel: ``B + H(x)`` of a flat
    region is then an ``s x s`` grid (a coloured checkerboard at x2). The line gives the range of those gains
    (:attr:`ImpulseResponse.phase_gains`) and their relative spread ``(max - min) / |mean|`` (the
    ``phase_gain_spread`` descriptor), so that the grid reads as the measurement it is.

    Example:
        >>> from hyra_lightning.analysis import hyra_decompose
        >>> from hyra_lightning.models import BicubicUpsampler
        >>> phase_grid_caption(hyra_decompose(BicubicUpsampler(2), torch.rand(1, 3, 16, 16)))
        'B + H(x) per-phase DC gains 1.00..1.00 (spread 0.00): no grid.'
    """
    gains = result.response.phase_gains.detach().double().cpu()
    low, high, mean = float(gains.min()), float(gains.max()), float(gains.mean())
    s = result.scale
    if mean == 0 or not np.isfinite(mean):
        return "B + H(x): per-phase DC gains undefined (zero mean gain)."
    spread = (high - low) / abs(mean)
    text = f"B + H(x) per-phase DC gains {low:.2f}..{high:.2f} (spread {spread:.2f})"
    if spread < PHASE_SPREAD_VISIBLE:
        return f"{text}: no grid."
    return f"{text}: a real {s}x{s} grid."


def hyra_figure(result: HyRAResult, index: int = 0, *, caption: bool = True) -> Figure:
    """The HyRA picture of one image: the parts on top, their log-magnitude spectra below, with colour bars.

    Columns: ``LR`` the LR input enlarged with nearest-neighbour interpolation, ``B + H(x)`` the linear part,
    ``G(x)`` the non-linear part (channel mean, diverging map symmetric about zero, its colour bar in image
    units, spanning at least ``+-NONLINEAR_VMAX_FLOOR`` so that rounding noise does not fill it), ``SR`` the
    output ``N(x)`` and, when the result has one, ``HR``; images are clamped to [0, 1]. Bottom row: the
    log-magnitude spectrum of each part (of ``G`` itself) in dB relative to the largest non-zero-frequency
    magnitude of the SR image, so that levels compare across the row, with axes in HR Nyquist units and the
    LR passband ``|fx|, |fy| <= 1/s`` marked by a red square. The lines under the picture say all this; with
    ``caption`` the last gives the per-phase DC gains of the linear part (:func:`phase_grid_caption`): a
    network whose sub-pixel outputs have unequal gains shows an ``s x s`` grid in ``B + H(x)``, a true property
    of the network, not a drawing error.
    This is the ``hyra/sample_<i>`` picture of :class:`~hyra_lightning.callbacks.HyRAMonitor`.

    Args:
        result: a :class:`~hyra_lightning.analysis.HyRAResult`.
        index: which image of the batch.
        caption: write the phase-gain line under the picture.

    Returns:
        The figure (4.4 inches wide, 880 pixels at its :data:`RENDER_DPI`).

    Example:
        >>> from hyra_lightning.analysis import hyra_decompose
        >>> from hyra_lightning.models import BicubicUpsampler
        >>> fig = hyra_figure(hyra_decompose(BicubicUpsampler(2), torch.rand(1, 3, 16, 16)))
        >>> [ax.get_title() for ax in fig.axes[:3:2]], fig.axes[1].get_ylabel()
        (['LR (nearest)', 'B + H(x)'], 'spectrum')
    """
    from hyra_lightning.analysis.display import NONLINEAR_VMAX_FLOOR, enlarge

    n = result.sr.shape[0]
    check_int("index", index, minimum=-n, maximum=n - 1)
    check_bool("caption", caption)
    sr = result.sr[index].detach().float().cpu()
    affine = (result.baseline[index] + result.linear[index]).detach().float().cpu()
    nonlinear = result.nonlinear[index].detach().float().cpu()
    lr_up = enlarge(result.lr[index].detach().float().cpu(), result.scale)
    g = nonlinear.mean(dim=0)
    vmax = max(float(g.abs().max()), NONLINEAR_VMAX_FLOOR)
    columns: list[tuple[str, Tensor, Tensor]] = [
        ("LR (nearest)", lr_up, lr_up),
        ("B + H(x)", affine, affine),
        ("G(x)", g, nonlinear),
        ("SR N(x)", sr, sr),
    ]
    if result.hr is not None:
        hr = result.hr[index].detach().float().cpu()
        columns.append(("HR", hr, hr))
    sr_mag = torch.fft.fft2(to_fft_float(sr)).abs().mean(0)
    sr_mag[0, 0] = 0
    ref = float(sr_mag.max())
    s = result.scale
    lines = [
        "B + H(x) linear, G(x) non-linear part (image units); spectra in dB",
        f"re SR peak, axes in HR Nyquist units, red square: LR passband ≤ 1/{s}.",
    ]
    if caption:
        lines.append(phase_grid_caption(result))

    k = len(columns)
    width = 4.4 if k == 5 else 3.75
    cell = (width - 0.28 - 0.6) / k  # row labels on the left, colour bars on the right
    text_h = 0.135 * len(lines) + 0.04
    height = 0.16 + 2 * cell + 0.1 + 0.13 + text_h
    fig = _new_figure(width, height)
    grid = fig.add_gridspec(
        2, k + 1, width_ratios=[1.0] * k + [0.1], left=0.28 / width, right=1 - 0.42 / width,
        top=1 - 0.16 / height, bottom=(0.13 + text_h) / height, wspace=0.06, hspace=0.1 / cell,
    )  # fmt: skip
    g_image = spectrum_image = None
    for c, (title, shown, spectral) in enumerate(columns):
        ax = fig.add_subplot(grid[0, c])
        if shown.ndim == 2:
            g_image = ax.imshow(
                shown.numpy(), cmap=SIGNED_CMAP, vmin=-vmax, vmax=vmax, interpolation="nearest"
            )
        else:
            ax.imshow(shown.clamp(0, 1).permute(1, 2, 0).numpy(), interpolation="nearest")
        ax.set_title(title, fontsize=FONT_PT, pad=2)
        ax.set_xticks([])
        ax.set_yticks([])
        if c == 0:
            ax.set_ylabel("image", fontsize=FONT_PT, labelpad=2)
        ax = fig.add_subplot(grid[1, c])
        db, _ = _log_spectrum_db(spectral, reference=ref if ref > 0 else None)
        spectrum_image = ax.imshow(
            db,
            cmap=SPECTRUM_CMAP,
            vmin=SPECTRUM_FLOOR_DB,
            vmax=0.0,
            extent=_frequency_extent(*db.shape),
            origin="lower",
            interpolation="nearest",
        )
        _passband_square(ax, s, label=None, linewidth=0.8)
        ax.set_xlim(-1, 1)
        ax.set_ylim(-1, 1)
        ax.set_xticks([-1, 0, 1], ["-1", "0", "1"] if c == 0 else [])
        ax.set_yticks([-1, 0, 1], ["-1", "0", "1"] if c == 0 else [])
        ax.tick_params(labelsize=FONT_PT, length=1.5, pad=1)
        if c == 0:
            ax.set_ylabel("spectrum", fontsize=FONT_PT, labelpad=0)
    for image, label, row in ((g_image, "G(x)", 0), (spectrum_image, "dB", 1)):
        bar = fig.colorbar(image, cax=fig.add_subplot(grid[row, k]))
        bar.set_label(label, fontsize=FONT_PT, labelpad=1)
        bar.ax.tick_params(labelsize=FONT_PT, length=1.5, pad=1)
    fig.text(
        0.01, 0.03 / height, "\n".join(lines), fontsize=FONT_PT, ha="left", va="bottom", linespacing=1.25
    )
    return fig


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
