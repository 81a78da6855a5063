"""SSIM as SR papers report it (BasicSR's ``calculate_ssim``), fast on CPU.

The structural similarity of Wang et al. (2004) with an 11 x 11 Gaussian window of standard deviation 1.5,
``C1 = (0.01 L)^2`` and ``C2 = (0.03 L)^2`` for a data range ``L``, averaged over the windows that lie
entirely inside the image (BasicSR's "valid" filtering) and over channels. torchmetrics' SSIM uses the same
window but also averages the windows that reach into its reflect padding, so its value differs near
borders, and its dense 2-D convolution is several times slower on CPU than the separable filter used here.
"""

from __future__ import annotations

import torch
from torch import Tensor

from hyra_lightning.checks import check_float

__all__ = ["ssim_valid"]

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
