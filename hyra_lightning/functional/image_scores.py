"""Image scores as SR papers report them: PSNR, SSIM (BasicSR's), FSDS, the BT.601 luma and the border crop.

The one home of the per-image scores of ``hyra-lightning score`` and ``analyze`` and of the border crop the
LightningModule applies before its validation metrics.

SSIM comes in two variants on purpose, and the names say which:

- :func:`ssim_valid` (``score``, ``analyze``): the structural similarity of Wang et al. (2004) with an
  11 x 11 Gaussian window of standard deviation 1.5, ``C1 = (0.01 L)^2`` and ``C2 = (0.03 L)^2`` for a data
  range ``L``, averaged over the windows that lie entirely inside the image (BasicSR's ``calculate_ssim``,
  its "valid" filtering) and over channels; a separable filter, fast on CPU.
- ``val/ssim`` / ``test/ssim`` of :class:`~hyra_lightning.module.SuperResolutionModule`: torchmetrics'
  ``StructuralSimilarityIndexMeasure``, the same window but also averaging the windows that reach into its
  reflect padding (its values differ near the borders); chosen there because it accumulates over batches and
  synchronises across processes.
"""

from __future__ import annotations

import torch
from torch import Tensor

from hyra_lightning.checks import check_choice, check_float, check_int
from hyra_lightning.options import Y_ROUNDINGS, FSDSReference, YRounding

__all__ = [
    "BT601_Y_OFFSET",
    "BT601_Y_WEIGHTS",
    "crop_border_pixels",
    "image_scores",
    "rgb_to_y",
    "ssim_valid",
]

#: BT.601 luma weights for R, G, B in [0, 1] giving Y on the 0-255 scale (ITU-R BT.601, "studio swing").
BT601_Y_WEIGHTS: tuple[float, float, float] = (65.481, 128.553, 24.966)
#: Offset of the BT.601 luma on the 0-255 scale: Y spans [16, 235].
BT601_Y_OFFSET: float = 16.0

_WINDOW = 11
_SIGMA = 1.5


def _gaussian_taps(dtype: torch.dtype) -> list[float]:
    x = torch.arange(_WINDOW, dtype=torch.float64) - _WINDOW // 2
    g = torch.exp(-(x**2) / (2 * _SIGMA**2))
    return (g / g.sum()).tolist()


def _valid_filter(x: Tensor, taps: list[float]) -> Tensor:
    """Separable 'valid' Gaussian filtering along the last two dimensions, as shifted multiply-adds."""
    n = len(taps)
    h = x.shape[-2] - n + 1
    out = x[..., 0:h, :] * taps[0]
    for k in range(1, n):
        out.add_(x[..., k : k + h, :], alpha=taps[k])
    w = x.shape[-1] - n + 1
    res = out[..., 0:w] * taps[0]
    for k in range(1, n):
        res.add_(out[..., k : k + w], alpha=taps[k])
    return res


def ssim_valid(preds: Tensor, target: Tensor, data_range: float = 1.0) -> Tensor:
    """Per-image SSIM over the windows inside the image, as BasicSR computes it.

    .. math::
        \\mathrm{SSIM} = \\operatorname{mean}
        \\frac{(2\\mu_p\\mu_t + C_1)(2\\sigma_{pt} + C_2)}{(\\mu_p^2 + \\mu_t^2 + C_1)(\\sigma_p^2 + \\sigma_t^2 + C_2)}

    with local statistics under an 11 x 11 Gaussian window (sigma 1.5), the mean taken over the
    ``(H - 10) x (W - 10)`` window positions and the channels. Images are centred (each by its own mean)
    before the second moments are formed, which keeps float32 rounding small.

    Args:
        preds: ``(N, C, H, W)`` images.
        target: ``(N, C, H, W)`` images.
        data_range: the range ``L`` of the values (1 for images in [0, 1]).

    Returns:
        ``(N,)`` SSIM values in the floating dtype of the inputs (float32 for others).

    Example:
        >>> x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> ssim_valid(x, x)
        tensor([1.])
    """
    if preds.shape != target.shape or preds.ndim != 4:
        raise ValueError(
            f"Expected `preds` and `target` of one (N, C, H, W) shape, got {tuple(preds.shape)} and"
            f" {tuple(target.shape)}."
        )
    if min(preds.shape[-2:]) < _WINDOW:
        raise ValueError(
            f"Expected images of at least {_WINDOW} x {_WINDOW} pixels (the SSIM window), got"
            f" {preds.shape[-1]} x {preds.shape[-2]}."
        )
    check_float("data_range", data_range, minimum=0, strict_minimum=True)
    dtype = preds.dtype if preds.is_floating_point() and preds.dtype != torch.float16 else torch.float32
    dtype = torch.float64 if torch.float64 in (preds.dtype, target.dtype) else dtype
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    taps = _gaussian_taps(dtype)
    out = []
    for p, t in zip(preds.to(dtype), target.to(dtype), strict=True):  # one image at a time bounds the memory
        mp = p.mean(dim=(-2, -1), keepdim=True)
        mt = t.mean(dim=(-2, -1), keepdim=True)
        pc, tc = p - mp, t - mt
        stats = _valid_filter(torch.stack([pc, tc, pc * pc, tc * tc, pc * tc]), taps)
        mu_pc, mu_tc, e_pp, e_tt, e_pt = stats
        s_pp = e_pp - mu_pc * mu_pc
        s_tt = e_tt - mu_tc * mu_tc
        s_pt = e_pt - mu_pc * mu_tc
        mu_p, mu_t = mu_pc + mp, mu_tc + mt
        ssim_map = ((2 * mu_p * mu_t + c1) * (2 * s_pt + c2)) / (
            (mu_p * mu_p + mu_t * mu_t + c1) * (s_pp + s_tt + c2)
        )
        out.append(ssim_map.mean())
    return torch.stack(out)


def crop_border_pixels(x: Tensor, border: int) -> Tensor:
    """Remove ``border`` pixels from every side of ``(..., H, W)`` images (nothing when ``border == 0``).

    Example:
        >>> crop_border_pixels(torch.zeros(1, 3, 8, 10), 2).shape
        torch.Size([1, 3, 4, 6])
    """
    check_int("crop_border", border, minimum=0)
    if border == 0:
        return x
    height, width = x.shape[-2:]
    if height <= 2 * border or width <= 2 * border:
        raise ValueError(
            f"Expected images larger than twice `crop_border` ({border}) in both dimensions, got {height} x {width}."
        )
    return x[..., border:-border, border:-border]


def rgb_to_y(x: Tensor, rounding: YRounding = "float") -> Tensor:
    """BT.601 luma of RGB images in [0, 1], as BasicSR's ``rgb2ycbcr(..., y_only=True)`` computes it.

    .. math::
        Y = \\frac{16 + 65.481 R + 128.553 G + 24.966 B}{255}

    Args:
        x: ``(..., 3, H, W)`` RGB images in [0, 1].
        rounding: ``"float"`` keeps ``Y`` as computed (BasicSR); ``"matlab"`` rounds it to an integer on the
            0-255 scale first, ``round(255 Y) / 255`` with halves rounded up, as MATLAB's ``rgb2ycbcr`` does on
            8-bit images (the tables of MATLAB evaluation scripts; pyiqa's SSIM rounds the same way). The
            rounding is done in float64, so it does not depend on the dtype of ``x``.

    Returns:
        ``(..., 1, H, W)`` luma in [16/255, 235/255], in the dtype of ``x``.

    Example:
        >>> round(rgb_to_y(torch.ones(3, 1, 1)).item() * 255, 4)
        235.0
        >>> grey = torch.full((3, 1, 1), 0.5)
        >>> round(rgb_to_y(grey).item() * 255, 4), round(rgb_to_y(grey, "matlab").item() * 255, 4)
        (125.5, 126.0)
    """
    check_choice("rounding", rounding, Y_ROUNDINGS)
    if x.ndim < 3 or x.shape[-3] != 3:
        raise ValueError(f"Expected `x` to be (..., 3, H, W) RGB images, got {tuple(x.shape)}.")
    if rounding == "matlab":
        w = torch.tensor(BT601_Y_WEIGHTS, dtype=torch.float64, device=x.device).view(3, 1, 1)
        y255 = (x.double() * w).sum(dim=-3, keepdim=True) + BT601_Y_OFFSET
        return (torch.floor(y255 + 0.5) / 255.0).to(x.dtype)
    w = torch.tensor(BT601_Y_WEIGHTS, dtype=x.dtype, device=x.device).view(3, 1, 1)
    return ((x * w).sum(dim=-3, keepdim=True) + BT601_Y_OFFSET) / 255.0


def image_scores(
    preds: Tensor,
    target: Tensor,
    *,
    y_channel: bool = False,
    y_rounding: YRounding = "float",
    crop_border: int = 0,
    reference: FSDSReference = "target",
) -> dict[str, Tensor]:
    """Per-image PSNR, SSIM (:func:`ssim_valid`) and FSDS of a batch, as ``score`` and ``analyze`` compute them.

    Args:
        preds: ``(N, 3, H, W)`` SR images in [0, 1] (clamp them first).
        target: ``(N, 3, H, W)`` HR images in [0, 1].
        y_channel: PSNR and SSIM on the BT.601 luma (:func:`rgb_to_y`) instead of RGB. FSDS stays on RGB.
        y_rounding: how the luma is kept, ``"float"`` (BasicSR) or ``"matlab"`` (rounded to integers on the
            0-255 scale, as MATLAB and pyiqa's SSIM); see :func:`rgb_to_y`. Ignored on RGB.
        crop_border: pixels removed from every side before all three metrics (:func:`crop_border_pixels`).
        reference: FSDS reference image, ``"target"`` or ``"preds"``.

    Returns:
        ``{"psnr": (N,), "ssim": (N,), "fsds": (N,)}`` float64 tensors on the CPU.
    """
    from torchmetrics.functional.image import peak_signal_noise_ratio

    from hyra_lightning.functional.frequency_similarity import fsds

    if preds.shape != target.shape or preds.ndim != 4:
        raise ValueError(
            f"Expected `preds` and `target` of one (N, C, H, W) shape, got {tuple(preds.shape)} and"
            f" {tuple(target.shape)}."
        )
    preds = crop_border_pixels(preds.float(), crop_border)
    target = crop_border_pixels(target.float(), crop_border)
    check_choice("y_rounding", y_rounding, Y_ROUNDINGS)
    if y_channel:
        p, t = rgb_to_y(preds, y_rounding), rgb_to_y(target, y_rounding)
    else:
        p, t = preds, target
    psnr = peak_signal_noise_ratio(p, t, data_range=1.0, reduction="none", dim=(1, 2, 3))
    ssim = ssim_valid(p, t, data_range=1.0)
    scores = fsds(preds, target, reduction="none", reference=reference)
    return {
        "psnr": psnr.detach().double().cpu(),
        "ssim": ssim.detach().double().cpu(),
        "fsds": scores.detach().double().cpu(),
    }
