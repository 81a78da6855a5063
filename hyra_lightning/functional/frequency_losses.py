r"""Frequency-domain training losses as plain functions: FSDS, L1 on ``rfft2`` coefficients, focal frequency loss.

All three are differentiable with respect to both inputs and take ``(N, C, H, W)`` or ``(C, H, W)`` tensors.
float16, bfloat16, integer and boolean inputs are computed in float32 (CPU FFTs reject half precision);
float64 is kept. The :mod:`hyra_lightning.losses` modules wrap them.

- :func:`fsds_loss` is the FSDS of :func:`~hyra_lightning.functional.frequency_spectrum_distribution_similarity`
  turned into a loss: it runs the same computation (the same private steps as the metric, nothing of the
  spectrum maths is written twice) and returns the energy ratio ``10 ** (-FSDS / 10)`` or its dB, ``-FSDS``.
- :func:`fft_l1_loss` is the mean absolute difference of the real and imaginary parts of the orthonormal
  one-sided spectra (the ``FFTLoss`` of SR trainers such as traiNNer-redux).
- :func:`focal_frequency_loss` is the focal frequency loss of Jiang et al., "Focal Frequency Loss for Image
  Reconstruction and Synthesis", ICCV 2021, written from the paper's definition.
"""

from __future__ import annotations

import torch
from torch import Tensor

from hyra_lightning.checks import check_bool, check_choice, check_float, check_int
from hyra_lightning.functional.frequency_similarity import (
    _fsds_check_inputs,
    _fsds_ratio,
    _fsds_update,
)
from hyra_lightning.options import (
    FSDS_LOSS_FORMS,
    FSDS_REFERENCES,
    LOSS_REDUCTIONS,
    FSDSLossForm,
    FSDSReference,
    LossReduction,
)

__all__ = ["fft_l1_loss", "focal_frequency_loss", "fsds_loss"]

#: The dB form of :func:`fsds_loss` is floored at this value (an FSDS of 120 dB, far above any SR network's),
#: so that a prediction equal to its target gives a finite loss and zero gradients instead of ``-inf``.
FSDS_LOSS_DB_FLOOR: float = -120.0


def _reduce_loss(values: Tensor, defined: Tensor, reduction: str) -> Tensor:
    """Reduce per-image loss values over dim 0; undefined entries are 0 and are left out of the mean."""
    values = torch.where(defined, values, 0.0)
    if reduction == "none":
        return values
    total = values.sum(0)
    if reduction == "sum":
        return total
    return total / defined.sum(0).clamp(min=1)


def fsds_loss(
    preds: Tensor,
    target: Tensor,
    form: FSDSLossForm = "ratio",
    reduction: LossReduction = "mean",
    reference: FSDSReference = "target",
) -> Tensor:
    r"""FSDS as a loss: the energy ratio of the integrated spectra (or its dB); lower is better.

    With :math:`D` the integrated normalised spectrum of SPEC section 3 (see
    :func:`~hyra_lightning.functional.frequency_spectrum_distribution_similarity`), an image pair's loss is

    .. math::
        \mathrm{ratio}(p, t) = \frac{\sum |D(p) - D(t)|^2}{\sum |D(r)|^2} = 10^{-\mathrm{FSDS}(p, t) / 10}

    (``form="ratio"``, the default), or :math:`10 \log_{10} \mathrm{ratio} = -\mathrm{FSDS}` (``form="db"``).
    Both come from the same energies as the metric, so they equal ``10 ** (-FSDS / 10)`` and ``-FSDS`` of the
    metric on the same pair up to rounding.

    Why the ratio by default: it is a normalised squared error of the integrated spectra, bounded below by 0,
    zero with zero gradients for a perfect prediction, and its gradient shrinks as the prediction improves, as
    an L2 loss's does. The dB form has the gradient of the ratio divided by ``ratio * ln(10) / 10``: it grows
    without bound as the prediction approaches the target (by a factor of about 430 at FSDS 20 dB, 43 000 at
    40 dB), which makes the weight of the term drift during training. The dB form is floored at
    :data:`FSDS_LOSS_DB_FLOOR` (an FSDS of 120 dB) so that identical images give a finite value.

    FSDS normalises each image to zero mean and unit variance, so it is blind to brightness and contrast: a
    network trained on it alone can drift to any offset and gain. Use it beside a pixel loss (L1), as a small
    weighted term.

    Args:
        preds: super-resolved images, ``(N, C, H, W)`` or ``(C, H, W)``, H and W at least 2.
        target: ground-truth images of the same shape.
        form: ``"ratio"`` (default) or ``"db"``, see above.
        reduction: ``"mean"`` (default) over the pairs, ``"sum"``, or ``"none"`` for the ``(N,)`` per-pair
            values.
        reference: the image whose integrated spectrum is the denominator, ``"target"`` (default) or
            ``"preds"``, as in the metric.

    Returns:
        A scalar tensor (``(N,)`` with ``reduction="none"``), float64 for float64 inputs and float32 otherwise.
        A pair with a constant image (which cannot be normalised) or a non-finite value contributes 0 with
        zero gradients and is left out of the mean (silently: a flat training patch is not an error); when
        no pair is left the mean is 0.

    Raises:
        TypeError: if an input is not a real tensor.
        ValueError: for inputs of different or unsupported shapes or devices, or an unknown ``form``,
            ``reduction`` or ``reference``.

    Example:
        >>> import torch
        >>> from hyra_lightning.functional import fsds, fsds_loss
        >>> target = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> preds = target + 0.1 * torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
        >>> ratio = fsds_loss(preds, target, reduction="none")
        >>> torch.allclose(ratio, 10 ** (-fsds(preds, target, reduction="none") / 10))
        True
        >>> torch.allclose(fsds_loss(preds, target, form="db"), -fsds(preds, target))
        True
    """
    check_choice("form", form, FSDS_LOSS_FORMS)
    check_choice("reduction", reduction, LOSS_REDUCTIONS)
    check_choice("reference", reference, FSDS_REFERENCES)
    preds, target = _fsds_check_inputs(preds, target)
    num, den, valid, _, _ = _fsds_update(preds, target, reference)
    ratio, defined = _fsds_ratio(num, den, valid)
    if form == "db":
        # floored before the logarithm, whose backward at 0 would be inf * 0 = NaN
        ratio = 10 * torch.log10(ratio.clamp(min=10 ** (FSDS_LOSS_DB_FLOOR / 10)))
    return _reduce_loss(ratio, defined, reduction)


def _check_pair(preds: object, target: object) -> tuple[Tensor, Tensor]:
    """The FSDS input checks (real tensors of one shape and device): ``(N, C, H, W)`` in the FFT dtype."""
    return _fsds_check_inputs(preds, target)


def fft_l1_loss(preds: Tensor, target: Tensor, reduction: LossReduction = "mean") -> Tensor:
    r"""L1 distance of the one-sided orthonormal spectra: the mean of :math:`|\Re(F_p - F_t)|` and
    :math:`|\Im(F_p - F_t)|` over all coefficients, with :math:`F = \mathrm{rfft2}(x, \mathrm{norm}=\mathrm{"ortho"})`.

    The real and imaginary parts are stacked and averaged together (the ``FFTLoss`` of SR trainers such as
    traiNNer-redux). With the orthonormal transform the coefficients have the scale of the pixels, so the
    value is of the order of a pixel L1 loss times ``sqrt(H * W)`` at most.

    Args:
        preds: ``(N, C, H, W)`` or ``(C, H, W)`` images.
        target: images of the same shape.
        reduction: ``"mean"`` (default) over everything, ``"sum"`` of the per-image means, or ``"none"`` for
            the ``(N,)`` per-image means.

    Returns:
        A scalar tensor (``(N,)`` with ``reduction="none"``), float64 for float64 inputs and float32 otherwise.

    Example:
        >>> import torch
        >>> from hyra_lightning.functional import fft_l1_loss
        >>> x = torch.zeros(1, 1, 4, 4)
        >>> y = x.clone()
        >>> y[..., 0, 0] = 4.0  # an impulse: every ortho coefficient is 4 / sqrt(16) = 1, real
        >>> fft_l1_loss(x, y)  # mean of 12 ones (real parts) and 12 zeros (imaginary parts)
        tensor(0.5000)
    """
    check_choice("reduction", reduction, LOSS_REDUCTIONS)
    preds, target = _check_pair(preds, target)
    # the transform is linear: one transform of the difference
    spec = torch.fft.rfft2(preds - target, norm="ortho")
    per_image = torch.view_as_real(spec).abs().flatten(1).mean(1)
    if reduction == "none":
        return per_image
    return per_image.sum() if reduction == "sum" else per_image.mean()


def _patches(x: Tensor, patch_factor: int) -> Tensor:
    """``(N, C, H, W)`` -> ``(N, P * P, C, H / P, W / P)``: the ``P x P`` grid of patches, row by row."""
    n, c, h, w = x.shape
    ph, pw = h // patch_factor, w // patch_factor
    x = x.reshape(n, c, patch_factor, ph, patch_factor, pw)
    return x.permute(0, 2, 4, 1, 3, 5).reshape(n, patch_factor * patch_factor, c, ph, pw)


def focal_frequency_loss(
    preds: Tensor,
    target: Tensor,
    alpha: float = 1.0,
    patch_factor: int = 1,
    ave_spectrum: bool = False,
    log_matrix: bool = False,
    batch_matrix: bool = False,
) -> Tensor:
    r"""Focal frequency loss (Jiang et al., ICCV 2021): a squared spectral distance weighted towards the
    frequencies that are hardest to synthesise.

    Each image is cut into ``patch_factor x patch_factor`` patches, and every patch and channel gets its full
    orthonormal 2-D spectrum :math:`F = \mathrm{fft2}(x, \mathrm{norm}=\mathrm{"ortho"})`. With
    :math:`d(u, v) = |F_p(u, v) - F_t(u, v)|`,

    .. math::
        \mathrm{FFL} = \operatorname{mean}_{n, patch, c, u, v}\; w(u, v)\, d(u, v)^2,
        \qquad w = \frac{d^\alpha}{\max d^\alpha} \in [0, 1],

    where the weight :math:`w` is a constant for autograd (detached), so that it only selects the
    frequencies and the gradient is that of the weighted squared distance. Options, as in the paper:

    Args:
        preds: ``(N, C, H, W)`` or ``(C, H, W)`` images; H and W must be multiples of ``patch_factor``.
        target: images of the same shape.
        alpha: exponent of the weight, a non-negative number (0: every frequency has weight 1, an L2 loss on
            the spectrum).
        patch_factor: the images are cut into ``patch_factor x patch_factor`` patches, each with its own spectrum.
        ave_spectrum: compare the spectra averaged over the batch (minibatch average spectrum) instead of each
            image's.
        log_matrix: weight with ``log(1 + d^alpha)`` before normalising.
        batch_matrix: normalise the weight by its maximum over the whole batch instead of per image, patch and
            channel.

    Returns:
        A scalar tensor, float64 for float64 inputs and float32 otherwise. Where the spectra agree exactly
        (0 / 0 in the normalisation) the weight is 0.

    Example:
        >>> import torch
        >>> from hyra_lightning.functional import focal_frequency_loss
        >>> x = torch.zeros(1, 1, 4, 4)
        >>> y = x.clone()
        >>> y[..., 0, 0] = 4.0  # |F_p - F_t| = 1 at every frequency: weight 1 everywhere
        >>> focal_frequency_loss(x, y)
        tensor(1.)
    """
    check_float("alpha", alpha, minimum=0)
    check_int("patch_factor", patch_factor)
    check_bool("ave_spectrum", ave_spectrum)
    check_bool("log_matrix", log_matrix)
    check_bool("batch_matrix", batch_matrix)
    preds, target = _check_pair(preds, target)
    height, width = preds.shape[-2:]
    if height % patch_factor or width % patch_factor:
        raise ValueError(
            f"Expected `patch_factor` to divide the image height and width, got patch_factor={patch_factor} "
            f"for {height} x {width} images. Choose a divisor of both, or crop the images."
        )
    spec = torch.fft.fft2(_patches(preds, patch_factor), norm="ortho")
    spec_t = torch.fft.fft2(_patches(target, patch_factor), norm="ortho")
    if ave_spectrum:
        spec, spec_t = spec.mean(0, keepdim=True), spec_t.mean(0, keepdim=True)
    diff = torch.view_as_real(spec - spec_t)
    distance = diff.square().sum(-1)  # |F_p - F_t|^2, (N, P, C, h, w)
    with torch.no_grad():
        weight = distance.sqrt() ** alpha
        if log_matrix:
            weight = torch.log1p(weight)
        peak = weight.amax() if batch_matrix else weight.amax(dim=(-2, -1), keepdim=True)
        weight = torch.nan_to_num(weight / peak, nan=0.0).clamp(0.0, 1.0)
    return (weight * distance).mean()
