"""Spectral helpers shared by every layer of the package.

Everything here is a plain function on tensors: casting for FFTs, frequency grids in Nyquist units
(1.0 is the Nyquist frequency of the grid, i.e. 0.5 cycles per pixel), passband masks, zero insertion
and linear (non-circular) FFT convolution.

CPU FFTs reject float16 and bfloat16 and every FFT rejects integers, so :func:`fft_dtype` and
:func:`to_fft_float` are the single place where the package decides the working precision: float64
stays float64, everything else real is computed in float32.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "fft_dtype",
    "frequency_grid",
    "linear_fft_conv2d",
    "passband_mask",
    "radial_frequency",
    "to_fft_float",
    "zero_insert",
]


def fft_dtype(dtype: torch.dtype) -> torch.dtype:
    """Return the real floating dtype an FFT of a tensor of ``dtype`` is computed in.

    float64 is kept; float32, float16, bfloat16, integers and booleans are computed in float32.

    Raises:
        TypeError: for complex dtypes, which the package's inputs never are.
    """
    if dtype.is_complex:
        raise TypeError(f"Expected a real tensor, got dtype {dtype}.")
    return torch.float64 if dtype == torch.float64 else torch.float32


def to_fft_float(x: Tensor) -> Tensor:
    """Cast ``x`` to the dtype given by :func:`fft_dtype` (no copy when it already has it)."""
    return x.to(fft_dtype(x.dtype))


def frequency_grid(
    height: int,
    width: int,
    *,
    onesided: bool = False,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    """Vertical and horizontal frequencies of the bins of an FFT of a ``height`` x ``width`` image.

    Frequencies are in Nyquist units: ``2 * cycles_per_pixel``, so they run over [-1, 1). The layout is
    the unshifted FFT layout (``torch.fft.fftfreq``); with ``onesided=True`` the horizontal axis has the
    ``width // 2 + 1`` non-negative bins of ``torch.fft.rfft2``.

    Returns:
        ``(fy, fx)``, broadcastable tensors of shapes ``(height, 1)`` and ``(1, W')``.
    """
    fy = torch.fft.fftfreq(height, device=device, dtype=dtype) * 2
    if onesided:
        fx = torch.fft.rfftfreq(width, device=device, dtype=dtype) * 2
    else:
        fx = torch.fft.fftfreq(width, device=device, dtype=dtype) * 2
    return fy[:, None], fx[None, :]


def radial_frequency(
    height: int,
    width: int,
    *,
    onesided: bool = False,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Radial frequency ``sqrt(fx^2 + fy^2)`` in Nyquist units of every FFT bin (0 to sqrt(2))."""
    fy, fx = frequency_grid(height, width, onesided=onesided, device=device, dtype=dtype)
    return torch.sqrt(fy**2 + fx**2)


def passband_mask(
    height: int,
    width: int,
    cutoff: float,
    *,
    onesided: bool = False,
    device: torch.device | str | None = None,
) -> Tensor:
    """Boolean mask of the FFT bins inside the square passband ``|fx| <= cutoff and |fy| <= cutoff``.

    ``cutoff`` is in Nyquist units; the LR passband of a x``s`` upsampler on the HR grid is ``1 / s``. A
    small tolerance keeps bins that sit exactly on the cutoff inside the passband.
    """
    fy, fx = frequency_grid(height, width, onesided=onesided, device=device, dtype=torch.float64)
    tol = 1e-9
    return (fy.abs() <= cutoff + tol) & (fx.abs() <= cutoff + tol)


def zero_insert(x: Tensor, scale: int) -> Tensor:
    """Place LR pixel ``p`` of ``x`` at HR pixel ``scale * p`` and fill the rest with zeros.

    Args:
        x: ``(..., h, w)`` tensor.
        scale: integer upsampling factor ``s >= 1``.

    Returns:
        ``(..., s*h, s*w)`` tensor of the dtype and device of ``x``.
    """
    if scale < 1:
        raise ValueError(f"Expected `scale` to be a positive integer, got {scale}.")
    if scale == 1:
        return x
    *lead, h, w = x.shape
    out = x.new_zeros(*lead, h * scale, w * scale)
    out[..., ::scale, ::scale] = x
    return out


def _fast_len(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n (sizes the FFT libraries handle fastest)."""
    best = 1
    while best < n:
        best *= 2
    f5 = 1
    while f5 < best:
        f3 = f5
        while f3 < best:
            f2 = f3
            while f2 < n:
                f2 *= 2
            best = min(best, f2)
            f3 *= 3
        f5 *= 5
    return best


def linear_fft_conv2d(
    signal: Tensor, kernel: Tensor, origin: tuple[int, int], out_size: tuple[int, int]
) -> Tensor:
    """Linear (zero-padded, non-circular) 2-D convolution computed with FFTs.

    ``out[..., Y, X] = sum_{U, V} signal[..., U, V] * kernel[..., Y - U + origin[0], X - V + origin[1]]``
    for ``0 <= Y < out_size[0]`` and ``0 <= X < out_size[1]``, where ``kernel`` is zero outside its array.
    In words: the kernel's pixel ``origin`` is its centre of application, and nothing wraps around.

    ``signal`` ``(..., H, W)`` and ``kernel`` ``(..., kh, kw)`` broadcast over their leading dimensions. They
    are cast to the FFT dtype (float64 kept, anything else float32) before the transform.
    """
    signal = to_fft_float(signal)
    kernel = kernel.to(signal.dtype) if kernel.dtype != torch.float64 else to_fft_float(kernel)
    if kernel.dtype != signal.dtype:
        signal = signal.to(kernel.dtype)
    H, W = signal.shape[-2:]
    kh, kw = kernel.shape[-2:]
    oy, ox = origin
    # Full linear convolution has size H + kh - 1; we need rows [oy, oy + out_h) of it.
    fh = _fast_len(max(H + kh - 1, oy + out_size[0]))
    fw = _fast_len(max(W + kw - 1, ox + out_size[1]))
    spec = torch.fft.rfft2(signal, s=(fh, fw)) * torch.fft.rfft2(kernel, s=(fh, fw))
    full = torch.fft.irfft2(spec, s=(fh, fw))
    return full[..., oy : oy + out_size[0], ox : ox + out_size[1]]
