"""Reference upsamplers: exact linear, shift-invariant ground truths and baselines.

Both modules map ``N x C x h x w`` to ``N x C x (s*h) x (s*w)`` and treat every channel alike. The HR
geometry is the package's (see the spectral conventions): LR pixel ``p`` covers the HR block
``[s*p, s*p + s)``, so its response is centred at HR coordinate ``s*p + (s - 1)/2``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hyra_lightning.checks import check_float, check_int

__all__ = ["BicubicUpsampler", "SincUpsampler", "kaiser_sinc_taps"]


def _check_scale(scale: int) -> int:
    return check_int("scale", scale)


def _check_input(x: Tensor) -> None:
    if not isinstance(x, Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"Expected `x` to have shape (N, C, h, w), got {shape}.")


class BicubicUpsampler(nn.Module):
    """Bicubic upsampling by an integer factor (``torch.nn.functional.interpolate``, ``align_corners=False``).

    HR pixel ``X`` reads LR coordinate ``u = (X + 0.5)/s - 0.5`` and weights its four LR neighbours with the
    cubic-convolution kernel of parameter ``a = -0.75`` (PyTorch's choice). At the image border the LR
    indices are clamped, i.e. the image is extended by replication. The module has no parameters.

    Args:
        scale: integer upsampling factor ``s >= 1``.

    Example:
        >>> up = BicubicUpsampler(2)
        >>> up(torch.ones(1, 3, 4, 5)).shape
        torch.Size([1, 3, 8, 10])
    """

    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = _check_scale(scale)

    def forward(self, x: Tensor) -> Tensor:
        """Upsample ``x`` of shape ``(N, C, h, w)`` to ``(N, C, s*h, s*w)``."""
        _check_input(x)
        h, w = x.shape[-2:]
        return F.interpolate(x, size=(self.scale * h, self.scale * w), mode="bicubic", align_corners=False)

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


def kaiser_sinc_taps(scale: int, taps: int, beta: float, dtype: torch.dtype = torch.float64) -> Tensor:
    """One-dimensional polyphase kernel of :class:`SincUpsampler`.

    Entry ``j`` (``0 <= j < 2*taps*scale + scale``) is applied to an LR sample that sits ``j - taps*scale``
    HR pixels before the output pixel, i.e. at ``t = (j - taps*scale - (scale - 1)/2) / scale`` LR pixels
    from the output pixel's centre. Its value is ``sinc(t) * kaiser(t / taps, beta)`` for ``|t| <= taps`` and 0
    beyond, and every polyphase component (the entries ``j = r, r + s, ...``) is divided by its own sum, so
    that a constant LR image gives exactly the same constant at every HR pixel.

    Args:
        scale: integer upsampling factor ``s >= 1``.
        taps: half-width of the window in LR pixels.
        beta: Kaiser window parameter (0 is a rectangular window).
        dtype: floating dtype of the result.

    Returns:
        1-D tensor of length ``2*taps*scale + scale``.
    """
    s = _check_scale(scale)
    j = torch.arange(2 * taps * s + s, dtype=torch.float64)
    t = (j - taps * s - (s - 1) / 2) / s
    inside = t.abs() <= taps
    arg = torch.clamp(1 - (t / taps) ** 2, min=0.0).sqrt() * beta
    window = torch.special.i0(arg) / torch.special.i0(torch.tensor(beta, dtype=torch.float64))
    k = torch.where(inside, torch.sinc(t) * window, torch.zeros_like(t))
    k = k.reshape(-1, s)  # column r holds polyphase component r
    k = k / k.sum(dim=0, keepdim=True)
    return k.reshape(-1).to(dtype)


class SincUpsampler(nn.Module):
    """Zero insertion followed by a separable Kaiser-windowed sinc with cutoff at the LR Nyquist frequency.

    The 1-D kernel is ``sinc(t) * kaiser(t / taps, beta)`` with ``t = (X - X0) / s`` the distance in LR pixels
    from the LR sample's centre ``X0 = s*p + (s - 1)/2``; for even ``s`` it is therefore sampled at half-pixel
    offsets. Each polyphase component is normalised to sum to one, so the DC gain is exactly one (a constant
    image stays constant); see :func:`kaiser_sinc_taps`. The 2-D kernel is the outer product of the 1-D one.
    Borders are handled by replicating the LR image, like :class:`BicubicUpsampler`.

    The defaults (``taps=16``, ``beta=2.0``) were chosen for the impulse-response descriptors: with the
    default 33 x 33 probe (which the kernel just fits) they give, at x2, x3 and x4, a ``sinc_similarity`` of
    0.999, a cutoff within 0.1% of ``1/s`` and a ``stopband_leakage`` of 0.003 (0.996 and 0.006 with a
    65 x 65 probe, whose ideal sinc is longer). Fewer taps or a larger ``beta`` shorten the filter or lower
    its ringing at the price of a wider transition band around ``1/s``, hence more leakage.

    Args:
        scale: integer upsampling factor ``s >= 1``.
        taps: half-width of the window in LR pixels: each output pixel reads ``2 * taps`` LR pixels per axis.
        beta: Kaiser window parameter, ``>= 0``.

    Example:
        >>> up = SincUpsampler(3)
        >>> y = up(torch.full((1, 1, 6, 7), 0.25))
        >>> y.shape, bool(torch.allclose(y, torch.tensor(0.25)))
        (torch.Size([1, 1, 18, 21]), True)
    """

    kernel_1d: Tensor

    def __init__(self, scale: int, taps: int = 16, beta: float = 2.0) -> None:
        super().__init__()
        self.scale = _check_scale(scale)
        check_int("taps", taps)
        check_float("beta", beta, minimum=0)
        self.taps = taps
        self.beta = float(beta)
        self.register_buffer("kernel_1d", kaiser_sinc_taps(scale, taps, self.beta), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """Upsample ``x`` of shape ``(N, C, h, w)`` to ``(N, C, s*h, s*w)``."""
        _check_input(x)
        s, pad = self.scale, self.taps + 1
        c, h, w = x.shape[-3:]
        k = self.kernel_1d.to(x.dtype)
        length = k.numel()
        if x.dtype in (torch.float16, torch.bfloat16) and x.device.type == "cpu":
            # torch < 2.5 has no half-precision replicate padding on the CPU; padding copies values exactly
            xp = F.pad(x.float(), (pad, pad, pad, pad), mode="replicate").to(x.dtype)
        else:
            xp = F.pad(x, (pad, pad, pad, pad), mode="replicate")
        # Transposed convolution == zero insertion + convolution; crop so that the output pixel X reads
        # entry X - s*p + taps*s of the kernel for LR pixel p.
        y = F.conv_transpose2d(xp, k.view(1, 1, length, 1).expand(c, 1, length, 1), stride=(s, 1), groups=c)
        y = y[:, :, s * (pad + self.taps) : s * (pad + self.taps + h), :]
        y = F.conv_transpose2d(y, k.view(1, 1, 1, length).expand(c, 1, 1, length), stride=(1, s), groups=c)
        return y[..., s * (pad + self.taps) : s * (pad + self.taps + w)]

    def extra_repr(self) -> str:
        return f"scale={self.scale}, taps={self.taps}, beta={self.beta}"
