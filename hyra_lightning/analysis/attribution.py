r"""Local attribution maps (LAM) and the diffusion index: which LR pixels an SR network uses for one patch.

Written from the definitions of Gu and Dong, "Interpreting Super-Resolution Networks with Local Attribution
Maps" (CVPR 2021):

- **Detector.** An output patch is the ``window x window`` box of the SR image whose top-left corner is at
  HR position ``(y, x)``. :func:`edge_energy` sums over the box and over the channels the gradient magnitude
  :math:`\sqrt{d_y^2 + d_x^2}` of the SR image, with forward differences
  :math:`d_y(i, j) = S(i + 1, j) - S(i, j)`, :math:`d_x(i, j) = S(i, j + 1) - S(i, j)`: the row below and the
  column right of the box take part, and at the bottom and right edges of the image the difference is 0
  (the image is extended by replication). The magnitude's gradient at a zero magnitude is taken as 0.
- **Path.** :math:`\lambda(\alpha) = LR * G(\sigma_{max}(1 - \alpha))` for :math:`\alpha \in [0, 1]`: an
  isotropic Gaussian blur of ``kernel_size`` taps (separable, normalised to sum 1, the LR image extended by
  reflection without repeating the edge pixel, ``torch``'s ``"reflect"`` padding); :math:`\sigma = 0` is the
  identity, so :math:`\lambda(1) = LR`. ``path="linear"`` is instead the straight line
  :math:`\lambda(\alpha) = b + \alpha (LR - b)` from the baseline :math:`b = LR * G(\sigma_{max})` (integrated
  gradients).
- **Attribution.** With :math:`\alpha_t = t / T` (``T = steps``) and the midpoints
  :math:`\alpha_{t + 1/2}`, the midpoint rule

  .. math::

      A_p = \sum_{t=0}^{T-1} \frac{\partial D(F(\lambda))}{\partial \lambda_p}\Big|_{\lambda(\alpha_{t+1/2})}
      \big(\lambda_p(\alpha_{t+1}) - \lambda_p(\alpha_t)\big).

  The increments telescope, so when the gradient is constant along the path (a linear network under a
  linear detector, or a homogeneous one along a ray) the sum is exact; in general the attributions sum to
  :math:`D(F(LR)) - D(F(\lambda(0)))` up to the rule's error, reported as
  :attr:`LocalAttribution.completeness_error`. The map is :math:`\sum_c |A_{c, p}|`.
- **Diffusion index.** :math:`DI = (1 - G) \cdot 100` with :math:`G` the Gini coefficient of the map's
  values over all LR pixels, normalised so that one pixel carrying everything gives :math:`G = 1`
  (:func:`diffusion_index`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hyra_lightning.analysis.impulse import _model_device_dtype, evaluation_context, infer_scale
from hyra_lightning.analysis.precision import forward_in, probe_dtype
from hyra_lightning.checks import check_choice, check_float, check_instance, check_int, fail
from hyra_lightning.options import ATTRIBUTION_PATHS, AttributionPath

__all__ = [
    "LocalAttribution",
    "box_footprint",
    "default_box",
    "diffusion_index",
    "edge_energy",
    "edge_energy_map",
    "gaussian_blur",
    "local_attribution",
]


@dataclass(frozen=True)
class LocalAttribution:
    """A local attribution map and the settings it was computed with (see :func:`local_attribution`).

    Attributes:
        attribution: ``(C, h, w)`` attribution of every LR pixel and channel (signed).
        map: ``(h, w)`` the map shown, ``attribution.abs().sum(0)``.
        di: the diffusion index of :attr:`map`, in [0, 100] (NaN for an all-zero map).
        completeness_error: ``|sum(attribution) - (D(F(LR)) - D(F(lambda(0))))|`` relative to
            ``|D(F(LR)) - D(F(lambda(0)))|`` (0 when both are 0, ``inf`` when only the latter is).
        detector: ``D(F(LR))``, the edge energy of the SR image in the box.
        detector_start: ``D(F(lambda(0)))``, the same for the start of the path.
        lr: ``(C, h, w)`` the LR image attributed, in the dtype of the measurement.
        box: ``(y, x)``, the HR position of the box's top-left corner.
        window: the side of the box, in HR pixels.
        scale: the upsampling factor.
        sigma_max: the largest blur of the path.
        kernel_size: the taps of the Gaussian.
        steps: the number of steps of the path.
        path: ``"gaussian"`` or ``"linear"``.
    """

    attribution: Tensor
    map: Tensor
    di: float
    completeness_error: float
    detector: float
    detector_start: float
    lr: Tensor
    box: tuple[int, int]
    window: int
    scale: int
    sigma_max: float
    kernel_size: int
    steps: int
    path: str

    def footprint(self) -> tuple[int, int, int, int]:
        """The LR pixels under the detector, ``(top, left, bottom, right)`` (bottom/right exclusive); see
        :func:`box_footprint`."""
        h, w = self.lr.shape[-2:]
        return box_footprint(self.box, self.window, self.scale, (h, w))

    def settings(self) -> dict[str, Any]:
        """The settings, as plain values (for a report)."""
        return {
            "box": list(self.box),
            "window": self.window,
            "scale": self.scale,
            "sigma_max": self.sigma_max,
            "kernel_size": self.kernel_size,
            "steps": self.steps,
            "path": self.path,
        }


# ------------------------------------------------------------------------------------------------ pieces


def _check_box(box: Any) -> tuple[int, int]:
    if (
        not isinstance(box, (tuple, list))
        or len(box) != 2
        or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in box)
    ):
        fail("box", "a pair (y, x) of non-negative integers", box)
    return int(box[0]), int(box[1])


def box_footprint(
    box: tuple[int, int], window: int, scale: int, lr_size: tuple[int, int], radius: int = 0
) -> tuple[int, int, int, int]:
    """The LR pixels under the detector of a box, grown by ``radius`` and clipped to the LR image.

    The detector reads the SR rows ``y .. y + window`` (the forward differences reach one row below the box;
    at the image's bottom edge only ``y .. H - 1``) and likewise the columns; SR pixel ``Y`` lies over LR pixel
    ``Y // scale``.

    Args:
        box: ``(y, x)``, HR position of the box's top-left corner.
        window: side of the box in HR pixels.
        scale: upsampling factor.
        lr_size: ``(h, w)`` of the LR image.
        radius: LR pixels added on every side (a network's receptive-field radius).

    Returns:
        ``(top, left, bottom, right)`` in LR pixels, bottom and right exclusive.

    Example:
        >>> box_footprint((8, 8), 8, 2, (16, 16))
        (4, 4, 9, 9)
    """
    y, x = _check_box(box)
    check_int("window", window)
    check_int("scale", scale)
    check_int("radius", radius, minimum=0)
    h, w = lr_size
    last_y = min(y + window, scale * h - 1)
    last_x = min(x + window, scale * w - 1)
    return (
        max(0, y // scale - radius),
        max(0, x // scale - radius),
        min(h, last_y // scale + 1 + radius),
        min(w, last_x // scale + 1 + radius),
    )


def edge_energy(sr: Tensor, box: tuple[int, int], window: int) -> Tensor:
    r"""The detector :math:`D`: the gradient magnitude of ``sr`` summed over the box and the channels.

    Forward differences :math:`d_y(i, j) = S(i + 1, j) - S(i, j)`, :math:`d_x(i, j) = S(i, j + 1) - S(i, j)`
    for every pixel ``(i, j)`` of the box, per channel, magnitude :math:`\sqrt{d_y^2 + d_x^2}`; the row below
    and the column right of the box take part, and past the image's last row or column the difference is 0.
    The gradient of the magnitude at a zero magnitude is 0.

    Args:
        sr: ``(N, C, H, W)`` SR images.
        box: ``(y, x)``, the top-left corner of the box; the box must lie inside the image.
        window: side of the box.

    Returns:
        ``(N,)`` the detector of each image (differentiable).

    Example:
        >>> ramp = torch.arange(4.0).repeat(4, 1)[None, None]  # d_x = 1 everywhere but the last column
        >>> edge_energy(ramp, (0, 0), 2)
        tensor([4.])
    """
    y, x = _check_box(box)
    check_int("window", window, minimum=2)
    if not isinstance(sr, Tensor) or sr.ndim != 4:
        got = tuple(sr.shape) if isinstance(sr, Tensor) else type(sr).__name__
        fail("sr", "an (N, C, H, W) tensor", got)
    height, width = sr.shape[-2:]
    if y + window > height or x + window > width:
        fail("box", f"a box of {window} x {window} inside the {height} x {width} image", (y, x))
    crop = sr[..., y : min(y + window + 1, height), x : min(x + window + 1, width)]
    pad_bottom, pad_right = window + 1 - crop.shape[-2], window + 1 - crop.shape[-1]
    if pad_bottom or pad_right:
        crop = F.pad(crop, (0, pad_right, 0, pad_bottom), mode="replicate")
    top_left = crop[..., :-1, :-1]
    d_y = crop[..., 1:, :-1] - top_left
    d_x = crop[..., :-1, 1:] - top_left
    magnitude = torch.linalg.vector_norm(torch.stack([d_y, d_x]), dim=0)
    return magnitude.flatten(1).sum(1)


def _gaussian_kernels(sigmas: Tensor, kernel_size: int) -> Tensor:
    """``(S, kernel_size)`` normalised 1-D Gaussians; a zero sigma gives the unit impulse."""
    r = kernel_size // 2
    taps = torch.arange(-r, r + 1, dtype=sigmas.dtype, device=sigmas.device)
    safe = torch.where(sigmas > 0, sigmas, torch.ones_like(sigmas))
    kernels = torch.exp(-(taps[None] ** 2) / (2 * safe[:, None] ** 2))
    delta = (taps == 0).to(sigmas.dtype).expand_as(kernels)
    kernels = torch.where((sigmas > 0)[:, None], kernels, delta)
    return kernels / kernels.sum(1, keepdim=True)


def gaussian_blur(x: Tensor, sigmas: Tensor | float, kernel_size: int = 9) -> Tensor:
    """Blur one image with several isotropic Gaussians at once (the path of a local attribution map).

    Separable normalised Gaussian of ``kernel_size`` taps, the image extended by reflection without
    repeating the edge pixel (``torch``'s ``"reflect"`` padding); ``sigma = 0`` returns the image itself.

    Args:
        x: ``(C, h, w)`` image, with ``h, w > kernel_size // 2``.
        sigmas: one standard deviation or ``(S,)`` of them, in LR pixels (>= 0).
        kernel_size: odd number of taps, >= 3.

    Returns:
        ``(S, C, h, w)`` (``(1, C, h, w)`` for one sigma).

    Example:
        >>> x = torch.zeros(1, 5, 5); x[0, 2, 2] = 1
        >>> round(float(gaussian_blur(x, 1.0, 3).sum()), 6), gaussian_blur(x, 0.0, 3).equal(x[None])
        (1.0, True)
    """
    _check_kernel_size(kernel_size)
    if not isinstance(x, Tensor) or x.ndim != 3 or not x.is_floating_point():
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        fail("x", "a floating (C, h, w) tensor", got)
    r = kernel_size // 2
    if min(x.shape[-2:]) <= r:
        fail(
            "x", f"an image larger than {r} pixels on each side (`kernel_size` {kernel_size})", tuple(x.shape)
        )
    sigmas = torch.as_tensor(sigmas, dtype=x.dtype, device=x.device).reshape(-1)
    if bool((sigmas < 0).any()) or not bool(torch.isfinite(sigmas).all()):
        fail("sigmas", "non-negative finite standard deviations", sigmas.tolist())
    kernels = _gaussian_kernels(sigmas, kernel_size)  # (S, k)
    padded = F.pad(x[None], (r, r, r, r), mode="reflect")[0]  # (C, h + 2r, w + 2r)
    rows = torch.einsum("chwk,sk->schw", padded.unfold(-2, kernel_size, 1), kernels)  # (S, C, h, w + 2r)
    return torch.einsum("schwk,sk->schw", rows.unfold(-1, kernel_size, 1), kernels)


def _check_kernel_size(kernel_size: Any) -> int:
    if (
        isinstance(kernel_size, bool)
        or not isinstance(kernel_size, int)
        or kernel_size < 3
        or kernel_size % 2 == 0
    ):
        fail("kernel_size", "an odd integer >= 3", kernel_size)
    return kernel_size


def diffusion_index(map: Tensor) -> float:
    r"""The diffusion index :math:`DI = (1 - G) \cdot 100` of an attribution map.

    :math:`G` is the Gini coefficient of the map's ``n`` values :math:`m_{(1)} \le \dots \le m_{(n)}` (all
    pixels, any shape), normalised to reach 1:

    .. math::

        G = \frac{\sum_{i=1}^{n} (2i - n - 1)\, m_{(i)}}{(n - 1) \sum_i m_i},

    so ``DI = 0`` when one pixel carries everything and ``DI = 100`` when all carry the same. (The
    unnormalised Gini, with ``n`` instead of ``n - 1``, differs by the factor ``(n - 1)/n``: for an LR image of
    48 x 48 pixels, below 0.05 %.) An all-zero map has no index: NaN.

    Args:
        map: non-negative finite values, at least two.

    Returns:
        The index in [0, 100], or NaN for an all-zero map.

    Example:
        >>> one = torch.zeros(8, 8); one[3, 4] = 2.0
        >>> diffusion_index(one), diffusion_index(torch.ones(8, 8))
        (0.0, 100.0)
    """
    if not isinstance(map, Tensor) or map.numel() < 2:
        got = tuple(map.shape) if isinstance(map, Tensor) else type(map).__name__
        fail("map", "a tensor of at least two values", got)
    values = map.detach().flatten().to(torch.float64)
    if not bool(torch.isfinite(values).all()) or bool((values < 0).any()):
        fail("map", "non-negative finite values", f"values in [{float(values.min())}, {float(values.max())}]")
    total = float(values.sum())
    if total == 0:
        return math.nan
    n = values.numel()
    ranks = torch.arange(1, n + 1, dtype=torch.float64, device=values.device)
    gini = float(((2 * ranks - n - 1) * values.sort().values).sum()) / ((n - 1) * total)
    return min(100.0, max(0.0, (1.0 - gini) * 100.0))


def default_box(lr: Tensor, scale: int, *, window: int = 16) -> tuple[int, int]:
    """The box a local attribution map is drawn for by default: the window with the most edge energy.

    The LR image's gradient magnitude (forward differences, summed over channels, as :func:`edge_energy`) is
    summed over every ``ceil(window / scale)``-pixel LR window; the first window with the largest sum (in
    row-major order) gives the box, at HR position ``scale`` times its LR position, moved up or left where the
    HR box would leave the SR image. Only the LR image is read, so every model of one scale gets the same box.

    Args:
        lr: ``(C, h, w)`` or ``(N, C, h, w)`` LR image(s); the first is used.
        scale: upsampling factor.
        window: side of the box in HR pixels (at most ``scale * min(h, w)``).

    Returns:
        ``(y, x)``, the HR position of the box's top-left corner.

    Example:
        >>> lr = torch.zeros(1, 16, 16); lr[:, 9:, 12:] = 1  # one corner
        >>> default_box(lr, 2, window=8)
        (16, 22)
    """
    check_int("scale", scale)
    check_int("window", window, minimum=2)
    if not isinstance(lr, Tensor) or lr.ndim not in (3, 4) or not lr.is_floating_point():
        got = tuple(lr.shape) if isinstance(lr, Tensor) else type(lr).__name__
        fail("lr", "a floating (C, h, w) or (N, C, h, w) tensor", got)
    image = (lr[0] if lr.ndim == 4 else lr).detach().to(torch.float64)
    h, w = image.shape[-2:]
    if window > scale * min(h, w):
        fail("window", f"at most the SR image's side {scale * min(h, w)}", window)
    edges = edge_energy_map(image)
    m = max(1, min(math.ceil(window / scale), h, w))
    sums = F.avg_pool2d(edges[None, None], m, stride=1)[0, 0]
    index = int(torch.argmax(sums.flatten()))
    ly, lx = divmod(index, sums.shape[-1])
    return min(ly * scale, scale * h - window), min(lx * scale, scale * w - window)


def edge_energy_map(image: Tensor) -> Tensor:
    """``(h, w)`` gradient magnitude of a ``(C, h, w)`` image per pixel, summed over channels (the forward
    differences of :func:`edge_energy`, 0 past the last row and column)."""
    padded = F.pad(image[None], (0, 1, 0, 1), mode="replicate")[0]
    d_y = padded[:, 1:, :-1] - padded[:, :-1, :-1]
    d_x = padded[:, :-1, 1:] - padded[:, :-1, :-1]
    return torch.sqrt(d_y**2 + d_x**2).sum(0)


# ------------------------------------------------------------------------------------------------ LAM


def _path_points(
    x: Tensor, path: str, sigma_max: float, kernel_size: int, steps: int
) -> tuple[Tensor, Tensor]:
    """``(steps + 1, C, h, w)`` points at ``alpha = t / steps`` and ``(steps, C, h, w)`` at the midpoints."""
    alphas = torch.linspace(0, 1, steps + 1, dtype=torch.float64)
    mids = (torch.arange(steps, dtype=torch.float64) + 0.5) / steps
    if path == "gaussian":
        points = gaussian_blur(x, (sigma_max * (1 - alphas)).to(x.dtype), kernel_size)
        middle = gaussian_blur(x, (sigma_max * (1 - mids)).to(x.dtype), kernel_size)
    else:
        base = gaussian_blur(x, sigma_max, kernel_size)[0]
        a = alphas.to(x.dtype, copy=False).to(x.device)[:, None, None, None]
        m = mids.to(x.dtype, copy=False).to(x.device)[:, None, None, None]
        points = base + a * (x - base)
        middle = base + m * (x - base)
    points[-1] = x  # exactly the LR image at alpha = 1
    return points, middle


def _sr(model: nn.Module, x: Tensor, dtype: torch.dtype) -> Tensor:
    out = forward_in(model, x, dtype)
    if not isinstance(out, Tensor) or out.ndim != 4 or out.shape[0] != x.shape[0]:
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise TypeError(
            f"Expected `model` to return an (N, C, H, W) tensor for an (N, C, h, w) input, got {got} for"
            f" {tuple(x.shape)}. Pass the SR network itself (LR -> SR)."
        )
    return out


def local_attribution(
    model: nn.Module,
    lr: Tensor,
    box: tuple[int, int],
    *,
    window: int = 16,
    sigma_max: float = 1.2,
    kernel_size: int = 9,
    steps: int = 50,
    scale: int | None = None,
    path: AttributionPath = "gaussian",
    batch_size: int = 10,
) -> LocalAttribution:
    r"""The local attribution map of one output patch: how much each LR pixel contributes to its edges.

    For the SR network :math:`F`, the detector :math:`D` (:func:`edge_energy` of the ``window x window`` box
    at HR position ``box``) and the path :math:`\lambda` from a blurred LR image to the LR image (see the module
    docstring), the attribution of LR pixel and channel ``p`` is the midpoint rule over ``steps`` steps

    .. math::

        A_p = \sum_{t} \partial_p D(F(\lambda(\alpha_{t+1/2}))) \, (\lambda_p(\alpha_{t+1}) - \lambda_p(\alpha_t)),

    :math:`\sum_p A_p \approx D(F(LR)) - D(F(\lambda(0)))` (completeness, reported as
    ``completeness_error``). The map is :math:`\sum_c |A_c|` and ``di`` its :func:`diffusion_index`.

    The network runs in eval mode on a forked RNG, in full precision (autocast and TF32 off, float32, float64
    for a float64 model; half-precision weights seen through float32 copies), with gradients taken with
    respect to the input only (:func:`torch.autograd.grad`): the train/eval flags and the RNG are restored, the
    parameters' ``.grad`` are untouched, and it works inside ``torch.no_grad`` and ``torch.inference_mode``.
    The path runs in batches of ``batch_size`` images: ``steps`` forward and backward passes and one forward
    pass of two images in all.

    Args:
        model: the SR network, ``(N, C, h, w) -> (N, C_out, s*h, s*w)``.
        lr: ``(C, h, w)`` or ``(1, C, h, w)`` LR image.
        box: ``(y, x)``, HR position of the top-left corner of the output patch; the patch must lie inside
            the SR image (see :func:`default_box` for a choice).
        window: side of the patch in HR pixels (>= 2).
        sigma_max: standard deviation of the blur at the start of the path, in LR pixels (> 0).
        kernel_size: odd number of taps of the Gaussian (>= 3, less than twice the LR image's side).
        steps: number of steps of the path (>= 1).
        scale: expected upsampling factor; ``None`` infers it from the output size.
        path: ``"gaussian"`` (the blur shrinks, Gu and Dong's path) or ``"linear"`` (the straight line from the
            blurred image to LR, integrated gradients with that baseline).
        batch_size: path images per forward pass (lower it when memory is short).

    Returns:
        A :class:`LocalAttribution` on the model's device.

    Raises:
        ValueError: for an argument out of range or a box outside the SR image.
        TypeError: for a model that is not an ``nn.Module`` or does not return an image batch.

    Example:
        >>> from hyra_lightning.models import BicubicUpsampler
        >>> lam = local_attribution(BicubicUpsampler(2), torch.rand(3, 16, 16), (12, 12), window=8, steps=8)
        >>> lam.map.shape, lam.completeness_error < 1e-2, lam.di < 20
        (torch.Size([16, 16]), True, True)
    """
    check_instance("model", model, nn.Module, "a torch.nn.Module")
    check_int("window", window, minimum=2)
    check_float("sigma_max", sigma_max, minimum=0, strict_minimum=True)
    _check_kernel_size(kernel_size)
    check_int("steps", steps)
    check_int("scale", scale, optional=True)
    check_choice("path", path, ATTRIBUTION_PATHS)
    check_int("batch_size", batch_size)
    y, x = _check_box(box)
    if (
        not isinstance(lr, Tensor)
        or not lr.is_floating_point()
        or not (lr.ndim == 3 or (lr.ndim == 4 and lr.shape[0] == 1))
    ):
        got = tuple(lr.shape) if isinstance(lr, Tensor) else type(lr).__name__
        fail("lr", "a floating (C, h, w) or (1, C, h, w) tensor", got)
    h, w = lr.shape[-2:]
    if min(h, w) <= kernel_size // 2:
        fail(
            "kernel_size",
            f"an odd integer >= 3 below {2 * min(h, w)} for an LR image of {h} x {w}",
            kernel_size,
        )

    device, model_dtype = _model_device_dtype(model)
    dtype = probe_dtype(model_dtype)
    with evaluation_context(model), torch.inference_mode(False), torch.enable_grad():
        image = lr.detach().reshape(lr.shape[-3:]).to(device=device, dtype=dtype).clone()
        with torch.no_grad():
            points, middle = _path_points(image, path, float(sigma_max), kernel_size, steps)
            ends = _sr(model, torch.stack([image, points[0]]), dtype)
        s = infer_scale((h, w), tuple(ends.shape[-2:]), scale)  # type: ignore[arg-type]
        height, width = ends.shape[-2:]
        if y + window > height or x + window > width:
            fail(
                "box",
                f"the top-left corner of a {window} x {window} box inside the {height} x {width} SR image"
                f" (y <= {height - window}, x <= {width - window})",
                (y, x),
            )
        detector, detector_start = edge_energy(ends.detach(), (y, x), window).tolist()
        increments = points[1:] - points[:-1]
        accumulate = dtype if device.type == "mps" else torch.float64  # MPS has no float64
        attribution = torch.zeros(image.shape, dtype=accumulate, device=device)
        for start in range(0, steps, batch_size):
            stop = min(steps, start + batch_size)
            inputs = middle[start:stop].detach().clone().requires_grad_(True)
            energy = edge_energy(_sr(model, inputs, dtype), (y, x), window).sum()
            (grad,) = torch.autograd.grad(energy, inputs)
            attribution += (grad.detach() * increments[start:stop]).sum(0).to(accumulate)
    total = float(attribution.sum())
    change = detector - detector_start
    if change != 0:
        error = abs(total - change) / abs(change)
    else:
        error = 0.0 if total == 0 else math.inf
    attribution = attribution.to(dtype)
    heat = attribution.abs().sum(0)
    return LocalAttribution(
        attribution=attribution,
        map=heat,
        di=diffusion_index(heat),
        completeness_error=error,
        detector=detector,
        detector_start=detector_start,
        lr=image.detach(),
        box=(y, x),
        window=window,
        scale=s,
        sigma_max=float(sigma_max),
        kernel_size=kernel_size,
        steps=steps,
        path=path,
    )
