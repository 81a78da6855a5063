"""Hybrid Response Analysis (HyRA): split an SR output into a baseline, a linear and a non-linear part.

``N(x) = B + H(x) + G(x)`` (SPEC section 2): ``B = N(b)`` is the output for a constant image of the probe's
background ``b``; ``H`` is the linear, shift-invariant operator defined by the measured impulse response,
applied to ``x - b``; ``G`` is what remains, the non-linear part. Unlike the authors' script, the response
is used in float with its negative lobes, ``N(b)`` is removed, channels mix through the full kernel bank,
and ``H`` is aligned exactly with ``N(x)`` (no shift, no resizing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, overload

import torch
from torch import Tensor, nn

from hyra_lightning.analysis.impulse import (
    ImpulseResponse,
    ProbeOptions,
    _model_device_dtype,
    evaluation_context,
    impulse_response,
    infer_scale,
)
from hyra_lightning.analysis.precision import forward_in, probe_dtype
from hyra_lightning.checks import check_choice, check_instance
from hyra_lightning.options import BOUNDARIES, Boundary
from hyra_lightning.spectral import passband_mask, zero_insert_fft_conv2d

__all__ = ["Boundary", "HyRAResult", "hyra_decompose", "linear_response", "stopband_energy"]


def stopband_energy(x: Tensor, scale: int) -> Tensor:
    """Spectral energy of every image outside the LR passband ``|fx|, |fy| <= 1/s`` of its own grid.

    Args:
        x: ``(N, C, H, W)`` images.
        scale: upsampling factor ``s``; the LR passband is ``1/s`` in Nyquist units of the ``H x W`` grid.

    Returns:
        ``(N,)`` energies ``sum |DFT(x)|^2`` over channels and stopband bins (unnormalised DFT).

    Example:
        >>> x = torch.zeros(1, 1, 8, 8); x[..., ::2] = 1.0  # vertical stripes at the HR Nyquist frequency
        >>> stopband_energy(x, 2) / (torch.fft.fft2(x).abs() ** 2).sum()
        tensor([0.5000])
    """
    h, w = x.shape[-2:]
    spec = torch.fft.rfft2(x.to(torch.float64 if x.dtype == torch.float64 else torch.float32))
    power = spec.real**2 + spec.imag**2
    # One-sided spectrum: every column but DC (and Nyquist, for even W) stands for two bins.
    weight = torch.full((w // 2 + 1,), 2.0, dtype=power.dtype, device=x.device)
    weight[0] = 1.0
    if w % 2 == 0:
        weight[-1] = 1.0
    outside = ~passband_mask(h, w, 1.0 / scale, onesided=True, device=x.device)
    return (power * outside * weight).sum(dim=(-3, -2, -1))


def _reflect_index(length: int, pad: int, device: torch.device) -> Tensor:
    """Indices of a reflect padding (``d c b | a b c d | c b a``) of any width, also wider than the image."""
    idx = torch.arange(-pad, length + pad, device=device)
    if length == 1:
        return torch.zeros_like(idx)
    period = 2 * (length - 1)
    idx = idx.remainder(period)
    return torch.where(idx >= length, period - idx, idx)


def linear_response(
    lr: Tensor,
    response: ImpulseResponse,
    *,
    boundary: Boundary = "zero",
) -> Tensor:
    """The linear part ``H(x)`` of HyRA for the LR images ``lr``.

    .. math::
        H(x)[o](X) = \\sum_i \\sum_p (x[i, p] - b)\\, K[o, i](X - s\\,(p - c))

    computed as zero insertion followed by a linear (non-wrapping) FFT convolution with the kernel placed so
    that its HR pixel ``s*c`` is the origin. With a ``"paper"``-mode response output channel ``o`` is the
    input channel ``o`` filtered with ``K[o, 0]``.

    Args:
        lr: ``(N, C_in, h, w)`` LR images.
        response: a measured :class:`ImpulseResponse`; its background ``b`` is subtracted from ``lr``.
        boundary: ``"zero"`` (``x - b`` is zero outside the image) or ``"reflect"`` (the image is reflected
            across its borders, by enough LR pixels to cover the kernel's support).

    Returns:
        ``(N, C_out, s*h, s*w)`` tensor in the kernel's dtype, on the kernel's device.
    """
    check_choice("boundary", boundary, BOUNDARIES)
    kernel = response.kernel
    paper = response.mode == "paper"
    expected = kernel.shape[0] if paper else kernel.shape[1]
    if paper and lr.ndim == 4:
        _check_paper_channels(lr.shape[1], response)
    if lr.ndim != 4 or lr.shape[1] != expected:
        raise ValueError(
            f"Expected `lr` to have shape (N, {expected}, h, w) for a {response.mode!r} response with kernel"
            f" {tuple(kernel.shape)}, got {tuple(lr.shape)}."
        )
    s, c = response.scale, response.size // 2
    h, w = lr.shape[-2:]
    d = lr.to(device=kernel.device, dtype=kernel.dtype) - response.background
    pad = 0
    if boundary == "reflect":
        # The kernel spans LR offsets -c - 1 .. c + 1 around the pixel that produced it.
        pad = c + 1
        d = d.index_select(-2, _reflect_index(h, pad, d.device))
        d = d.index_select(-1, _reflect_index(w, pad, d.device))
    origin = (s * (c + pad), s * (c + pad))
    return zero_insert_fft_conv2d(d, kernel, s, origin, (s * h, s * w), depthwise=paper)


def _check_paper_channels(in_channels: int, response: ImpulseResponse) -> None:
    """A ``"paper"``-mode response describes only models with as many output as input channels."""
    if response.mode == "paper" and in_channels != response.out_channels:
        raise ValueError(
            f"A 'paper'-mode impulse response cannot describe a model with {in_channels} input channels and"
            f" {response.out_channels} output channels. Paper mode puts the impulse in every input"
            " channel at once and filters input channel o with output channel o's response, which needs as many"
            ' output as input channels. Measure the response with `mode="cross_channel"` (the default), whose'
            " C_out x C_in kernels describe any numbers of channels."
        )


@dataclass
class HyRAResult:
    """The HyRA decomposition ``sr = baseline + linear + nonlinear`` of a batch.

    Attributes:
        sr: ``(N, C, sH, sW)`` model output ``N(x)`` (float32, or float64 for a float64 model).
        linear: ``(N, C, sH, sW)`` linear part ``H(x)``.
        nonlinear: ``(N, C, sH, sW)`` non-linear part ``G(x) = sr - baseline - linear``.
        baseline: ``(N, C, sH, sW)`` output ``B = N(b)`` for the constant image (zeros without baseline).
        lr: ``(N, C_in, h, w)`` the LR input as given (a batch dimension added if it had none).
        hr: ``(N, C, sH, sW)`` ground truth, or None.
        scale: integer upsampling factor.
        response: the impulse response that defines ``H``.
        boundary: ``"zero"`` or ``"reflect"``.
    """

    sr: Tensor
    linear: Tensor
    nonlinear: Tensor
    baseline: Tensor
    lr: Tensor
    hr: Tensor | None
    scale: int
    response: ImpulseResponse
    boundary: Boundary = "zero"

    @overload
    def scalars(self, per_image: Literal[False] = ...) -> dict[str, float]: ...

    @overload
    def scalars(self, per_image: Literal[True]) -> dict[str, Tensor]: ...

    def scalars(self, per_image: bool = False) -> dict[str, float] | dict[str, Tensor]:
        """Scalar summaries of the decomposition (SPEC section 2).

        * ``nonlinear_energy_ratio = ||G||^2 / (||H||^2 + ||G||^2)``.
        * ``hf_injection = E_hf(G) / (E_hf(H) + E_hf(G))``, ``E_hf`` the spectral energy outside the LR
          passband (:func:`stopband_energy`).
        * with ``hr``: ``fsds_linear = FSDS(B + H, hr)``, ``fsds_sr = FSDS(sr, hr)`` and
          ``fsds_gain = fsds_sr - fsds_linear``.

        Ratios with a zero denominator are NaN.

        Args:
            per_image: return ``(N,)`` tensors instead of the batch means as Python floats.

        Returns:
            ``{name: value}``.
        """
        lin = self.linear.flatten(1).double()
        non = self.nonlinear.flatten(1).double()
        e_lin, e_non = (lin**2).sum(1), (non**2).sum(1)
        hf_lin = stopband_energy(self.linear, self.scale).double()
        hf_non = stopband_energy(self.nonlinear, self.scale).double()
        out: dict[str, Tensor] = {
            "nonlinear_energy_ratio": e_non / (e_lin + e_non),
            "hf_injection": hf_non / (hf_lin + hf_non),
        }
        if self.hr is not None:
            from hyra_lightning.functional import fsds

            hr = self.hr.to(device=self.sr.device, dtype=self.sr.dtype)
            fsds_linear = fsds(self.baseline + self.linear, hr, reduction="none")
            fsds_sr = fsds(self.sr, hr, reduction="none")
            out["fsds_linear"] = fsds_linear
            out["fsds_sr"] = fsds_sr
            out["fsds_gain"] = fsds_sr - fsds_linear
        if per_image:
            return {k: v.detach() for k, v in out.items()}
        return {k: float(v.double().mean()) for k, v in out.items()}


def hyra_decompose(
    model: nn.Module,
    lr: Tensor,
    *,
    response: ImpulseResponse | None = None,
    hr: Tensor | None = None,
    boundary: Boundary = "zero",
    **probe_kwargs: Any,
) -> HyRAResult:
    """Decompose ``model(lr)`` into baseline, linear and non-linear parts (HyRA).

    ``N(x) = B + H(x) + G(x)`` with ``B = N(b)`` (zero when the response was measured with
    ``baseline=False``), ``H`` the linear part of :func:`linear_response` and ``G`` the remainder. The model
    runs once, on a batch of the LR images and the constant image, with the same guarantees as
    :func:`~hyra_lightning.analysis.impulse_response` (eval mode, no gradients, forked RNG, flags restored)
    and in the same full precision: autocast and TF32 off, float32 (float64 for a float64 model), weights
    held in half precision seen through float32 copies.

    Args:
        model: SR network mapping ``(N, C_in, h, w)`` to ``(N, C_out, s*h, s*w)``.
        lr: ``(C_in, h, w)`` or ``(N, C_in, h, w)`` LR images.
        response: an impulse response measured earlier; probed now (with ``probe_kwargs``) when None.
        hr: optional ``(C_out, sh, sw)`` or ``(N, C_out, sh, sw)`` ground truth, for the FSDS scalars.
        boundary: ``"zero"`` or ``"reflect"``, how ``H`` sees the image beyond its borders.
        probe_kwargs: keyword arguments of :func:`~hyra_lightning.analysis.impulse_response`, e.g.
            ``options=ProbeOptions(...)`` (not allowed together with ``response``).

    Returns:
        A :class:`HyRAResult` whose tensors are ``(N, C_out, s*h, s*w)``.

    Raises:
        ValueError: invalid ``boundary``, ``lr``/``hr`` shapes, or a response that does not fit the model.

    Example:
        >>> from hyra_lightning.models import BicubicUpsampler
        >>> lr = torch.rand(1, 3, 16, 16, dtype=torch.float64)
        >>> res = hyra_decompose(BicubicUpsampler(2), lr, in_channels=3, size=9, boundary="reflect")
        >>> res.sr.shape
        torch.Size([1, 3, 32, 32])
        >>> bool(res.nonlinear[..., 4:-4, 4:-4].abs().max() < 1e-12)
        True
    """
    check_choice("boundary", boundary, BOUNDARIES)
    if not isinstance(lr, Tensor) or lr.ndim not in (3, 4) or not lr.is_floating_point():
        got = f"{tuple(lr.shape)} {lr.dtype}" if isinstance(lr, Tensor) else type(lr).__name__
        raise ValueError(f"Expected `lr` to be a floating (C, h, w) or (N, C, h, w) tensor, got {got}.")
    if response is not None and probe_kwargs:
        raise ValueError(
            f"`probe_kwargs` are only used to measure a new response; got {sorted(probe_kwargs)} together"
            " with `response`."
        )
    if response is not None:
        check_instance("response", response, ImpulseResponse, "an ImpulseResponse")
    lr4 = (lr.unsqueeze(0) if lr.ndim == 3 else lr).detach()
    # A model without floating parameters (e.g. a reference upsampler) runs in the dtype of `lr`; never in
    # half precision.
    device, model_dtype = _model_device_dtype(model)
    dtype = probe_dtype(model_dtype or lr4.dtype)
    if response is None:
        options = probe_kwargs.get("options")
        if isinstance(options, ProbeOptions):
            probe_kwargs["options"] = options.replace(
                in_channels=lr4.shape[1] if options.in_channels is None else options.in_channels,
                dtype=dtype if options.dtype is None else options.dtype,
            )
        else:
            probe_kwargs.setdefault("in_channels", lr4.shape[1])
            probe_kwargs.setdefault("dtype", dtype)
        response = impulse_response(model, **probe_kwargs)
    kernel = response.kernel
    _check_paper_channels(lr4.shape[1], response)
    n_in = kernel.shape[0] if response.mode == "paper" else kernel.shape[1]
    if lr4.shape[1] != n_in:
        raise ValueError(
            f"Expected `lr` to have {n_in} channels like the response's kernel {tuple(kernel.shape)}"
            f" ({response.mode!r} mode), got {tuple(lr.shape)}."
        )
    n, _, h, w = lr4.shape
    s = response.scale
    if hr is not None:
        if not isinstance(hr, Tensor) or hr.ndim not in (3, 4):
            got = tuple(hr.shape) if isinstance(hr, Tensor) else type(hr).__name__
            raise ValueError(f"Expected `hr` to be a (C, H, W) or (N, C, H, W) tensor, got {got}.")
        hr = (hr.unsqueeze(0) if hr.ndim == 3 else hr).detach()
        expected = (n, response.out_channels, s * h, s * w)
        if tuple(hr.shape) != expected:
            raise ValueError(
                f"Expected `hr` to have shape {expected} (the LR batch {tuple(lr4.shape)} upsampled by {s}),"
                f" got {tuple(hr.shape)}."
            )

    lr_model = lr4.to(device=device, dtype=dtype)
    batch = torch.cat([lr_model, torch.full_like(lr_model[:1], response.background)])
    with evaluation_context(model):
        out = forward_in(model, batch, dtype)
    if not isinstance(out, Tensor) or out.ndim != 4 or out.shape[0] != n + 1:
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"Expected the model to return a ({n + 1}, C, H, W) tensor, got {got}.")
    infer_scale((h, w), (out.shape[-2], out.shape[-1]), s)
    if out.shape[1] != response.out_channels:
        raise ValueError(
            f"The response has {response.out_channels} output channels but the model returns {out.shape[1]}."
        )
    out = out.detach().to(kernel.dtype)
    sr = out[:n]
    base = out[n:].expand_as(sr).contiguous() if response.baseline else torch.zeros_like(sr)
    # H sees exactly what the model saw (the LR images cast to the model's dtype and device).
    linear = linear_response(lr_model, response, boundary=boundary)
    return HyRAResult(
        sr=sr,
        linear=linear,
        nonlinear=sr - base - linear,
        baseline=base,
        lr=lr4,
        hr=hr,
        scale=s,
        response=response,
        boundary=boundary,
    )
