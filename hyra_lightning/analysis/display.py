"""Pure-torch rendering helpers: spectra, signed maps and image panels, all as ``3 x H x W`` images in [0, 1].

They are what the callbacks send to TensorBoard, and they work the same in a notebook
(``plt.imshow(img.permute(1, 2, 0))``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from hyra_lightning.checks import check_bool, check_float, check_int, fail
from hyra_lightning.spectral import passband_mask, to_fft_float

if TYPE_CHECKING:
    from hyra_lightning.analysis.attribution import LocalAttribution
    from hyra_lightning.analysis.hyra import HyRAResult
    from hyra_lightning.analysis.impulse import ImpulseResponse

__all__ = [
    "crop_center",
    "enlarge",
    "hyra_panel",
    "impulse_response_image",
    "impulse_spectrum_image",
    "label_panel",
    "lam_panel",
    "log_magnitude_spectrum",
    "make_panel",
    "signed_colormap",
]

#: End colours of :func:`signed_colormap` (a blue-white-red diverging map, close to matplotlib's "RdBu_r").
NEGATIVE_RGB = (0.129, 0.400, 0.675)
POSITIVE_RGB = (0.698, 0.094, 0.169)

#: Colour of the LR Nyquist square in :func:`impulse_spectrum_image` (matplotlib's "tab:red", as in the
#: ``impulse/profile`` figure's LR Nyquist line).
LR_NYQUIST_RGB = (0.839, 0.153, 0.157)

#: :func:`impulse_spectrum_image` enlarges the spectrum to at least this many pixels per side.
SPECTRUM_MIN_SIZE = 256

#: Smallest half-range of the non-linear part's colour map in :func:`hyra_panel` (image values in [0, 1]).
NONLINEAR_VMAX_FLOOR = 0.05

#: Column and row labels of :func:`hyra_panel`.
HYRA_COLUMN_LABELS = ("LR", "B+H(x)", "G(x)", "SR", "HR")
HYRA_ROW_LABELS = ("image", "spectrum")

#: Height in pixels of the text of :func:`label_panel` (and the smallest cell :func:`hyra_panel` draws).
LABEL_FONT_PX = 12
MIN_LABELLED_CELL = 64


def _check_image(x: Tensor, name: str, channels: tuple[int, ...] | None = None) -> Tensor:
    if not isinstance(x, Tensor) or x.ndim not in (2, 3):
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"Expected `{name}` to be an (H, W) or (C, H, W) tensor, got {got}.")
    if x.ndim == 2:
        x = x[None]
    if channels is not None and x.shape[0] not in channels:
        raise ValueError(
            f"Expected `{name}` to have {' or '.join(map(str, channels))} channels, got {x.shape[0]}."
        )
    if x.is_complex():
        raise ValueError(f"Expected `{name}` to be real, got dtype {x.dtype}.")
    return x


def log_magnitude_spectrum(
    x: Tensor,
    *,
    floor_db: float = -60.0,
    reference: float | None = None,
) -> Tensor:
    """Centred log-magnitude spectrum of an image, as a grey ``3 x H x W`` image in [0, 1].

    The magnitude ``|DFT(x)|`` is averaged over channels, shifted so that the zero frequency is at pixel
    ``(H // 2, W // 2)`` and converted to decibels relative to ``reference``:
    ``L = 20 log10(|X| / reference)``. The display value is ``(L - floor_db) / -floor_db`` clipped to [0, 1],
    so 0 dB is white and ``floor_db`` and below are black. The zero frequency is included; for an image it is
    usually the peak.

    Args:
        x: ``(H, W)`` or ``(C, H, W)`` real image.
        floor_db: the level (dB, negative) mapped to black.
        reference: the magnitude mapped to white; default the maximum of the spectrum. Pass a fixed value to
            compare spectra across images or training steps.

    Returns:
        ``(3, H, W)`` float32 image in [0, 1].

    Example:
        >>> img = log_magnitude_spectrum(torch.ones(8, 8))  # a constant image: only the DC bin is lit
        >>> img.shape, img[0, 4, 4].item(), img[0, 0, 0].item()
        (torch.Size([3, 8, 8]), 1.0, 0.0)
    """
    x = _check_image(x, "x")
    check_float("floor_db", floor_db)
    if floor_db >= 0:
        fail("floor_db", "a negative number", floor_db)
    check_float("reference", reference, minimum=0, strict_minimum=True, optional=True)
    mag = torch.fft.fftshift(torch.fft.fft2(to_fft_float(x.detach())).abs().mean(0), dim=(-2, -1))
    ref = float(mag.max()) if reference is None else float(reference)
    if ref <= 0:
        return torch.zeros(3, *mag.shape, device=x.device)
    db = 20 * torch.log10(torch.clamp(mag / ref, min=1e-30))
    img = ((db - floor_db) / -floor_db).clamp(0, 1).float()
    return img[None].expand(3, -1, -1).contiguous()


def signed_colormap(x: Tensor, vmax: float | None = None) -> Tensor:
    """Diverging colour map of a signed image: negative blue, zero white, positive red.

    The range is symmetric, ``[-vmax, vmax]``; values beyond it saturate. ``t = x / vmax`` is blended
    linearly from white (``t = 0``) to :data:`POSITIVE_RGB` (``t = 1``) or :data:`NEGATIVE_RGB` (``t = -1``).

    Args:
        x: ``(H, W)`` or ``(1, H, W)`` real image.
        vmax: the magnitude mapped to full colour; default ``max |x|`` (an all-zero image is white).

    Returns:
        ``(3, H, W)`` float32 image in [0, 1].

    Example:
        >>> signed_colormap(torch.tensor([[-1.0, 0.0, 1.0]]))[:, 0].T
        tensor([[0.1290, 0.4000, 0.6750],
                [1.0000, 1.0000, 1.0000],
                [0.6980, 0.0940, 0.1690]])
    """
    x = _check_image(x, "x", channels=(1,))[0].detach()
    x = to_fft_float(x)
    if vmax is None:
        vmax = float(x.abs().max()) if x.numel() else 0.0
    else:
        check_float("vmax", vmax, minimum=0, optional=True)
    t = (x / vmax).clamp(-1, 1) if vmax > 0 else torch.zeros_like(x)
    t = torch.nan_to_num(t, nan=0.0)
    pos = torch.tensor(POSITIVE_RGB, dtype=t.dtype, device=t.device)[:, None, None]
    neg = torch.tensor(NEGATIVE_RGB, dtype=t.dtype, device=t.device)[:, None, None]
    white = torch.ones_like(pos)
    mag = t.abs()[None]
    colour = torch.where(t[None] >= 0, pos, neg)
    return (white + (colour - white) * mag).clamp(0, 1).float()


def enlarge(img: Tensor, factor: int) -> Tensor:
    """Nearest-neighbour enlargement: every pixel becomes a ``factor x factor`` block.

    Args:
        img: ``(..., H, W)`` tensor.
        factor: positive integer.

    Returns:
        ``(..., factor*H, factor*W)`` tensor of the same dtype.

    Example:
        >>> enlarge(torch.tensor([[1, 2]]), 2)
        tensor([[1, 1, 2, 2],
                [1, 1, 2, 2]])
    """
    check_int("factor", factor)
    if not isinstance(img, Tensor) or img.ndim < 2:
        got = tuple(img.shape) if isinstance(img, Tensor) else type(img).__name__
        raise ValueError(f"Expected `img` to be a (..., H, W) tensor, got {got}.")
    if factor == 1:
        return img
    return img.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)


def crop_center(img: Tensor, center: tuple[float, float], radius: float) -> Tensor:
    """Crop the pixels within ``radius`` of ``center`` along both axes, clipped to the image.

    Rows ``ceil(Y0 - radius) .. floor(Y0 + radius)`` and the same for columns, so the crop is symmetric about
    the centre also when it sits between pixels (an impulse response at an even scale): ``2*radius + 1``
    pixels for an integer centre, ``2*radius`` for a half-integer one.

    Args:
        img: ``(..., H, W)`` tensor.
        center: ``(Y0, X0)`` in pixel coordinates (e.g. :attr:`ImpulseResponse.center`).
        radius: non-negative half-width in pixels.

    Returns:
        ``(..., h, w)`` view of ``img``.

    Example:
        >>> crop_center(torch.arange(36).reshape(6, 6), (2.5, 2.5), 1)
        tensor([[14, 15],
                [20, 21]])
    """
    if not isinstance(img, Tensor) or img.ndim < 2:
        got = tuple(img.shape) if isinstance(img, Tensor) else type(img).__name__
        raise ValueError(f"Expected `img` to be a (..., H, W) tensor, got {got}.")
    check_float("radius", radius, minimum=0)
    h, w = img.shape[-2:]
    y0, x0 = center
    top, bottom = max(math.ceil(y0 - radius), 0), min(math.floor(y0 + radius) + 1, h)
    left, right = max(math.ceil(x0 - radius), 0), min(math.floor(x0 + radius) + 1, w)
    if top >= bottom or left >= right:
        raise ValueError(f"`center` {center} with `radius` {radius} lies outside the {h} x {w} image.")
    return img[..., top:bottom, left:right]


def make_panel(rows: Sequence[Sequence[Tensor]], gap: int = 2, pad_value: float = 1.0) -> Tensor:
    """Tile images into one, row by row, with ``gap`` pixels between them.

    Images may differ in size: each sits centred in a cell as tall as the tallest image of its row; rows are
    left-aligned. Grey ``(1, H, W)`` or ``(H, W)`` images are repeated to three channels.

    Args:
        rows: a list of rows, each a list of ``(3, H, W)`` (or grey) images in [0, 1].
        gap: pixels between images and between rows, and around the panel.
        pad_value: value of the background.

    Returns:
        ``(3, H, W)`` float32 image.

    Example:
        >>> panel = make_panel([[torch.zeros(3, 4, 4), torch.zeros(3, 2, 6)], [torch.zeros(1, 3, 3)]])
        >>> panel.shape
        torch.Size([3, 13, 16])
    """
    check_int("gap", gap, minimum=0)
    if isinstance(rows, Tensor) or not rows or any(isinstance(r, Tensor) or not r for r in rows):
        raise ValueError("Expected `rows` to be a non-empty list of non-empty lists of images.")
    images = [
        [_check_image(img, "rows[...]", channels=(1, 3)).detach().float() for img in row] for row in rows
    ]
    images = [[img.expand(3, -1, -1) for img in row] for row in images]
    heights = [max(img.shape[-2] for img in row) for row in images]
    widths = [sum(img.shape[-1] for img in row) + gap * (len(row) - 1) for row in images]
    device = images[0][0].device
    panel = torch.full(
        (3, sum(heights) + gap * (len(rows) + 1), max(widths) + 2 * gap), float(pad_value), device=device
    )
    y = gap
    for row, height in zip(images, heights, strict=True):
        x = gap
        for img in row:
            ih, iw = img.shape[-2:]
            top = y + (height - ih) // 2
            panel[:, top : top + ih, x : x + iw] = img.to(device)
            x += iw + gap
        y += height + gap
    return panel


def _as_rgb(img: Tensor) -> Tensor:
    """A ``3 x H x W`` view of a ``(H, W)``, 1- or 3-channel image (grey images repeated)."""
    if img.ndim == 2:
        img = img[None]
    if img.shape[0] == 1:
        img = img.expand(3, -1, -1)
    return img


def impulse_response_image(response: ImpulseResponse, crop_radius: int = 3, zoom: int = 8) -> Tensor:
    """The luminance impulse response around its centre, in the signed colour map, enlarged to be read.

    This is the ``impulse/response`` image of :class:`~hyra_lightning.callbacks.ImpulseResponseMonitor`: the
    window of ``crop_radius`` LR pixels (``crop_radius * scale`` HR pixels) on each side of the response
    centre, mapped with :func:`signed_colormap` (negative lobes blue, zero white, positive red) and enlarged
    ``zoom`` times with nearest-neighbour interpolation.

    Args:
        response: a measured :class:`~hyra_lightning.analysis.ImpulseResponse`.
        crop_radius: half-width of the window in LR pixels (>= 1).
        zoom: enlargement factor (>= 1).

    Returns:
        ``(3, H, W)`` float32 image in [0, 1].
    """
    for name, value in (("crop_radius", crop_radius), ("zoom", zoom)):
        check_int(name, value)
    g = response.luminance.detach().float().cpu()
    window = crop_center(g, response.center, crop_radius * response.scale)
    return enlarge(signed_colormap(window), zoom)


def impulse_spectrum_image(response: ImpulseResponse, zoom: int | None = None) -> Tensor:
    """The centred log-magnitude spectrum of the luminance response, enlarged, with the LR Nyquist square.

    :func:`log_magnitude_spectrum` of ``g`` (0 dB, the peak, white; -60 dB and below black; zero frequency at
    the centre) enlarged ``zoom`` times with nearest-neighbour interpolation, with a one-pixel
    :data:`LR_NYQUIST_RGB` square drawn just outside the FFT bins of the LR passband ``|fx|, |fy| <= 1/s``. The
    square is the scale: its half-width is the LR Nyquist frequency, the image's half-width the HR Nyquist
    frequency. An ideal SR low-pass filter is white inside the square and black outside. This is the picture
    for the ``impulse/spectrum`` tag of :class:`~hyra_lightning.callbacks.ImpulseResponseMonitor`.

    Args:
        response: a measured :class:`~hyra_lightning.analysis.ImpulseResponse`.
        zoom: enlargement factor (>= 1); default the smallest that makes the image at least
            :data:`SPECTRUM_MIN_SIZE` (256) pixels wide (4 for the default 33-pixel probe at x2).

    Returns:
        ``(3, H, W)`` float32 image in [0, 1].

    Example:
        >>> from hyra_lightning.analysis import impulse_response
        >>> from hyra_lightning.models import BicubicUpsampler
        >>> r = impulse_response(BicubicUpsampler(2), in_channels=1, size=33)
        >>> impulse_spectrum_image(r).shape
        torch.Size([3, 264, 264])
    """
    g = response.luminance.detach().float().cpu()
    size = g.shape[-1]
    if zoom is None:
        zoom = max(1, -(-SPECTRUM_MIN_SIZE // size))
    else:
        check_int("zoom", zoom)
    img = enlarge(log_magnitude_spectrum(g), zoom).clone()
    inside = torch.fft.fftshift(passband_mask(size, size, 1.0 / response.scale), dim=(-2, -1))
    rows = torch.nonzero(inside.any(dim=1)).flatten()
    cols = torch.nonzero(inside.any(dim=0)).flatten()
    if rows.numel() == 0 or cols.numel() == 0:
        return img
    height, width = img.shape[-2:]
    # the pixels just outside the passband's bins (clipped to the image when the passband fills it)
    top, bottom = max(int(rows[0]) * zoom - 1, 0), min((int(rows[-1]) + 1) * zoom, height - 1)
    left, right = max(int(cols[0]) * zoom - 1, 0), min((int(cols[-1]) + 1) * zoom, width - 1)
    colour = torch.tensor(LR_NYQUIST_RGB)[:, None]
    img[:, top, left : right + 1] = colour
    img[:, bottom, left : right + 1] = colour
    img[:, top : bottom + 1, left] = colour
    img[:, top : bottom + 1, right] = colour
    return img


def _text_strip(
    width: int, height: int, texts: Sequence[tuple[str, float]], *, vertical: bool, font_px: int
) -> Tensor:
    """Black text on a white ``height x width`` strip, each text centred at its position along the strip.

    Positions are x for a horizontal strip and y (from the top) for a vertical one, whose texts are rotated to
    read upwards. The text is drawn by matplotlib's Agg renderer (its bundled DejaVu Sans), off ``pyplot``.
    """
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, facecolor="white")
    canvas = FigureCanvasAgg(fig)
    size_pt = font_px * 72 / dpi
    for text, pos in texts:
        if vertical:
            fig.text(0.5, 1 - pos / height, text, rotation=90, ha="center", va="center", fontsize=size_pt)
        else:
            fig.text(pos / width, 0.5, text, ha="center", va="center", fontsize=size_pt)
    canvas.draw()
    rgb = np.asarray(canvas.buffer_rgba())[:height, :width, :3]
    strip = torch.ones(3, height, width)
    strip[:, : rgb.shape[0], : rgb.shape[1]] = torch.from_numpy(rgb.transpose(2, 0, 1).copy()).float() / 255
    return strip


def label_panel(
    panel: Tensor,
    columns: Sequence[tuple[str, float]] = (),
    rows: Sequence[tuple[str, float]] = (),
    *,
    font_px: int = LABEL_FONT_PX,
) -> Tensor:
    """Write column labels in a white strip above a panel and row labels in a white strip on its left.

    Each label is centred on its position: ``columns`` are ``(text, x)`` pairs with ``x`` the pixel column of
    the panel the text is centred on (for example the middle of a cell of :func:`make_panel`), ``rows`` are
    ``(text, y)`` pairs, written upwards. The strips are ``round(1.6 * font_px)`` pixels wide; a strip without
    labels is left out. The text is black, drawn with matplotlib's Agg renderer, so that it reads the same in
    TensorBoard, in a logger's image viewer and in a saved PNG.

    Args:
        panel: ``(3, H, W)`` image in [0, 1], for example from :func:`make_panel`.
        columns: labels above the panel, ``(text, x)``.
        rows: labels left of the panel, ``(text, y)``.
        font_px: height of the font in pixels (its em size; capitals are about 0.73 of it).

    Returns:
        ``(3, H + strip, W + strip)`` float32 image in [0, 1] (without the strips that have no labels).

    Example:
        >>> panel = label_panel(torch.zeros(3, 40, 100), columns=[("left", 25), ("right", 75)])
        >>> panel.shape
        torch.Size([3, 59, 100])
    """
    panel = _check_image(panel, "panel", channels=(3,)).detach().float().cpu()
    check_int("font_px", font_px, minimum=4)
    strip = round(1.6 * font_px)
    height = panel.shape[-2]
    if rows:
        side = _text_strip(strip, height, list(rows), vertical=True, font_px=font_px)
        panel = torch.cat([side, panel], dim=-1)
    if columns:
        offset = strip if rows else 0
        texts = [(text, x + offset) for text, x in columns]
        top = _text_strip(panel.shape[-1], strip, texts, vertical=False, font_px=font_px)
        panel = torch.cat([top, panel], dim=-2)
    return panel


def hyra_panel(result: HyRAResult, index: int = 0, *, labels: bool = True) -> Tensor:
    """The two-row HyRA panel of one image: images on top, their log-magnitude spectra below, labelled.

    Top row: the LR image enlarged to the HR size with nearest-neighbour interpolation (its pixels stay
    visible), the affine part ``B + H(x)`` clamped to [0, 1], the non-linear part ``G(x)`` (channel mean) in
    :func:`signed_colormap`, the SR output clamped to [0, 1], and the HR image when the result has one.
    The colour map of ``G`` spans ``+-max(max|G|, NONLINEAR_VMAX_FLOOR)`` (0.05), so that rounding noise of
    a linear model does not fill the whole range. Bottom row: :func:`log_magnitude_spectrum` of each image
    above it (of ``G`` itself, not its colour map), all relative to the largest non-zero-frequency
    magnitude of the SR image, so that their levels compare (the zero frequency saturates to white).
    This is the ``hyra/sample_<i>`` image of :class:`~hyra_lightning.callbacks.HyRAMonitor`.

    With ``labels`` (the default) the columns are labelled ``LR``, ``B+H(x)``, ``G(x)``, ``SR``, ``HR`` above
    the panel and the rows ``image`` and ``spectrum`` on its left (:func:`label_panel`). So that the labels fit
    their cells, images smaller than :data:`MIN_LABELLED_CELL` (64) pixels on a side are first enlarged by the
    smallest integer factor that makes them at least that large (nearest-neighbour, pixels stay visible).

    Args:
        result: a :class:`~hyra_lightning.analysis.HyRAResult`.
        index: which image of the batch.
        labels: write the column and row labels into the image.

    Returns:
        ``(3, H, W)`` float32 image in [0, 1].
    """
    n = result.sr.shape[0]
    check_int("index", index, minimum=-n, maximum=n - 1)
    check_bool("labels", labels)
    sr = result.sr[index].detach().float().cpu()
    affine = (result.baseline[index] + result.linear[index]).detach().float().cpu()
    nonlinear = result.nonlinear[index].detach().float().cpu()
    lr_up = enlarge(result.lr[index].detach().float().cpu(), result.scale)
    g = nonlinear.mean(dim=0)
    vmax = max(float(g.abs().max()), NONLINEAR_VMAX_FLOOR)
    top = [lr_up.clamp(0, 1), affine.clamp(0, 1), signed_colormap(g, vmax=vmax), sr.clamp(0, 1)]
    # One reference level for the whole row, so that a small non-linear part looks small.
    # The SR spectrum's peak away from the zero frequency (the mean would dominate everything else).
    sr_mag = torch.fft.fft2(to_fft_float(sr)).abs().mean(0)
    sr_mag[0, 0] = 0
    ref = float(sr_mag.max())
    ref = ref if ref > 0 else None
    spectra = [lr_up, affine, nonlinear, sr]
    if result.hr is not None:
        hr = result.hr[index].detach().float().cpu()
        top.append(hr.clamp(0, 1))
        spectra.append(hr)
    bottom = [log_magnitude_spectrum(img, reference=ref) for img in spectra]
    grid = [[_as_rgb(img) for img in top], [_as_rgb(img) for img in bottom]]
    if not labels:
        return make_panel(grid)
    smallest = min(min(img.shape[-2:]) for row in grid for img in row)
    zoom = max(1, math.ceil(MIN_LABELLED_CELL / smallest))
    grid = [[enlarge(img, zoom) for img in row] for row in grid]
    gap = 2  # make_panel's default
    xs = [
        gap + sum(img.shape[-1] + gap for img in grid[0][:i]) + grid[0][i].shape[-1] / 2
        for i in range(len(top))
    ]
    heights = [max(img.shape[-2] for img in row) for row in grid]
    ys = [gap + heights[0] / 2, 2 * gap + heights[0] + heights[1] / 2]
    return label_panel(
        make_panel(grid, gap=gap),
        columns=list(zip(HYRA_COLUMN_LABELS, xs, strict=False)),
        rows=list(zip(HYRA_ROW_LABELS, ys, strict=True)),
    )


#: :func:`lam_panel` enlarges the LR image to at least this many pixels per side.
LAM_MIN_SIDE = 192
#: Colours of the attribution overlay of :func:`lam_panel`, from a small to the largest attribution.
LAM_LOW_RGB = (1.0, 0.85, 0.2)
LAM_HIGH_RGB = POSITIVE_RGB


def _outline(
    img: Tensor, box: tuple[int, int, int, int], rgb: tuple[float, float, float], width: int
) -> Tensor:
    """``img`` with the rectangle ``(top, left, bottom, right)`` (bottom/right exclusive) outlined inside."""
    top, left, bottom, right = box
    colour = torch.tensor(rgb, dtype=img.dtype)[:, None, None]
    out = img.clone()
    for rows, cols in (
        (slice(top, top + width), slice(left, right)),
        (slice(bottom - width, bottom), slice(left, right)),
        (slice(top, bottom), slice(left, left + width)),
        (slice(top, bottom), slice(right - width, right)),
    ):
        out[:, rows, cols] = colour
    return out


def lam_panel(result: LocalAttribution, *, labels: bool = True) -> Tensor:
    """The panel of a local attribution map: the LR image with the box's footprint, and the map over it.

    Left: the LR image (channel mean when it has neither 1 nor 3 channels) clamped to [0, 1], enlarged with
    nearest-neighbour interpolation to at least :data:`LAM_MIN_SIDE` pixels per side, with the LR pixels under
    the box (:meth:`~hyra_lightning.analysis.LocalAttribution.footprint`) outlined in red. Right: the map
    blended over the LR image in grey, with opacity ``sqrt(m / max m)`` and a colour going from yellow to red
    as ``m`` grows, the footprint outlined again. With ``labels`` the columns read ``LR, box`` and
    ``LAM, DI <di>``. This is the ``lam/map`` image of :class:`~hyra_lightning.callbacks.LocalAttributionMonitor`.

    Args:
        result: a :class:`~hyra_lightning.analysis.LocalAttribution`.
        labels: write the column labels (with the diffusion index) into the image.

    Returns:
        ``(3, H, W)`` float32 image in [0, 1].
    """
    check_bool("labels", labels)
    lr = result.lr.detach().float().cpu()
    if lr.shape[0] not in (1, 3):
        lr = lr.mean(0, keepdim=True)
    rgb = _as_rgb(lr.clamp(0, 1))
    heat = result.map.detach().float().cpu()
    peak = float(heat.max()) if heat.numel() else 0.0
    t = (heat / peak).clamp(0, 1) if peak > 0 else torch.zeros_like(heat)
    low = torch.tensor(LAM_LOW_RGB)[:, None, None]
    high = torch.tensor(LAM_HIGH_RGB)[:, None, None]
    colour = low + (high - low) * t[None]
    grey = rgb.mean(0, keepdim=True).expand(3, -1, -1)
    alpha = t.sqrt()[None]
    blended = grey * (1 - alpha) + colour * alpha
    zoom = max(1, math.ceil(LAM_MIN_SIDE / min(lr.shape[-2:])))
    top, left, bottom, right = result.footprint()
    box = (top * zoom, left * zoom, bottom * zoom, right * zoom)
    width = max(1, zoom // 4)
    cells = [_outline(enlarge(img, zoom), box, LR_NYQUIST_RGB, width) for img in (rgb, blended)]
    panel = make_panel([cells])
    if not labels:
        return panel
    gap = 2  # make_panel's default
    cell = cells[0].shape[-1]
    di = "n/a" if math.isnan(result.di) else f"{result.di:.1f}"
    return label_panel(panel, columns=[("LR, box", gap + cell / 2), (f"LAM, DI {di}", 2 * gap + 1.5 * cell)])
