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

from hyra_lightning.checks import check_int

__all__ = [
    "bicubic_upsample",
    "fft_dtype",
    "frequency_grid",
    "linear_fft_conv2d",
    "passband_mask",
    "to_fft_float",
    "zero_insert",
    "zero_insert_fft_conv2d",
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
    check_int("scale", scale)
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


def zero_insert_fft_conv2d(
    x: Tensor,
    kernel: Tensor,
    scale: int,
    origin: tuple[int, int],
    out_size: tuple[int, int],
    *,
    depthwise: bool = False,
) -> Tensor:
    """Zero-insert ``x`` by ``scale`` and convolve it linearly with a bank of kernels, by FFT.

    With ``z = zero_insert(x, scale)`` this computes, without any wrap-around,

    .. math::
        out[..., o, Y, X] = \\sum_i \\sum_{U, V} z[..., i, U, V] \\, k[o, i, Y - U + o_y, X - V + o_x]

    for ``0 <= Y < out_size[0]`` and ``0 <= X < out_size[1]`` (``kernel`` is zero outside its array), i.e. a
    cross-channel transposed convolution with stride ``scale``. With ``depthwise=True`` the kernel has one
    input channel and output channel ``o`` only reads input channel ``o``.

    The spectrum of a zero-inserted image is the spectrum of the LR image repeated ``scale`` times along
    each axis, so the input is transformed at LR size and tiled; the kernels are transformed once and the
    products are summed over input channels before the single inverse transform per output channel. FFT
    lengths are multiples of ``scale`` with only the factors 2, 3 and 5 in ``length / scale``.

    Args:
        x: ``(..., C_in, h, w)`` LR tensor (``(..., C, h, w)`` with ``depthwise=True``).
        kernel: ``(C_out, C_in, kh, kw)`` kernels (``(C, 1, kh, kw)`` with ``depthwise=True``).
        scale: integer zero-insertion factor ``s >= 1``.
        origin: ``(o_y, o_x)``, the kernel pixel applied at the position of each inserted sample; it may lie
            outside the kernel array (the result is then shifted accordingly).
        out_size: ``(out_h, out_w)`` of the result.
        depthwise: filter every channel with its own kernel instead of mixing channels.

    Returns:
        ``(..., C_out, out_h, out_w)`` tensor in the FFT dtype (float64 if ``x`` or ``kernel`` is float64,
        float32 otherwise).

    Example:
        >>> x = torch.zeros(1, 1, 4, 4); x[..., 1, 2] = 1.0
        >>> k = torch.arange(1.0, 10.0).reshape(1, 1, 3, 3)
        >>> out = zero_insert_fft_conv2d(x, k, 2, origin=(1, 1), out_size=(8, 8))
        >>> out[0, 0, 1:4, 3:6].round()
        tensor([[1., 2., 3.],
                [4., 5., 6.],
                [7., 8., 9.]])
    """
    check_int("scale", scale)
    if x.ndim < 3:
        raise ValueError(f"Expected `x` to have shape (..., C, h, w), got shape {tuple(x.shape)}.")
    if kernel.ndim != 4:
        raise ValueError(f"Expected `kernel` to have shape (C_out, C_in, kh, kw), got {tuple(kernel.shape)}.")
    channels = x.shape[-3]
    if depthwise and (kernel.shape[1] != 1 or kernel.shape[0] != channels):
        raise ValueError(
            f"Expected a depthwise `kernel` of shape ({channels}, 1, kh, kw) for {channels} input channels,"
            f" got {tuple(kernel.shape)}."
        )
    if not depthwise and kernel.shape[1] != channels:
        raise ValueError(
            f"Expected `kernel` to have {channels} input channels like `x`, got shape {tuple(kernel.shape)}."
        )
    dtype = torch.float64 if torch.float64 in (x.dtype, kernel.dtype) else torch.float32
    x = x.to(dtype)
    kernel = kernel.to(device=x.device, dtype=dtype)
    s = scale
    h, w = x.shape[-2:]
    kh, kw = kernel.shape[-2:]
    oy, ox = origin
    out_h, out_w = out_size
    # The zero-inserted signal has s*(h-1)+1 meaningful rows: no wrap-around needs len >= s*(h-1)+kh.
    need_h = max(s * (h - 1) + kh, oy + out_h)
    need_w = max(s * (w - 1) + kw, ox + out_w)
    lh = _fast_len(-(-need_h // s))
    lw = _fast_len(-(-need_w // s))
    fh, fw = s * lh, s * lw
    # Spectrum of zero_insert(x) at (fh, fw) == spectrum of x at (lh, lw), tiled s x s.
    x_spec = torch.fft.fft2(x, s=(lh, lw))
    cols = torch.arange(fw // 2 + 1, device=x.device) % lw
    x_spec = x_spec.index_select(-1, cols).repeat(*([1] * (x_spec.ndim - 2)), s, 1)
    k_spec = torch.fft.rfft2(kernel, s=(fh, fw))
    if depthwise:
        spec = x_spec * k_spec[:, 0]
    else:
        spec = torch.einsum("...ihw,oihw->...ohw", x_spec, k_spec)
    full = torch.fft.irfft2(spec, s=(fh, fw))
    return full[..., oy : oy + out_h, ox : ox + out_w]


def bicubic_upsample(lr: Tensor, scale: int) -> Tensor:
    """The bicubic baseline of SR: ``interpolate(lr, scale_factor=scale, mode="bicubic", align_corners=False)``
    in float32 (float64 stays float64), clamped to [0, 1] as an SR output is before it is scored.

    The one definition of "bicubic" that the LightningModule's baseline scores and the FSDS monitor's bicubic
    curve share, so that both compare the network with the same interpolation.

    Args:
        lr: ``(N, C, h, w)`` LR images in [0, 1].
        scale: integer upsampling factor ``s >= 1``.

    Returns:
        ``(N, C, s*h, s*w)`` images in [0, 1].

    Example:
        >>> bicubic_upsample(torch.full((1, 3, 4, 5), 0.5), 2).shape
        torch.Size([1, 3, 8, 10])
    """
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"Expected `scale` to be a positive integer, got {scale!r}.")
    if lr.ndim != 4:
        raise ValueError(f"Expected `lr` to have shape (N, C, h, w), got shape {tuple(lr.shape)}.")
    x = lr if lr.dtype == torch.float64 else lr.float()
    up = torch.nn.functional.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
    return up.clamp(0.0, 1.0)
