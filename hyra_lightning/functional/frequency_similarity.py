r"""Frequency spectrum distribution similarity (FSDS) and its frequency-similarity curve.

FSDS (Deng et al., ICML 2024) compares the *integrated* spectra of two images: each image is normalised to
zero mean and unit variance, its one-sided 2-D spectrum is split into the non-negative and the negative
vertical frequencies, and each half is integrated (cumulative sums along rows, then along columns). The score
is the ratio, in dB, of the energy of the reference's integrated spectrum to the energy of the difference of
the two integrated spectra. The frequency-similarity curve splits the same two energies by radial frequency.

Implementation notes (none of them changes the result beyond rounding):

- the difference of two integrated spectra is the integrated spectrum of the difference of the two
  normalised images, so each image pair needs two transforms (the raw images) and two integrations (the
  normalised difference and the reference);
- both images of every pair go through one stacked tensor ``(2, n, C, H, W)``: one transform, one set of
  normalisation kernels, one pair of cumulative sums and one set of energy reductions for both, which keeps
  the number of kernel launches low on a GPU;
- each image first has one of its own pixel values subtracted (FSDS ignores constant offsets): this takes a
  large mean out of the transform, whose rounding in float32 would otherwise swamp the variation of an image
  like ``photo + 1e5``;
- normalisation happens in the frequency domain: the mean of the image is read from the DC bins and removed
  from the bins it affects (only the DC bin for an even height; the ``fx = 0`` column when the height is odd
  and a zero row is appended), the standard deviation comes from Parseval's identity, and the scale factors
  are folded into the combination of the two spectra and into the energies;
- the odd-height zero row is appended by the transform itself (``s=``), on the input's device;
- energies are summed as float32 row norms whose squares are added in float64: FSDS is sensitive to the
  normalisation at the 1e-7 level, and a one-shot float32 reduction over a megapixel is not that accurate;
- without autograd the spectra are overwritten in place (fewer fresh allocations); with it, nothing is, and a
  pair with a non-finite value is zeroed before the transform so that NaN or Inf never reaches a gradient;
- on CPU, image pairs are processed in cache-sized chunks (the integrations are memory-bound), counted by the
  bytes of the stacked spectra of both images of a pair, so large images go one pair per chunk; on other
  devices the whole batch is processed at once, optionally through :func:`torch.compile` (:data:`COMPILE`);
- the computation never reads a value back to the host: invalid pairs (constant or non-finite image) are a
  device-side mask. The public functions read the number of invalid pairs once per call, after everything
  else is queued, to warn; the metric reads it once per ``compute``.
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from hyra_lightning.checks import check_choice, check_instance, check_int
from hyra_lightning.options import FSDS_REFERENCES, REDUCTIONS, FSDSReference, Reduction
from hyra_lightning.spectral import fft_dtype

__all__ = [
    "frequency_bands",
    "frequency_similarity_curve",
    "frequency_spectrum_distribution_similarity",
    "fsds",
]

#: Largest radial frequency of a one-sided spectrum, in Nyquist units (the corner ``fx = fy = 1/2``).
MAX_RADIAL_FREQUENCY: float = math.sqrt(2.0)

#: On CPU, image pairs are processed in chunks whose stacked one-sided spectra (both images of every pair, as
#: the chunk holds them) take at most about this many bytes, so that the memory-bound integration passes run in
#: cache (L2 and a share of L3); a pair larger than that (a 3 x 1020 x 1020 pair takes 50 MB) is a chunk of its
#: own, so batching never holds more memory per transform than a per-image loop does. A chunk also holds at
#: least ``2 * torch.get_num_threads()`` 2-D transforms (two images times their channels per pair), to keep
#: every thread of the FFT busy. Chosen with ``benchmarks/bench_fsds.py --chunk-sweep``: 8 MB keeps the chunks
#: of small images that the sweep chose before the two images of a pair were stacked (4 MB per image).
CPU_CHUNK_BYTES: int = 8 * 2**20

#: An image whose standard deviation is at most this many machine epsilons times the magnitude of its mean
#: (a few units in the last place of its values) is treated as constant: its normalised version would be
#: rounding noise. The standard deviation is computed after subtracting one of the image's own values, so it is
#: accurate down to that level whatever the mean (an image of mean 1e5 in float32 keeps its variation).
CONSTANT_TOLERANCE_EPS: float = 4.0

#: Relative tolerance, in band widths, that puts a coefficient lying on a band edge into the upper band.
_EDGE_TOLERANCE = 1e-9


# ----------------------------------------------------------------------------------------------------------
# argument and input checks
# ----------------------------------------------------------------------------------------------------------


def _check_args(reduction: str | None, reference: str, num_bands: int | None = None) -> Reduction:
    """Validate the non-tensor arguments; return ``reduction`` with ``None`` mapped to ``"none"``."""
    if reduction is None:
        reduction = "none"
    check_choice("reduction", reduction, REDUCTIONS)
    check_choice("reference", reference, FSDS_REFERENCES)
    if num_bands is not None:
        _check_num_bands(num_bands)
    return reduction  # type: ignore[return-value]


def _check_num_bands(num_bands: int) -> None:
    check_int("num_bands", num_bands)


def _check_tensor(x: object, name: str) -> Tensor:
    check_instance(name, x, Tensor, "a torch.Tensor")
    if x.is_complex():
        raise TypeError(f"Expected `{name}` to be a real tensor, got dtype {x.dtype}.")
    if x.ndim not in (3, 4):
        raise ValueError(
            f"Expected `{name}` to have shape (N, C, H, W) or (C, H, W), got shape {tuple(x.shape)}."
        )
    if x.shape[-3] < 1 or x.shape[-2] < 2 or x.shape[-1] < 2:
        raise ValueError(
            f"Expected `{name}` to have at least one channel and H, W >= 2, got shape {tuple(x.shape)}."
        )
    return x


def _fsds_check_inputs(preds: object, target: object) -> tuple[Tensor, Tensor]:
    """Check ``preds`` and ``target`` and return them as ``(N, C, H, W)`` tensors of the FFT dtype.

    The working dtype is float64 when either input is float64 and float32 otherwise (float16, bfloat16,
    integers and booleans included).
    """
    preds = _check_tensor(preds, "preds")
    target = _check_tensor(target, "target")
    if preds.shape != target.shape:
        raise ValueError(
            "Expected `preds` and `target` to have the same shape, got "
            f"{tuple(preds.shape)} and {tuple(target.shape)}."
        )
    if preds.device != target.device:
        raise ValueError(
            f"Expected `preds` and `target` to be on the same device, got {preds.device} and {target.device}."
        )
    dtype = fft_dtype(torch.promote_types(preds.dtype, target.dtype))
    preds, target = preds.to(dtype), target.to(dtype)
    if preds.ndim == 3:
        preds, target = preds.unsqueeze(0), target.unsqueeze(0)
    return preds, target


# ----------------------------------------------------------------------------------------------------------
# frequency bands
# ----------------------------------------------------------------------------------------------------------


def frequency_bands(
    num_bands: int = 16,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    """Centres and edges of the radial frequency bands of the frequency-similarity curve.

    The radial frequencies ``[0, sqrt(2)]`` (Nyquist units; ``sqrt(2)`` is the corner ``fx = fy = 1/2``
    cycles per pixel) are cut into ``num_bands`` equal bands ``[edges[k], edges[k + 1])``, the last one
    closed. Band ``k`` is the ``k``-th value of every curve, and is logged as ``band_<kk>``.

    Args:
        num_bands: number of bands, a positive integer.
        device: device of the returned tensors.
        dtype: floating dtype of the returned tensors.

    Returns:
        ``(centres, edges)`` of shapes ``(num_bands,)`` and ``(num_bands + 1,)``.

    Example:
        >>> from hyra_lightning.functional import frequency_bands
        >>> centres, edges = frequency_bands(4)
        >>> centres
        tensor([0.1768, 0.5303, 0.8839, 1.2374])
        >>> edges
        tensor([0.0000, 0.3536, 0.7071, 1.0607, 1.4142])
    """
    _check_num_bands(num_bands)
    edges = torch.linspace(0.0, MAX_RADIAL_FREQUENCY, num_bands + 1, dtype=torch.float64)
    centres = (edges[:-1] + edges[1:]) / 2
    return centres.to(device=device, dtype=dtype), edges.to(device=device, dtype=dtype)


@functools.lru_cache(maxsize=32)
def _band_index(height: int, width: int, num_bands: int, device: torch.device) -> Tensor:
    """Band of every coefficient of the two integrated half-spectra, flattened over ``(2, H'/2, W//2 + 1)``.

    ``height`` is the (even) padded height ``H'``. Row ``k`` of the non-negative half has ``fy = k / H'``,
    row ``k`` of the flipped negative half has ``fy = (k + 1) / H'``, column ``j`` has ``fx = j / W``, and
    the radial frequency is ``2 * sqrt(fx^2 + fy^2)`` Nyquist units.
    """
    half = height // 2
    k = torch.arange(half, dtype=torch.float64)
    fy = torch.stack([k / height, (k + 1) / height])[:, :, None]
    fx = (torch.arange(width // 2 + 1, dtype=torch.float64) / width)[None, None, :]
    rho = 2 * torch.sqrt(fx**2 + fy**2)
    band = torch.floor(rho * (num_bands / MAX_RADIAL_FREQUENCY) + _EDGE_TOLERANCE)
    return band.clamp_(0, num_bands - 1).to(torch.long).flatten().to(device)


# ----------------------------------------------------------------------------------------------------------
# the computation
# ----------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _mean_column(height: int, padded_height: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """``fx = 0`` column of the forward-normalised spectrum of an all-ones ``height`` x ``W`` image.

    The image is padded with zero rows to ``padded_height``; the column does not depend on ``W``. For an
    even height only the DC bin is non-zero; for an odd height (one zero row appended) every bin is, and
    ``sum_{y < H} exp(-2 pi i k y / H') = -exp(2 pi i k / H')`` for ``k != 0``.
    """
    col = torch.zeros(padded_height, dtype=torch.complex128)
    col[0] = height / padded_height
    if padded_height != height:
        k = torch.arange(1, padded_height, dtype=torch.float64)
        col[1:] = -torch.exp(2j * math.pi * k / padded_height) / padded_height
    return col.to(device=device, dtype=dtype)


def _energy(x: Tensor) -> Tensor:
    """Sum of squared magnitudes ``(N,)`` of a complex ``(N, C, rows, cols)`` tensor, in float64.

    Row norms in the working precision (short vectorised reductions, accurate to about 1e-9 relative), then a
    float64 sum of their squares. A single float32 ``vector_norm`` over a megapixel is off by 1e-4 relative,
    and FSDS is sensitive to the normalisation of the images at the 1e-7 level.
    """
    rows = torch.linalg.vector_norm(torch.view_as_real(x), dim=(-2, -1))
    return rows.to(torch.float64).square().sum((1, 2))


def _column_energy(column: Tensor) -> Tensor:
    """Sum of squared magnitudes ``(N,)`` of a complex ``(N, C, rows)`` column, in float64."""
    return torch.view_as_real(column).to(torch.float64).square().sum((1, 2, 3))


def _normalise_spectrum(
    spec: Tensor, col: Tensor, height: int, width: int, offset: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Remove the image mean from a forward-normalised one-sided spectrum, in place; return its statistics.

    Args:
        spec: ``(N, C, H', W//2 + 1)`` spectrum of the image padded to ``H'`` rows, modified in place.
        col: ``(H',)`` output of :func:`_mean_column`.
        height: original height ``H``.
        width: width ``W``.
        offset: ``(N,)`` value subtracted from every pixel before the transform (see :func:`_pivot`), so that
            the constant-image test compares with the resolution of the original values.

    Returns:
        ``(std, valid, mean)``, each of shape ``(N,)`` and float64: the unbiased standard deviation over the
        ``C * H * W`` values of every image (computed with Parseval's identity; 1.0 where the image is not
        ``valid``), whether the image is finite and not constant (see :data:`CONSTANT_TOLERANCE_EPS`), and
        the mean of the transformed (offset) image.
    """
    channels, padded_height = spec.shape[1], spec.shape[2]
    numel = channels * height * width
    bins = padded_height * width
    mean = spec[:, :, 0, 0].real.to(torch.float64).sum(1) * (bins / numel)
    spec[..., 0] -= mean.to(spec.real.dtype)[:, None, None] * col
    # Parseval over the full spectrum: columns 1 .. ceil(W/2) - 1 appear twice, column 0 and (W even)
    # column W/2 once.
    energy = 2 * _energy(spec) - _column_energy(spec[..., 0])
    if width % 2 == 0:
        energy = energy - _column_energy(spec[..., -1])
    var = energy * (bins / (numel - 1))
    eps = torch.finfo(spec.real.dtype).eps
    level = (mean + offset.to(torch.float64)).abs()
    valid = (
        torch.isfinite(mean) & torch.isfinite(var) & (var > (CONSTANT_TOLERANCE_EPS * eps * level).square())
    )
    valid &= var > 0
    # A safe value before the square root keeps invalid images finite and their gradients zero (not NaN).
    return torch.where(valid, var, 1.0).sqrt(), valid, mean


def _band_sums(energy: Tensor, band_index: Tensor, num_bands: int) -> Tensor:
    """Per-band sums ``(..., num_bands)`` of energy maps ``(..., P)``, accumulated in float64."""
    out = energy.new_zeros(*energy.shape[:-1], num_bands, dtype=torch.float64)
    return out.index_add_(energy.ndim - 1, band_index, energy.to(torch.float64))


def _chunk_size(preds: Tensor) -> int:
    """Number of image pairs processed at once (all of them off the CPU)."""
    n = preds.shape[0]
    if preds.device.type != "cpu":
        return max(n, 1)
    c, h, w = preds.shape[1:]
    # Both images of a pair go through one stacked transform: 2 * c spectra of (H', W // 2 + 1) complex values.
    per_pair = 2 * c * (h + h % 2) * (w // 2 + 1) * 2 * preds.element_size()
    balanced = -(-2 * torch.get_num_threads() // (2 * c))
    return max(1, min(n, max(CPU_CHUNK_BYTES // per_pair, balanced)))


def _pivot(preds: Tensor, target: Tensor, track: bool) -> tuple[Tensor, Tensor]:
    """Both images of every pair in one ``(2, n, C, H, W)`` tensor, each minus its first pixel, and the
    ``(2, n)`` first pixels.

    FSDS does not change when a constant is subtracted from an image. Subtracting one of the image's own values
    (exactly, for values within a factor 2 of it) takes the mean out of the transform's way: in float32, an
    image of mean ``1e5`` would otherwise lose its variation in the rounding of the DC bin. With ``track``
    (autograd), the pairs with a non-finite value are zeroed, so that NaN or Inf cannot reach any gradient; such
    a pair then counts as constant and is left out like one.
    """
    offset = torch.stack([preds[:, 0, 0, 0], target[:, 0, 0, 0]])
    if not track:
        x = torch.empty((2, *preds.shape), dtype=preds.dtype, device=preds.device)
        torch.sub(preds, offset[0, :, None, None, None], out=x[0])
        torch.sub(target, offset[1, :, None, None, None], out=x[1])
        return x, offset
    x = torch.stack([preds, target]) - offset[:, :, None, None, None]
    finite = torch.isfinite(x).flatten(2).all(-1).all(0)
    x = torch.where(finite[None, :, None, None, None], x, 0.0)
    return x, torch.where(finite[None], offset, 0.0)


def _fsds_chunk(
    preds: Tensor,
    target: Tensor,
    padded_height: int,
    col: Tensor,
    use_target: bool,
    bands: Tensor | None,
    num_bands: int,
    track: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """Energies of a chunk of image pairs; see :func:`_fsds_update`.

    Returns:
        ``(num, den, valid, band_energies)``: ``(n,)``, ``(n,)``, ``(n,)`` and ``(2, n, num_bands)`` (numerator
        energies first) or ``None``.
    """
    n, _, height, width = preds.shape
    x, offset = _pivot(preds, target, track)
    # One transform for both images of every pair: (2, n, C, H', W//2 + 1).
    spec = torch.fft.rfft2(x, s=(padded_height, width), norm="forward")
    std, valid, _ = _normalise_spectrum(spec.flatten(0, 1), col, height, width, offset.flatten())
    std, valid = std.view(2, n), valid.view(2, n)
    valid = valid[0] & valid[1]
    ref_i, other_i = (1, 0) if use_target else (0, 1)
    std_ref, std_other = std[ref_i], std[other_i]
    # p / std_p - t / std_t = (p - t * std_p / std_t) / std_p = -(t - p * std_t / std_p) / std_t: one pass on
    # the spectrum that is not the reference, with the scale moved to the energy.
    ratio = (std_other / std_ref).to(preds.dtype)[:, None, None, None]
    if track:
        spec = torch.stack([torch.addcmul(spec[other_i], spec[ref_i], -ratio), spec[ref_i]])
        std = torch.stack([std_other, std_ref])
        ref_i, other_i = 1, 0
    else:
        spec[other_i].addcmul_(spec[ref_i], -ratio)
    # spec holds the difference and the reference: integrate both at once, columns on everything (the two
    # cumulative sums commute; the contiguous dimension first), then the rows of each half.
    half = padded_height // 2
    spec = spec.cumsum(-1) if track else spec.cumsum_(-1)
    top = spec[..., :half, :]
    top = top.cumsum(-2) if track else top.cumsum_(-2)
    bottom = spec[..., half:, :].flip(-2).cumsum_(-2)
    scale = std.square().reciprocal()  # (2, n), indexed like spec
    energy = (_energy(top.flatten(0, 1)) + _energy(bottom.flatten(0, 1))).view(2, n) * scale
    band_energy = None
    if bands is not None:
        maps = torch.cat([_power(top), _power(bottom)], -1)  # (2, n, 2 * half * W')
        band_energy = _band_sums(maps, bands, num_bands) * scale[..., None]
        band_energy = band_energy[[other_i, ref_i]]
    return energy[other_i], energy[ref_i], valid, band_energy


def _power(h: Tensor) -> Tensor:
    """Squared magnitudes of integrated half-spectra ``(2, n, C, rows, cols)`` summed over channels, flattened:
    ``(2, n, rows * cols)``."""
    return torch.addcmul(h.real.square(), h.imag, h.imag).sum(2).flatten(2)


#: Compile the per-chunk computation with :func:`torch.compile` off the CPU (set from the environment variable
#: ``HYRA_FSDS_COMPILE=1``, or assign it). When compiling fails, the eager code runs, with one warning.
COMPILE: bool = os.environ.get("HYRA_FSDS_COMPILE", "0") not in ("", "0", "false", "False")

_compiled_chunk: Callable[..., Any] | None = None
_compile_failed = False
#: Compile on the CPU too (for tests; the CPU path is chunked and memory-bound, compiling does not pay there).
_COMPILE_ON_CPU = False


def _chunk_fn(device: torch.device) -> Callable[..., Any]:
    """The per-chunk function: compiled when :data:`COMPILE` is set and the device is not the CPU."""
    global _compiled_chunk
    if not COMPILE or _compile_failed or (device.type == "cpu" and not _COMPILE_ON_CPU):
        return _fsds_chunk
    if _compiled_chunk is None:
        _compiled_chunk = torch.compile(_fsds_chunk, dynamic=False)
    return _compiled_chunk


def _run_chunk(*args: Any) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    global _compile_failed
    fn = _chunk_fn(args[0].device)
    if fn is _fsds_chunk:
        return fn(*args)
    try:
        return fn(*args)
    except Exception as err:  # the compiler rejected it: fall back to eager for good, once warned
        _compile_failed = True
        warnings.warn(
            f"FSDS: torch.compile failed ({type(err).__name__}: {err}); using the eager implementation.",
            UserWarning,
            stacklevel=3,
        )
        return _fsds_chunk(*args)


def _fsds_update(
    preds: Tensor, target: Tensor, reference: str = "target", num_bands: int | None = None
) -> tuple[Tensor, Tensor, Tensor, Tensor | None, Tensor | None]:
    """Energies of the integrated difference and reference spectra of every image pair.

    No host synchronisation and no warning: the caller decides when to read ``valid`` (see
    :func:`_warn_if_invalid`).

    Args:
        preds: ``(N, C, H, W)`` tensor of the FFT dtype (see :func:`_fsds_check_inputs`).
        target: same shape and dtype as ``preds``.
        reference: ``"target"`` or ``"preds"``, the image whose integrated spectrum is the denominator.
        num_bands: also split the energies into this many radial bands when given.

    Returns:
        ``(num, den, valid, band_num, band_den)``: ``num`` and ``den`` of shape ``(N,)``, ``valid`` the
        boolean ``(N,)`` mask of pairs whose images are finite and not constant, and the ``(N, num_bands)``
        band energies (``None`` without ``num_bands``; an empty band has zero energies). Entries of invalid
        pairs are meaningless (with autograd: finite, with zero gradients); :func:`_fsds_score` masks them.
    """
    n, _, height, width = preds.shape
    if n == 0:
        empty = preds.new_zeros(0)
        empty_bands = None if num_bands is None else preds.new_zeros(0, num_bands)
        return empty, empty, empty.bool(), empty_bands, empty_bands
    padded = height + height % 2
    device = preds.device
    complex_dtype = torch.complex128 if preds.dtype == torch.float64 else torch.complex64
    col = _mean_column(height, padded, complex_dtype, device)
    bands = None if num_bands is None else _band_index(padded, width, num_bands, device)
    use_target = reference == "target"
    # Without autograd, the spectra are overwritten in place (fewer fresh allocations of spectrum size).
    track = torch.is_grad_enabled() and (preds.requires_grad or target.requires_grad)

    parts = []
    step = _chunk_size(preds)
    for start in range(0, n, step):
        chunk_p, chunk_t = preds[start : start + step], target[start : start + step]
        parts.append(_run_chunk(chunk_p, chunk_t, padded, col, use_target, bands, num_bands or 0, track))
    dtype = preds.dtype
    num = torch.cat([p[0] for p in parts]).to(dtype)
    den = torch.cat([p[1] for p in parts]).to(dtype)
    valid = torch.cat([p[2] for p in parts])
    if bands is None:
        return num, den, valid, None, None
    band = torch.cat([p[3] for p in parts], 1).to(dtype)  # type: ignore[misc]
    return num, den, valid, band[0], band[1]


def _is_compiling() -> bool:
    compiler = getattr(torch, "compiler", None)
    return bool(compiler is not None and hasattr(compiler, "is_compiling") and compiler.is_compiling())


def _warn_if_invalid(valid: Tensor) -> None:
    """Warn when some pair is invalid: the one host synchronisation of a functional call (skipped while
    ``torch.compile`` traces)."""
    if valid.numel() == 0 or _is_compiling():
        return
    num_invalid = int((~valid).sum())
    if num_invalid:
        _warn_invalid(num_invalid, valid.numel())


def _warn_invalid(num_invalid: int, num_pairs: int, stacklevel: int = 4) -> None:
    warnings.warn(
        f"FSDS: {num_invalid} of {num_pairs} image pair(s) contain a constant image (zero standard deviation, "
        "which cannot be normalised) or non-finite values (NaN or Inf); they score NaN and are left out of "
        "every reduction.",
        UserWarning,
        stacklevel=stacklevel,
    )


def _fsds_ratio(num: Tensor, den: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
    """``(num / den, defined)``: the energy ratio where ``valid`` and ``den > 0``, 1 elsewhere, and the mask
    of the defined entries (``valid`` broadcast over trailing dims).

    ``den == 0`` happens for a band that holds no coefficient (small images, many bands): 0/0. Masking it here,
    rather than dividing and masking the NaN afterwards, keeps the gradients of the other entries finite (the
    division's backward would multiply a zero gradient by ``1 / 0``); undefined entries get zero gradients.
    This is the last step shared by the FSDS score (:func:`_fsds_score`) and the FSDS loss
    (:mod:`hyra_lightning.losses`).
    """
    while valid.ndim < num.ndim:
        valid = valid.unsqueeze(-1)
    defined = valid & (den > 0)
    return torch.where(defined, num, 1.0) / torch.where(defined, den, 1.0), defined


def _fsds_score(num: Tensor, den: Tensor, valid: Tensor) -> Tensor:
    """``-10 log10(num / den)`` where ``valid`` and ``den > 0``, NaN elsewhere (see :func:`_fsds_ratio`)."""
    ratio, defined = _fsds_ratio(num, den, valid)
    return torch.where(defined, -10 * torch.log10(ratio), torch.nan)


def _reduce(scores: Tensor, reduction: str) -> Tensor:
    """Reduce per-image scores over dim 0, leaving out NaN entries (NaN where nothing is left)."""
    if reduction == "none":
        return scores
    defined = ~torch.isnan(scores)
    total = torch.where(defined, scores, 0.0).sum(0)
    count = defined.sum(0)
    if reduction == "sum":
        return torch.where(count > 0, total, torch.nan)
    return total / count


# ----------------------------------------------------------------------------------------------------------
# public functions
# ----------------------------------------------------------------------------------------------------------


def frequency_spectrum_distribution_similarity(
    preds: Tensor,
    target: Tensor,
    reduction: Reduction | None = "elementwise_mean",
    reference: FSDSReference = "target",
) -> Tensor:
    r"""Frequency spectrum distribution similarity (FSDS), in dB; higher is better.

    For one image pair, each image is normalised over all of its ``C * H * W`` values (mean subtracted,
    divided by the unbiased standard deviation); an odd height gets one row of zeros at the bottom; the
    one-sided spectrum :math:`F = \mathrm{rfft2}(x)` is split into :math:`P` (rows ``[0, H'/2)``) and
    :math:`Q` (rows ``[H'/2, H')`` flipped, the negative vertical frequencies); each half is integrated
    (cumulative sums along rows, then along columns) into :math:`D(x)`, and

    .. math::
        \mathrm{FSDS}(p, t) = -10 \log_{10}
        \frac{\sum |D(p) - D(t)|^2}{\sum |D(r)|^2},

    the sums running over both halves and all channels, with :math:`r` the ``reference`` image.

    Args:
        preds: super-resolved images, ``(N, C, H, W)`` or ``(C, H, W)``, real (floating, integer or bool).
        target: ground-truth images of the same shape.
        reduction: how per-image scores are reduced over the batch:

            - ``"elementwise_mean"``: mean of the per-image scores (default; the dataset convention);
            - ``"sum"``: sum of the per-image scores;
            - ``"none"`` or ``None``: the ``(N,)`` per-image scores (``(1,)`` for a ``(C, H, W)`` input).

            Pairs that score NaN (see below) are left out of ``"elementwise_mean"`` and ``"sum"``; when no pair
            is left the result is NaN.
        reference: the image whose integrated spectrum is the denominator. ``"target"`` (default) follows the
            paper's printed equation and the authors' notebooks; ``"preds"`` follows the script that produced
            the paper's Table 1. They differ by about 0.1 to 0.25 dB on real photographs.

    Returns:
        A scalar tensor, or ``(N,)`` with ``reduction="none"``, of dtype float64 for float64 inputs and
        float32 otherwise.

    Raises:
        TypeError: if an input is not a tensor or is complex.
        ValueError: if the inputs' shapes differ or are not ``(N, C, H, W)`` / ``(C, H, W)``, if H or W is
            below 2, if they are on different devices, or if ``reduction`` or ``reference`` is unknown.

    Special values (never an exception):

    - a constant image (zero standard deviation; in practice a standard deviation of at most
      ``64 * eps * |mean|``, which only rounding error produces) cannot be normalised: the pair scores NaN;
    - NaN or Inf anywhere in an image: the pair scores NaN;
    - both emit one warning per call and leave the other pairs of the batch unaffected;
    - identical images score ``+inf``. Their gradient is undefined.

    The score is invariant to an affine intensity change (positive scale) of either image. float16, bfloat16,
    integer and boolean inputs are computed in float32 (CPU FFTs reject half precision); float64 is kept.
    The function is differentiable with respect to both inputs. float32 results agree with float64 ones
    to a few 1e-4 dB on the bundled photographs.

    Example:
        Bicubic x2 super-resolution of a bundled photograph:

        >>> import torch.nn.functional as F
        >>> from hyra_lightning.data import load_photo
        >>> from hyra_lightning.functional import frequency_spectrum_distribution_similarity
        >>> target = load_photo("camera")[None]  # (1, 3, 512, 512), values in [0, 1]
        >>> lr = F.interpolate(target, scale_factor=0.5, mode="bicubic", antialias=True)
        >>> preds = F.interpolate(lr, scale_factor=2, mode="bicubic")
        >>> frequency_spectrum_distribution_similarity(preds, target).round(decimals=2)
        tensor(40.1300)
        >>> frequency_spectrum_distribution_similarity(preds, target, reference="preds").round(decimals=2)
        tensor(40.2000)
        >>> frequency_spectrum_distribution_similarity(target, target)
        tensor(inf)
    """
    reduction = _check_args(reduction, reference)
    preds, target = _fsds_check_inputs(preds, target)
    num, den, valid, _, _ = _fsds_update(preds, target, reference)
    _warn_if_invalid(valid)
    return _reduce(_fsds_score(num, den, valid), reduction)


#: Short alias of :func:`frequency_spectrum_distribution_similarity`.
fsds = frequency_spectrum_distribution_similarity


def frequency_similarity_curve(
    preds: Tensor,
    target: Tensor,
    num_bands: int = 16,
    reduction: Reduction | None = "elementwise_mean",
    reference: FSDSReference = "target",
) -> tuple[Tensor, Tensor]:
    r"""FSDS per radial frequency band: where in the spectrum ``preds`` departs from ``target``.

    Every coefficient of the two integrated half-spectra (see
    :func:`frequency_spectrum_distribution_similarity`) gets its radial frequency in Nyquist units: row
    ``k`` of :math:`P` has :math:`f_y = k / H'`, row ``k`` of :math:`Q` has :math:`f_y = (k + 1) / H'`,
    column ``j`` has :math:`f_x = j / W`, and :math:`\rho = 2 \sqrt{f_x^2 + f_y^2} \in [0, \sqrt 2]`. The
    range is cut into ``num_bands`` equal bands (see :func:`frequency_bands`) and, for band :math:`b`,

    .. math::
        \mathrm{FSDS}_b(p, t) = -10 \log_{10}
        \frac{\sum_{\rho \in b} |D(p) - D(t)|^2}{\sum_{\rho \in b} |D(r)|^2}.

    Summing the numerators and the denominators over all bands gives back the scalar FSDS. With a scale
    factor ``s``, the LR image can only carry the bands below ``1 / s``.

    Args:
        preds: super-resolved images, ``(N, C, H, W)`` or ``(C, H, W)``.
        target: ground-truth images of the same shape.
        num_bands: number of radial bands, a positive integer.
        reduction: ``"elementwise_mean"`` (per-band mean over images, the dataset curve), ``"sum"`` or
            ``"none"``/``None`` (one curve per image). NaN entries are left out of the reductions.
        reference: ``"target"`` or ``"preds"``, as in :func:`frequency_spectrum_distribution_similarity`.

    Returns:
        ``(frequencies, values)``: the band centres ``(num_bands,)`` in Nyquist units, and the per-band FSDS
        in dB, ``(num_bands,)`` or ``(N, num_bands)`` with ``reduction="none"``. A band that holds no
        coefficient (possible for small images and many bands) is NaN; pairs with a constant or non-finite
        image are NaN in every band, with one warning.

    Raises:
        TypeError: as :func:`frequency_spectrum_distribution_similarity`.
        ValueError: as :func:`frequency_spectrum_distribution_similarity`, or if ``num_bands`` is not a
            positive integer.

    Example:
        >>> import torch
        >>> from hyra_lightning.functional import frequency_similarity_curve
        >>> target = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> preds = target + 0.1 * torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
        >>> freqs, values = frequency_similarity_curve(preds, target, num_bands=4)
        >>> freqs
        tensor([0.1768, 0.5303, 0.8839, 1.2374])
        >>> values.shape
        torch.Size([4])
    """
    reduction = _check_args(reduction, reference, num_bands)
    preds, target = _fsds_check_inputs(preds, target)
    _, _, valid, band_num, band_den = _fsds_update(preds, target, reference, num_bands)
    _warn_if_invalid(valid)
    assert band_num is not None and band_den is not None
    frequencies, _ = frequency_bands(num_bands, device=preds.device, dtype=preds.dtype)
    return frequencies, _reduce(_fsds_score(band_num, band_den, valid), reduction)
