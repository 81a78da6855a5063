"""The impulse-response probe of an SR network and the descriptors of its response.

Feed the network an LR image that is a constant ``b`` plus ``a`` at the centre pixel, subtract its output
for the constant image and divide by ``a``: ``K = (N(b + a*delta) - N(b)) / a``. For a network trained with
an L1/L2 loss ``K`` looks like a 2-D sinc whose cutoff sits near the LR Nyquist frequency (Deng et al.,
ICML 2024). The descriptors below turn ``K`` into a handful of numbers that can be tracked over training.

Conventions: an ``n x n`` probe has its impulse at LR pixel ``c = n // 2``; LR pixel ``p`` covers HR block
``[s*p, s*p + s)``, so the response is centred at HR coordinate ``s*c + (s - 1)/2``. Frequencies are in
Nyquist units of the HR grid (1.0 = 0.5 cycles per HR pixel), so the LR Nyquist frequency is ``1/s``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import Tensor, nn

from hyra_lightning.analysis.precision import forward_in, full_precision, probe_dtype
from hyra_lightning.checks import check_bool, check_choice, check_float, check_instance, check_int, fail
from hyra_lightning.options import PROBE_MODES, ProbeMode
from hyra_lightning.spectral import passband_mask, to_fft_float

__all__ = [
    "MAX_LINEARITY_ERROR",
    "MAX_REPEATABILITY_ERROR",
    "READING_ERRORS",
    "ImpulseDescriptors",
    "ImpulseResponse",
    "ProbeMode",
    "ProbeOptions",
    "describe_luminance",
    "impulse_response",
    "is_filter_reading",
    "magnitude_profiles",
    "phase_gains",
    "reading_problem",
]


@dataclass(frozen=True)
class ImpulseDescriptors:
    """Scalar descriptors of an impulse response (SPEC section 1).

    Attributes:
        dc_gain: ``sum(g) / s^2``; 1.0 means flat regions keep their brightness.
        cutoff: mean of ``cutoff_h`` and ``cutoff_v``; an ideal low-pass filter has ``1/s``.
        cutoff_h: first frequency on the horizontal frequency axis where the magnitude response falls below
            0.5 (Nyquist units of the HR grid; 1.0 if it never does).
        cutoff_v: the same on the vertical frequency axis.
        anisotropy: ``|cutoff_h - cutoff_v| / cutoff``.
        sinc_similarity: cosine similarity of ``g`` with the ideal ``s^2 sinc((X-X0)/s) sinc((Y-Y0)/s)``.
        negative_lobe: depth of the deepest negative value relative to the peak, ``-min(g) / max(g)``
            (0 when ``g`` has no negative value). A separable sinc has about 0.217.
        stopband_leakage: share of the spectral energy of ``g`` outside the LR passband; ideal 0.
        phase_gain_spread: relative spread ``(max - min) / |mean|`` of the per-phase DC gains (see
            :func:`phase_gains`), the ``s x s`` gains that a flat image gets at the ``s x s`` sub-pixel
            positions of an HR block. 0 means the linear part turns a flat image into a flat image; a positive
            value is an ``s x s`` grid (a checkerboard at ``s = 2``) in the linear part of HyRA. From
            :meth:`ImpulseResponse.describe` the gains are per output channel (``C_out x s x s`` values, so a
            colour grid counts); from :func:`describe_luminance` they are those of ``g`` alone.
        linearity_error: how far the probed network is from linear at this probe, ``max(homogeneity_error,
            superposition_error)``; 0 to float precision for a linear network. None unless measured.
        repeatability_error: relative L2 difference between the responses of two probes run with different
            random streams; 0 for a deterministic network. None unless measured.
        homogeneity_error: relative L2 difference between the responses (divided by their amplitudes) to
            impulses of amplitudes ``a`` and ``a/2``; an ingredient of ``linearity_error``. None unless measured.
        superposition_error: relative L2 difference between the response to two impulses at once and the sum
            of their single responses (and, with several input channels, between the response to an impulse
            in every channel and the sum of the per-channel responses); an ingredient of ``linearity_error``.
            None unless measured.
        shift_variance: relative L2 difference between the responses to impulses at LR pixels ``(c, c)`` and
            ``(c + 1, c + 1)`` once the latter is shifted back by ``s`` HR pixels (0 for convolutions and pixel
            shuffle; not part of :attr:`filter_reading`). None unless measured.

    These five are the *reading errors* of the probe (see :func:`impulse_response`, ``checks``): relative L2
    errors ``||x - y|| / ||y||`` of the baseline-subtracted responses, ``y`` the reference. A reading whose
    ``linearity_error`` exceeds :data:`MAX_LINEARITY_ERROR` or whose ``repeatability_error`` exceeds
    :data:`MAX_REPEATABILITY_ERROR` does not describe a filter (:attr:`filter_reading` is False).
    """

    dc_gain: float
    cutoff: float
    cutoff_h: float
    cutoff_v: float
    anisotropy: float
    sinc_similarity: float
    negative_lobe: float
    stopband_leakage: float
    phase_gain_spread: float
    linearity_error: float | None = None
    repeatability_error: float | None = None
    homogeneity_error: float | None = None
    superposition_error: float | None = None
    shift_variance: float | None = None

    @property
    def filter_reading(self) -> bool:
        """Whether these descriptors describe a filter: see :func:`is_filter_reading`."""
        return is_filter_reading(self.linearity_error, self.repeatability_error)

    @property
    def reading_problem(self) -> str | None:
        """None for a filter reading, else why it is not one and what to try: see :func:`reading_problem`."""
        return reading_problem(self.linearity_error, self.repeatability_error)

    def as_dict(self) -> dict[str, float]:
        """The measured descriptors as ``{name: float}`` (the optional ones only when they were measured)."""
        out: dict[str, float] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = float(value)
        return out


@dataclass
class ImpulseResponse:
    """An impulse response measured by :func:`impulse_response`.

    The probe settings are stored once, in :attr:`options`; :attr:`scale`, :attr:`size`, :attr:`amplitude`,
    :attr:`background`, :attr:`baseline`, :attr:`mode`, :attr:`precision` and :attr:`center` read through it.

    Attributes:
        kernel: ``(C_out, C_in, s*n, s*n)`` response ``K[o, i]`` of output channel ``o`` to an impulse in input
            channel ``i`` (``(C_out, 1, s*n, s*n)`` in ``"paper"`` mode, where the impulse is in every input
            channel at once). float32, or float64 for a float64 model; on the model's device.
        luminance: ``(s*n, s*n)`` luminance response ``g``: mean over output channels of the sum over input
            channels of ``kernel``.
        options: the :class:`ProbeOptions` the response was measured with, ``scale``, ``in_channels`` and
            ``dtype`` filled in with the values used; ``impulse_response(model, options=r.options)`` measures
            it again.
        model_dtype: floating dtype of the model's own parameters (None for a model without any). When it
            differs from :attr:`precision` (half-precision weights), the model was measured through cast copies
            of its weights; its own parameters were left untouched.
        linearity_error: see :class:`ImpulseDescriptors`; None when measured with ``checks=False``.
        repeatability_error: likewise.
        homogeneity_error: likewise.
        superposition_error: likewise.
        shift_variance: likewise.
    """

    kernel: Tensor
    luminance: Tensor
    options: ProbeOptions
    model_dtype: torch.dtype | None = None
    linearity_error: float | None = None
    repeatability_error: float | None = None
    homogeneity_error: float | None = None
    superposition_error: float | None = None
    shift_variance: float | None = None

    @property
    def scale(self) -> int:
        """Integer upsampling factor ``s``."""
        return int(self.options.scale)  # type: ignore[arg-type]  # always filled in by the probe

    @property
    def size(self) -> int:
        """LR probe size ``n``."""
        return self.options.size

    @property
    def amplitude(self) -> float:
        """Impulse amplitude ``a`` as requested (the division uses the amplitude representable in
        :attr:`precision`)."""
        return float(self.options.amplitude)

    @property
    def background(self) -> float:
        """Constant background ``b``."""
        return float(self.options.background)

    @property
    def baseline(self) -> bool:
        """Whether the response to the background was subtracted."""
        return self.options.baseline

    @property
    def mode(self) -> ProbeMode:
        """``"cross_channel"`` or ``"paper"``."""
        return self.options.mode

    @property
    def precision(self) -> torch.dtype:
        """dtype the network ran in during the probe (probe images, weights and arithmetic): float32, or
        float64 for a float64 model or when asked for; always with autocast and TF32 off."""
        return self.options.dtype or torch.float32

    @property
    def center(self) -> tuple[float, float]:
        """``(Y0, X0)``, HR coordinates of the response centre, ``s*c + (s - 1)/2`` with ``c = n // 2``."""
        x0 = self.scale * (self.size // 2) + (self.scale - 1) / 2
        return (x0, x0)

    @property
    def filter_reading(self) -> bool:
        """Whether the response describes a filter: see :func:`is_filter_reading`."""
        return is_filter_reading(self.linearity_error, self.repeatability_error)

    @property
    def reading_problem(self) -> str | None:
        """None for a filter reading, else why it is not one and what to try: see :func:`reading_problem`."""
        return reading_problem(self.linearity_error, self.repeatability_error)

    @property
    def in_channels(self) -> int:
        """Number of input channels of the kernel bank (1 in ``"paper"`` mode)."""
        return int(self.kernel.shape[1])

    @property
    def out_channels(self) -> int:
        """Number of output channels of the model."""
        return int(self.kernel.shape[0])

    @property
    def phase_gains(self) -> Tensor:
        """``(C_out, s, s)`` float64 per-phase DC gains of every output channel (see :func:`phase_gains`).

        Entry ``[o, a, b]`` is the output of channel ``o`` at sub-pixel ``(a, b)`` of every HR block for a flat
        input of 1 in every input channel (in ``"paper"`` mode: 1 everywhere), according to the linear model
        ``K``. Their mean is ``dc_gain``.
        """
        return phase_gains(self.kernel.sum(dim=1), self.scale)

    def describe(self) -> ImpulseDescriptors:
        """Descriptors of :attr:`luminance`, plus the reading errors measured by the probe.

        ``phase_gain_spread`` is computed on the per-channel :attr:`phase_gains` (a colour grid counts).
        """
        d = describe_luminance(self.luminance, self.scale, center=self.center)
        return ImpulseDescriptors(
            **{f.name: getattr(d, f.name) for f in fields(d) if f.name not in _NOT_FROM_LUMINANCE},
            phase_gain_spread=_relative_spread(self.phase_gains),
            **{name: getattr(self, name) for name in READING_ERRORS},
        )

    def profiles(self, n_fft: int | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Magnitude profiles of :attr:`luminance`; see :func:`magnitude_profiles`."""
        return magnitude_profiles(self.luminance, n_fft=n_fft)


#: The reading errors of a probe (fields of :class:`ImpulseDescriptors` and :class:`ImpulseResponse`), the
#: verdict's two first.
READING_ERRORS: tuple[str, ...] = (
    "linearity_error",
    "repeatability_error",
    "homogeneity_error",
    "superposition_error",
    "shift_variance",
)
_NOT_FROM_LUMINANCE = (*READING_ERRORS, "phase_gain_spread")

#: A reading whose ``linearity_error`` exceeds this does not describe a filter: the response to an impulse of
#: amplitude ``a`` differs from that to ``a/2``, or from the sum of single responses, by more than 5 % (L2), so
#: the descriptors depend on the amplitude and the background rather than on a kernel.
MAX_LINEARITY_ERROR = 0.05
#: A reading whose ``repeatability_error`` exceeds this does not describe a filter: two probes with different
#: random streams differ by more than 1 % (L2), so the network is stochastic at evaluation (noise injection,
#: dropout forced on) and one probe reads its noise.
MAX_REPEATABILITY_ERROR = 0.01


def is_filter_reading(linearity_error: float | None, repeatability_error: float | None) -> bool:
    """Whether a probe with these reading errors describes a filter.

    True when ``linearity_error <= MAX_LINEARITY_ERROR`` and ``repeatability_error <= MAX_REPEATABILITY_ERROR``
    (:data:`MAX_LINEARITY_ERROR`, :data:`MAX_REPEATABILITY_ERROR`); a NaN or infinite error fails. An error that
    was not measured (None: a probe with ``checks=False``) does not count against the reading.

    Example:
        >>> is_filter_reading(1e-7, 0.0), is_filter_reading(0.3, 0.0), is_filter_reading(None, None)
        (True, False, True)
    """
    return _within(linearity_error, MAX_LINEARITY_ERROR) and _within(
        repeatability_error, MAX_REPEATABILITY_ERROR
    )


def _within(error: float | None, limit: float) -> bool:
    return error is None or (math.isfinite(error) and error <= limit)


def reading_problem(linearity_error: float | None, repeatability_error: float | None) -> str | None:
    """Why a probe with these reading errors does not describe a filter, and the remedy; None when it does.

    The one sentence that the monitor's warning, the fit summary and the analysis report show.

    Example:
        >>> reading_problem(0.0, 0.0) is None
        True
        >>> reading_problem(0.0, 0.8).split(":")[0]
        'the impulse descriptors do not describe a filter'
    """
    causes: list[str] = []
    remedies: list[str] = []
    if not _within(repeatability_error, MAX_REPEATABILITY_ERROR):
        causes.append(
            f"two probes with different random streams differ by {repeatability_error:.3g}"
            f" (repeatability_error > {MAX_REPEATABILITY_ERROR:g}: the network is random at evaluation)"
        )
        remedies.append(
            "put stochastic layers in eval() mode or switch off noise injection and forced dropout while probing"
        )
    if causes:  # noise makes the responses differ in every comparison: the linearity cannot be judged
        causes.append("the linearity cannot be judged until the network is deterministic")
    elif not _within(linearity_error, MAX_LINEARITY_ERROR):
        causes.append(
            f"the response is not linear in the impulse (linearity_error {linearity_error:.3g}"
            f" > {MAX_LINEARITY_ERROR:g})"
        )
        remedies.append(
            "probe with a smaller amplitude on another background (e.g. `amplitude=0.02, background=0.5`)"
            " to read the local linear response"
        )
    if not causes:
        return None
    return (
        "the impulse descriptors do not describe a filter: "
        + "; ".join(causes)
        + ". To fix it, "
        + "; ".join(remedies)
        + "."
    )


# --------------------------------------------------------------------------------------------- probe


def _model_device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype | None]:
    """Device and floating dtype of the model's first floating parameter (else buffer).

    A model without floating tensors gives the device of its first tensor (else the CPU) and ``None``.
    """
    for t in itertools.chain(model.parameters(), model.buffers()):
        if t.is_floating_point():
            return t.device, t.dtype
    for t in itertools.chain(model.parameters(), model.buffers()):
        return t.device, None
    return torch.device("cpu"), None


def _model_devices(model: nn.Module) -> list[torch.device]:
    seen: list[torch.device] = []
    for t in itertools.chain(model.parameters(), model.buffers()):
        if t.device.type != "cpu" and t.device not in seen:
            seen.append(t.device)
    return seen


@contextmanager
def evaluation_context(model: nn.Module) -> Iterator[None]:
    """Run the body with ``model`` in eval mode, without gradients, on a forked RNG and in full precision.

    Every submodule's own ``training`` flag is captured before and restored afterwards, also when the body
    raises. The global CPU RNG and the RNGs of the model's accelerator devices are forked, so a model that
    draws random numbers (dropout forced on, noise injection) cannot advance the caller's RNG. Autocast and
    TF32 are off for the body (:func:`~hyra_lightning.analysis.precision.full_precision`); the dtype of a
    measurement is chosen by :func:`~hyra_lightning.analysis.precision.probe_dtype`.
    """
    flags = {m: m.training for m in model.modules()}
    devices = _model_devices(model)
    device_type = devices[0].type if devices else None
    fork_kwargs: dict[str, object] = {"devices": []}
    if device_type is not None:  # torch >= 2.11 rejects `device_type=None`
        fork_kwargs = {
            "devices": [d.index if d.index is not None else 0 for d in devices if d.type == device_type],
            "device_type": device_type,
        }
    try:
        model.eval()
        with (
            torch.no_grad(),
            torch.random.fork_rng(**fork_kwargs),  # type: ignore[arg-type]
            full_precision(*(d.type for d in devices)),
        ):
            yield
    finally:
        for module, flag in flags.items():
            module.training = flag


def _infer_in_channels(model: nn.Module) -> int | None:
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.in_channels > 0:
            return int(m.in_channels)
        if isinstance(m, nn.Linear) and m.in_features > 0:
            return int(m.in_features)
    return None


@dataclass(frozen=True)
class ProbeOptions:
    """The options of an impulse probe, validated once (see :func:`impulse_response` for their meaning).

    Frozen and hashable: two probes whose options are equal measure the same response, so a caller can reuse
    one for the other. :attr:`ImpulseResponse.options` keeps the options a response was measured with, with
    ``scale``, ``in_channels`` and ``dtype`` filled in, so ``impulse_response(model, options=r.options)``
    measures it again.

    Attributes:
        size: odd LR probe size ``n >= 3``; the impulse sits at the centre pixel ``n // 2``.
        amplitude: impulse amplitude ``a > 0`` (finite).
        background: constant background ``b`` (finite).
        baseline: subtract the response to the background image.
        mode: ``"cross_channel"`` or ``"paper"`` (:data:`~hyra_lightning.options.ProbeMode`).
        scale: expected upsampling factor; None to infer it from the output size.
        in_channels: number of channels of the images the model takes; None to read it from the model.
        checks: also measure the reading errors (``linearity_error`` and its ingredients, ``repeatability_error``,
            ``shift_variance``; see :func:`impulse_response`); False measures the kernel alone.
        dtype: precision of the measurement (a floating ``torch.dtype``); None for float32 (float64 for a
            float64 model).

    Raises:
        ValueError: naming the first invalid option, e.g. ``Expected `size` to be an odd integer >= 3 (the
            impulse sits at the centre pixel), got 4.``

    Example:
        >>> options = ProbeOptions(size=9, amplitude=0.02, background=0.5)
        >>> options.mode, options.baseline
        ('cross_channel', True)
        >>> options.replace(size=17).size
        17
        >>> ProbeOptions(size=8)
        Traceback (most recent call last):
        ...
        ValueError: Expected `size` to be an odd integer >= 3 (the impulse sits at the centre pixel), got 8.
    """

    size: int = 33
    amplitude: float = 1.0
    background: float = 0.0
    baseline: bool = True
    mode: ProbeMode = "cross_channel"
    scale: int | None = None
    in_channels: int | None = None
    checks: bool = True
    dtype: torch.dtype | None = None

    def __post_init__(self) -> None:
        size = self.size
        if isinstance(size, bool) or not isinstance(size, int) or size < 3 or size % 2 == 0:
            fail("size", "an odd integer >= 3 (the impulse sits at the centre pixel)", size)
        check_float("amplitude", self.amplitude, minimum=0, strict_minimum=True)
        check_float("background", self.background)
        check_bool("baseline", self.baseline)
        check_choice("mode", self.mode, PROBE_MODES)
        check_int("scale", self.scale, optional=True)
        check_int("in_channels", self.in_channels, optional=True)
        check_bool("checks", self.checks)
        if self.dtype is not None and not (
            isinstance(self.dtype, torch.dtype) and self.dtype.is_floating_point
        ):
            fail("dtype", "None or a floating torch.dtype", self.dtype)

    def replace(self, **changes: Any) -> ProbeOptions:
        """A copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)


#: How torch reports a channel mismatch (convolutions: "expected input[...] to have 18 channels, but got 33").
_CHANNEL_MISMATCH = re.compile(r"\bchannels\b", re.IGNORECASE)


def _suggest_size(size: int) -> int:
    """The smallest ``16*k + 1 >= 2*size - 1`` with ``k >= 2``: odd, and one more than a multiple of 16."""
    return 16 * max(2, -(-(2 * size - 2) // 16)) + 1


def infer_scale(in_size: tuple[int, int], out_size: tuple[int, int], scale: int | None = None) -> int:
    """Integer scale of a model mapping ``in_size`` to ``out_size`` (``(height, width)`` pairs).

    Raises:
        ValueError: when the ratio is not an integer, differs between the axes, or differs from ``scale``.
    """
    (h, w), (oh, ow) = in_size, out_size
    if oh % h != 0 or ow % w != 0 or oh // h != ow // w or oh < h:
        raise ValueError(
            f"Expected the model to upsample by one integer factor on both axes, but it maps an LR image of"
            f" {h} x {w} to {oh} x {ow} (ratios {oh / h:g} and {ow / w:g})."
        )
    inferred = oh // h
    if scale is not None and scale != inferred:
        raise ValueError(
            f"`scale` is {scale}, but the model maps {h} x {w} to {oh} x {ow}, an upsampling by {inferred}."
        )
    return inferred


def _relative_l2(a: Tensor, b: Tensor) -> float:
    den = torch.linalg.vector_norm(b.double())
    num = torch.linalg.vector_norm((a - b).double())
    if den == 0:
        return 0.0 if num == 0 else math.inf
    return float(num / den)


def impulse_response(
    model: nn.Module,
    options: ProbeOptions | None = None,
    **settings: Any,
) -> ImpulseResponse:
    """Measure the impulse response of an SR model, and how far the reading is from that of a filter.

    .. math::
        K = \\frac{N(b + a\\,\\delta_c) - N(b)}{a}

    In ``"cross_channel"`` mode (default) the batch holds one impulse image per input channel and the
    background image, and ``K[o, i]`` is the response of output channel ``o`` to an impulse in input channel
    ``i``. In ``"paper"`` mode (Deng et al.) the impulse is in every channel of one image and ``K[o, 0]`` is
    output channel ``o``'s response. With ``baseline=False`` nothing is subtracted: ``K = N(b + a*delta)/a``,
    which for ``b=0, a=1`` is the paper's ``N(delta)``.

    **Reading errors** (``checks=True``, the default). A network that is not linear at the probe (a ReLU
    network answering a large impulse), or that is random at evaluation (noise injection), gives a ``K``
    whose descriptors are not those of a filter. The probe therefore also measures, on the responses to an
    impulse in every input channel at once (``R_a``, baseline always subtracted, divided by the amplitude):

    * ``homogeneity_error = ||R_{a/2} - R_a|| / ||R_a||`` (amplitudes ``a`` and ``a/2``);
    * ``superposition_error``: ``||R_{p+q} - (R_p + R_q)|| / ||R_p + R_q||`` for impulses at LR pixels
      ``p = (c, c)`` and ``q = (c + 1, c + 1)``, one pixel apart on the diagonal so that their responses
      overlap (responses that do not overlap would add up even for a non-linear network) and stay inside the
      probe as much as the centred one; with several input channels in ``"cross_channel"`` mode, the larger
      of that and ``||R_a - sum_i K[:, i]|| / ||sum_i K[:, i]||`` (superposition across channels);
    * ``linearity_error = max(homogeneity_error, superposition_error)``;
    * ``repeatability_error = ||R_a' - R_a|| / ||R_a||``, ``R_a'`` measured again (the impulse image and the
      background) in a second forward pass on a different random stream; 0 for a deterministic network, to
      float precision where the arithmetic depends on the batch size;
    * ``shift_variance = ||R_q shifted back by s - R_p||/||R_p||`` on the overlap of the two.

    :func:`is_filter_reading` turns them into a verdict. All images of the first measurement (``C_in`` impulse
    images, the background, and four more with ``checks``) go through the model in one forward pass; the
    second random stream costs a second forward pass of two images. Both passes run on fixed seeds
    (0 and 1) inside a forked RNG, so the probe is repeatable and never advances the caller's RNG.

    The model runs in eval mode under ``torch.no_grad()``, on its device; every submodule's train/eval flag is
    restored afterwards, also when the forward raises. It runs in full precision whatever the caller's
    context: autocast off, TF32 off (restored afterwards), in float32, or float64 for a float64 model; weights
    held in float16/bfloat16 are seen through float32 copies, the model's own parameters are not touched (see
    :mod:`hyra_lightning.analysis.precision`). :attr:`ImpulseResponse.precision` records the dtype used. The
    division uses the amplitude actually representable in that dtype (``float32(b + a) - float32(b)``), not
    the requested one.

    Args:
        model: an SR network mapping ``(B, C_in, n, n)`` to ``(B, C_out, s*n, s*n)``.
        options: the probe settings as one validated :class:`ProbeOptions` (default ``ProbeOptions()``): the one
            way in. Their meaning:

            * ``size``: odd LR probe size ``n >= 3``; the impulse sits at ``c = n // 2``. It should exceed the
              receptive field of the network (in LR pixels) so that the response is not cut by the borders.
            * ``amplitude``: impulse amplitude ``a > 0``. A small one (0.02) on mid-grey reads the local linear
              response of a ReLU network; the paper uses 1 on black.
            * ``background``: constant background ``b``. ``baseline``: subtract the response to it.
            * ``mode``: ``"cross_channel"`` or ``"paper"``.
            * ``scale``: expected upsampling factor; inferred from the output size when None.
            * ``in_channels``: number of channels of the images the model takes. When None it is read from the
              first ``Conv2d``/``ConvTranspose2d``/``Linear`` layer in ``model.modules()`` order, which is wrong
              for a network whose first layer sees more than the image (SRMD: 3 image channels plus 15
              degradation maps) or that registers another layer first; pass it for such networks. When the
              forward fails with a channel mismatch, the error says so first.
            * ``checks``: measure the reading errors above (default True).
            * ``dtype``: ``torch.float64`` measures in double precision (the model's floating weights seen as
              float64 copies; useful for a model without parameters, e.g.
              :class:`~hyra_lightning.models.BicubicUpsampler`); anything else, and the default for a model
              that is not float64, measures in float32 (a probe is never measured in half precision).
        **settings: a convenience: fields of :class:`ProbeOptions` given one by one (``size=9``) instead of
            ``options``; they build ``ProbeOptions(**settings)``.

    Returns:
        An :class:`ImpulseResponse`; ``kernel`` has shape ``(C_out, C_in, s*n, s*n)`` (``(C_out, 1, s*n, s*n)``
        in ``"paper"`` mode).

    Raises:
        ValueError: for invalid settings, both ``options`` and single settings, an output that is not
            ``(B, C, H, W)``, or a scale that is not one integer on both axes.
        TypeError: for ``options`` that are not a :class:`ProbeOptions`, or an unknown setting name.
        RuntimeError: when the model cannot run on an ``n x n`` probe (the original error is chained).

    Example:
        >>> from hyra_lightning.models import BicubicUpsampler
        >>> r = impulse_response(BicubicUpsampler(2), ProbeOptions(size=9, in_channels=3))
        >>> r.kernel.shape, r.scale, r.center
        (torch.Size([3, 3, 18, 18]), 2, (8.5, 8.5))
        >>> d = r.describe()
        >>> round(d.dc_gain, 6), d.linearity_error < 1e-5, d.repeatability_error < 1e-5, d.filter_reading
        (1.0, True, True, True)
        >>> r.options.size, r.options.in_channels, r.options.scale
        (9, 3, 2)
        >>> impulse_response(BicubicUpsampler(2), options=r.options).kernel.equal(r.kernel)
        True
        >>> impulse_response(BicubicUpsampler(2), size=9, in_channels=3).options == r.options  # a convenience
        True
    """
    options = _probe_options(options, settings)
    check_instance("model", model, nn.Module, "a torch.nn.Module")
    channels = options.in_channels if options.in_channels is not None else _infer_in_channels(model)
    if channels is None:
        raise ValueError(
            "`in_channels` could not be read from the model (it has no Conv2d, ConvTranspose2d or Linear"
            " layer). Expected `in_channels` to be given, got None."
        )
    device, model_dtype = _model_device_dtype(model)
    dtype = probe_dtype(model_dtype, options.dtype)
    n, c = options.size, options.size // 2
    b, a = float(options.background), float(options.amplitude)
    everywhere = slice(None)
    n_imp = channels if options.mode == "cross_channel" else 1
    # One impulse image per input channel (or one in every channel), then the background image.
    images: list[list[tuple[int | slice, int, int, float]]] = [
        [(k if options.mode == "cross_channel" else everywhere, c, c, a)] for k in range(n_imp)
    ]
    images.append([])
    # Reading checks, impulses in every channel: at p = (c, c) (unless image 0 is that already), at p with a/2,
    # at q = (c + 1, c + 1), and at p and q together.
    p_all = 0 if n_imp == 1 else len(images)
    if options.checks:
        if n_imp > 1:
            images.append([(everywhere, c, c, a)])
        half, at_q, pair = len(images), len(images) + 1, len(images) + 2
        images += [[(everywhere, c, c, a / 2)], [(everywhere, c + 1, c + 1, a)]]
        images.append([(everywhere, c, c, a), (everywhere, c + 1, c + 1, a)])
    x, gains = _probe_images(images, n, channels, b, device, dtype)

    with evaluation_context(model):
        with _seeded(_PROBE_SEEDS[0], device):
            out = _probe_forward(model, x, dtype, options.in_channels)
        if options.checks:  # the response to an impulse in every channel again, on another random stream
            with _seeded(_PROBE_SEEDS[1], device):
                again = _probe_forward(model, x[[p_all, n_imp]], dtype, options.in_channels)
    s = infer_scale((n, n), (out.shape[-2], out.shape[-1]), options.scale)
    background = out[n_imp : n_imp + 1]

    def response(index: int, subtract: bool = True) -> Tensor:  # (C_out, s*n, s*n) per unit amplitude
        return (out[index] - background[0] if subtract else out[index]) / gains[index]

    kernel = torch.stack([response(k, options.baseline) for k in range(n_imp)], dim=1)
    errors: dict[str, float] = {}
    if options.checks:
        r_p = response(p_all)
        homogeneity = _relative_l2(response(half), r_p)
        r_q = response(at_q)
        superposition = _relative_l2(response(pair), r_p + r_q)
        if n_imp > 1:
            across = torch.stack([response(k) for k in range(n_imp)]).sum(dim=0)
            superposition = max(superposition, _relative_l2(r_p, across))
        repeat = (again[0] - again[1]) / gains[p_all]
        cut = s * n - s
        errors = {
            "linearity_error": max(homogeneity, superposition),
            "repeatability_error": _relative_l2(repeat, r_p),
            "homogeneity_error": homogeneity,
            "superposition_error": superposition,
            "shift_variance": _relative_l2(r_q[..., s:, s:], r_p[..., :cut, :cut]),
        }
    return ImpulseResponse(
        kernel=kernel,
        luminance=kernel.sum(dim=1).mean(dim=0),
        options=options.replace(scale=s, in_channels=channels, dtype=dtype),
        model_dtype=model_dtype,
        **errors,
    )


#: The seeds of the probe's two random streams (forward passes), inside a forked RNG.
_PROBE_SEEDS = (0, 1)
_SETTINGS = tuple(f.name for f in fields(ProbeOptions))


def _probe_options(options: ProbeOptions | None, settings: dict[str, Any]) -> ProbeOptions:
    """``options``, or ``ProbeOptions(**settings)`` when it is None (never both), validated."""
    if options is not None:
        check_instance("options", options, ProbeOptions, "a ProbeOptions")
    unknown = sorted(set(settings) - set(_SETTINGS))
    if unknown:
        raise TypeError(
            f"impulse_response() got unexpected keyword arguments {unknown}; the probe settings are the fields"
            f" of ProbeOptions: {list(_SETTINGS)}."
        )
    if options is None:
        return ProbeOptions(**settings)
    if settings:
        raise ValueError(
            f"Expected either `options` or the probe keyword arguments, got both: `options` and"
            f" {sorted(settings)}. Pass `options=options.replace(...)` to change some of them."
        )
    return options


def _probe_images(
    images: list[list[tuple[int | slice, int, int, float]]],
    n: int,
    channels: int,
    background: float,
    device: torch.device,
    dtype: torch.dtype,
) -> tuple[Tensor, list[float]]:
    """The probe batch: one ``n x n`` image of ``background`` per entry of ``images``, plus its impulses
    ``(channel, y, x, amplitude)``; and the amplitude of each image's impulses as representable in ``dtype``
    (``dtype(b + a) - dtype(b)``; 1.0 for an image without impulses)."""
    x = torch.full((len(images), channels, n, n), float(background), device=device, dtype=dtype)
    represented = float(x[0, 0, 0, 0])
    gains: list[float] = []
    for i, impulses in enumerate(images):
        gain = 1.0
        for channel, py, px, amp in impulses:
            value = torch.tensor(background + amp, dtype=dtype)
            x[i, channel, py, px] = value
            gain = float(value) - represented
        gains.append(gain)
    return x, gains


@contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed the CPU generator and that of ``device`` (inside a forked RNG: the caller's state comes back)."""
    torch.default_generator.manual_seed(seed)
    if device.type == "cuda":
        torch.cuda.default_generators[device.index if device.index is not None else 0].manual_seed(seed)
    elif device.type != "cpu":
        backend = getattr(torch, device.type, None)
        if backend is not None and hasattr(backend, "manual_seed"):
            backend.manual_seed(seed)
    yield


def _probe_forward(model: nn.Module, x: Tensor, dtype: torch.dtype, in_channels: int | None) -> Tensor:
    """``model(x)`` in ``dtype`` as a float32/float64 tensor, with the probe's errors."""
    n, channels = x.shape[-1], x.shape[1]
    try:
        out = forward_in(model, x, dtype)
    except Exception as err:
        if _CHANNEL_MISMATCH.search(str(err)):
            source = (
                "the `in_channels` you passed"
                if in_channels is not None
                else "read from the model's first Conv2d/ConvTranspose2d/Linear layer"
            )
            raise RuntimeError(
                f"The model could not run on a probe with {channels} input channels ({source}), and the"
                " error is about channels: the number of input channels is probably wrong. The first layer"
                " of a network that adds its own maps to the image (SRMD concatenates 15 degradation maps"
                " to the 3 image channels) sees more channels than the image has. Pass `in_channels`, the"
                f" number of channels of the images the model takes (3 for RGB). Original error: {err}"
            ) from err
        raise RuntimeError(
            f"The model could not run on a {n} x {n} probe (batch of {x.shape[0]} images with {channels}"
            f" channels, dtype {dtype}). Networks that downsample internally need a larger probe: try"
            f" `size={_suggest_size(n)}`; a network that needs its input size to be a multiple of some"
            " number must pad internally, because the probe size is odd so that the impulse has a centre"
            f" pixel. If the number of input channels is wrong, pass `in_channels`. Original error: {err}"
        ) from err
    if not isinstance(out, Tensor) or out.ndim != 4 or out.shape[0] != x.shape[0]:
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"Expected the model to return a ({x.shape[0]}, C, H, W) tensor, got {got}.")
    return to_fft_float(out.detach())


# --------------------------------------------------------------------------------------- descriptors


def _as_luminance(g: Tensor | ImpulseResponse) -> Tensor:
    if isinstance(g, ImpulseResponse):
        g = g.luminance
    if not isinstance(g, Tensor) or g.ndim != 2 or g.shape[0] != g.shape[1]:
        got = tuple(g.shape) if isinstance(g, Tensor) else type(g).__name__
        raise ValueError(f"Expected `g` to be a square (H, W) tensor, got {got}.")
    if g.is_complex():
        raise ValueError(f"Expected `g` to be real, got dtype {g.dtype}.")
    return g.detach().to("cpu", torch.float64)


def _default_n_fft(length: int) -> int:
    n = max(2048, 8 * length)
    return n + (n % 2)


def magnitude_profiles(
    g: Tensor | ImpulseResponse, *, n_fft: int | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Magnitude response of a luminance response along the horizontal and vertical frequency axes.

    ``M_h(f) = |G(0, f)| / |G(0, 0)|`` and ``M_v(f) = |G(f, 0)| / |G(0, 0)|`` with ``G`` the DFT of ``g``. The
    axis of a 2-D DFT is the 1-D DFT of the sums of ``g`` over the other axis; it is evaluated on ``n_fft``
    points by zero-padding, which samples the same (discrete-time) Fourier transform more finely.

    Args:
        g: ``(H, H)`` luminance response, or an :class:`ImpulseResponse`.
        n_fft: even FFT length (default ``max(2048, 8*H)``, which resolves the cutoff to 1/1024 of the
            Nyquist frequency or better). Must be ``>= H``.

    Returns:
        ``(frequencies, M_h, M_v)``: float64 CPU tensors of length ``n_fft // 2 + 1``; frequencies run from
        0 to 1 in Nyquist units of the HR grid. NaN where ``sum(g) == 0``.

    Example:
        >>> g = torch.zeros(8, 8); g[3:5, 3:5] = 1.0  # a 2 x 2 box filter
        >>> f, mh, mv = magnitude_profiles(g, n_fft=8)
        >>> f.tolist(), [round(v, 4) for v in mh.tolist()]
        ([0.0, 0.25, 0.5, 0.75, 1.0], [1.0, 0.9239, 0.7071, 0.3827, 0.0])
    """
    g64 = _as_luminance(g)
    length = g64.shape[-1]
    n = _default_n_fft(length) if n_fft is None else n_fft
    if isinstance(n, bool) or not isinstance(n, int) or n < length or n % 2:
        fail("n_fft", f"an even integer >= {length}", n_fft)
    dc = g64.sum().abs()
    spec_h = torch.fft.rfft(g64.sum(dim=0), n=n).abs() / dc
    spec_v = torch.fft.rfft(g64.sum(dim=1), n=n).abs() / dc
    freqs = torch.fft.rfftfreq(n, dtype=torch.float64) * 2
    return freqs, spec_h, spec_v


def _first_crossing(freqs: Tensor, mag: Tensor, level: float = 0.5) -> float:
    """First frequency where ``mag`` falls below ``level`` (linear interpolation); 1.0 if it never does."""
    if torch.isnan(mag).any():
        return math.nan
    below = torch.nonzero(mag < level)
    if below.numel() == 0:
        return float(freqs[-1])
    k = int(below[0])
    if k == 0:
        return 0.0
    m0, m1 = float(mag[k - 1]), float(mag[k])
    f0, f1 = float(freqs[k - 1]), float(freqs[k])
    return f0 + (m0 - level) / (m0 - m1) * (f1 - f0)


def phase_gains(k: Tensor, scale: int) -> Tensor:
    """Per-phase DC gains of an impulse response: the sums of ``k`` over each of the ``s x s`` sub-pixel phases.

    The probe's impulse covers HR block ``[s*c, s*c + s)``, so HR pixel ``(Y, X)`` has phase
    ``(Y mod s, X mod s)``. A network that is shift-invariant by ``s`` (convolutions and pixel shuffle) and
    linear with response ``k`` maps a flat image of 1 to an output that repeats the ``s x s`` block
    ``phase_gains(k, s)``: its HR pixel of phase ``(a, b)`` sums the responses of all LR pixels at that phase.
    Equal gains keep flat regions flat; unequal gains draw an ``s x s`` grid. Their mean is ``sum(k) / s^2``.

    Args:
        k: ``(..., H, W)`` response(s), ``H`` and ``W`` multiples of ``scale``.
        scale: integer upsampling factor ``s``.

    Returns:
        ``(..., s, s)`` float64 CPU tensor.

    Example:
        >>> k = torch.zeros(4, 4); k[1:3, 1:3] = torch.tensor([[1.0, 0.5], [0.5, 1.0]])
        >>> phase_gains(k, 2)
        tensor([[1.0000, 0.5000],
                [0.5000, 1.0000]], dtype=torch.float64)
    """
    check_int("scale", scale)
    if not isinstance(k, Tensor) or k.ndim < 2 or k.shape[-1] % scale or k.shape[-2] % scale:
        got = tuple(k.shape) if isinstance(k, Tensor) else type(k).__name__
        raise ValueError(
            f"Expected `k` to be a (..., H, W) tensor with H and W multiples of {scale}, got {got}."
        )
    k64 = k.detach().to("cpu", torch.float64)
    h, w = k64.shape[-2:]
    blocks = k64.reshape(*k64.shape[:-2], h // scale, scale, w // scale, scale)
    return blocks.sum(dim=(-4, -2))


def _relative_spread(gains: Tensor) -> float:
    """``(max - min) / |mean|`` of all values; NaN when the mean is 0."""
    mean = float(gains.mean())
    if mean == 0 or not math.isfinite(mean):
        return math.nan
    return float(gains.max() - gains.min()) / abs(mean)


def describe_luminance(
    g: Tensor,
    scale: int,
    *,
    center: tuple[float, float] | None = None,
    n_fft: int | None = None,
) -> ImpulseDescriptors:
    """Descriptors of a luminance impulse response ``g`` (SPEC section 1), as a pure function.

    * ``dc_gain = sum(g) / s^2``.
    * ``cutoff_h``, ``cutoff_v``: first frequency where the magnitude profile (:func:`magnitude_profiles`)
      falls below 0.5, linearly interpolated between the bins of a zero-padded DFT; 1.0 when it never does.
      ``cutoff`` is their mean, ``anisotropy = |cutoff_h - cutoff_v| / cutoff``.
    * ``sinc_similarity``: cosine similarity with ``s^2 sinc((X - X0)/s) sinc((Y - Y0)/s)`` on the same grid.
    * ``negative_lobe = max(-min(g), 0) / max(g)``.
    * ``stopband_leakage``: energy of the ``H x H`` DFT of ``g`` outside ``|fx|, |fy| <= 1/s`` over its total
      energy. On this grid the LR passband holds exactly ``(H/s)^2`` bins, one per LR pixel of the probe.
    * ``phase_gain_spread = (max - min) / |mean|`` of :func:`phase_gains` of ``g`` (NaN when ``sum(g) == 0``).

    All computations run in float64 on the CPU. Descriptors that are undefined return NaN (a cutoff when
    ``sum(g) == 0``, similarity and leakage when ``g == 0``, negative lobe when ``max(g) <= 0``).

    Args:
        g: ``(s*n, s*n)`` luminance response.
        scale: integer upsampling factor ``s``; ``s*n`` must be a multiple of it.
        center: ``(Y0, X0)`` of the ideal sinc; default ``s*(n//2) + (s - 1)/2`` on both axes.
        n_fft: FFT length of the cutoff measurement (see :func:`magnitude_profiles`).

    Returns:
        :class:`ImpulseDescriptors` with the optional descriptors set to None.

    Example:
        >>> from hyra_lightning.models import SincUpsampler
        >>> r = impulse_response(SincUpsampler(2), in_channels=1)
        >>> d = describe_luminance(r.luminance, 2)
        >>> round(d.dc_gain, 4), round(d.cutoff, 2), d.sinc_similarity > 0.99
        (1.0, 0.5, True)
    """
    g64 = _as_luminance(g)
    check_int("scale", scale)
    length = g64.shape[-1]
    if length % scale:
        raise ValueError(f"Expected the size of `g` to be a multiple of `scale` ({scale}), got {length}.")
    s = scale
    if center is None:
        x0 = s * ((length // s) // 2) + (s - 1) / 2
        center = (x0, x0)

    dc_gain = float(g64.sum()) / s**2

    freqs, m_h, m_v = magnitude_profiles(g64, n_fft=n_fft)
    cutoff_h = _first_crossing(freqs, m_h)
    cutoff_v = _first_crossing(freqs, m_v)
    cutoff = (cutoff_h + cutoff_v) / 2
    anisotropy = abs(cutoff_h - cutoff_v) / cutoff if cutoff > 0 else math.nan

    coords = torch.arange(length, dtype=torch.float64)
    ideal = torch.sinc((coords - center[0]) / s)[:, None] * torch.sinc((coords - center[1]) / s)[None, :]
    ideal = ideal * s**2
    norm = torch.linalg.vector_norm(g64) * torch.linalg.vector_norm(ideal)
    sinc_similarity = float((g64 * ideal).sum() / norm) if norm > 0 else math.nan

    peak, trough = float(g64.max()), float(g64.min())
    # 0.0, never -0.0, for a response without negative values (nearest, bilinear)
    negative_lobe = (-trough / peak if trough < 0 else 0.0) if peak > 0 else math.nan

    power = torch.fft.fft2(g64).abs() ** 2
    total = float(power.sum())
    inside = passband_mask(length, length, 1.0 / s)
    stopband_leakage = float(power[~inside].sum()) / total if total > 0 else math.nan

    return ImpulseDescriptors(
        dc_gain=dc_gain,
        cutoff=cutoff,
        cutoff_h=cutoff_h,
        cutoff_v=cutoff_v,
        anisotropy=anisotropy,
        sinc_similarity=sinc_similarity,
        negative_lobe=negative_lobe,
        stopband_leakage=stopband_leakage,
        phase_gain_spread=_relative_spread(phase_gains(g64, s)),
    )
