"""The frequency losses as functions: FSDS parity with the metric, FFT-L1 and focal frequency ground truths,
gradients (gradcheck, constant images, half precision) and argument errors."""

from __future__ import annotations

import math

import pytest
import torch

from hyra_lightning.functional import (
    fft_l1_loss,
    focal_frequency_loss,
    frequency_spectrum_distribution_similarity,
    fsds_loss,
)
from hyra_lightning.functional.frequency_losses import FSDS_LOSS_DB_FLOOR


def _pair(shape, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(shape, generator=g, dtype=dtype)
    preds = target + 0.2 * torch.rand(shape, generator=g, dtype=dtype)
    return preds, target


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reference", ["target", "preds"])
@pytest.mark.parametrize("shape", [(3, 3, 17, 24), (2, 1, 16, 15)])
def test_fsds_loss_equals_the_metric_per_pair(shape, reference, dtype):
    preds, target = _pair(shape, dtype=dtype)
    score = frequency_spectrum_distribution_similarity(preds, target, reduction="none", reference=reference)
    ratio = fsds_loss(preds, target, reduction="none", reference=reference)
    db = fsds_loss(preds, target, form="db", reduction="none", reference=reference)
    expected = 10 ** (-score.double() / 10)
    torch.testing.assert_close(ratio.double(), expected, rtol=1e-6, atol=0)
    torch.testing.assert_close(db.double(), -score.double(), rtol=1e-6, atol=0)
    assert ratio.dtype == dtype


def test_fsds_loss_reductions():
    preds, target = _pair((3, 3, 16, 16))
    per_pair = fsds_loss(preds, target, reduction="none")
    torch.testing.assert_close(fsds_loss(preds, target), per_pair.mean())
    torch.testing.assert_close(fsds_loss(preds, target, reduction="sum"), per_pair.sum())
    assert fsds_loss(preds[0], target[0]).shape == ()


def test_fsds_loss_ignores_brightness_and_contrast():
    preds, target = _pair((2, 3, 16, 16))
    torch.testing.assert_close(fsds_loss(3 * preds + 7, target), fsds_loss(preds, target))


def test_fsds_loss_db_form_is_floored_for_identical_images():
    _, target = _pair((2, 3, 16, 16))
    preds = target.clone().requires_grad_()
    value = fsds_loss(preds, target, form="db")
    value.backward()
    assert float(value.detach()) == pytest.approx(FSDS_LOSS_DB_FLOOR)
    assert torch.equal(preds.grad, torch.zeros_like(preds))


def test_fft_l1_loss_ground_truth():
    """An impulse of height sqrt(H W) has every orthonormal coefficient equal to 1 (real)."""
    x = torch.zeros(2, 3, 6, 5, dtype=torch.float64)
    y = x.clone()
    y[..., 0, 0] = math.sqrt(30)
    # rfft2 keeps 6 x 3 coefficients; real parts all 1, imaginary parts all 0
    assert float(fft_l1_loss(x, y)) == pytest.approx(0.5)
    # Parseval: for one real coefficient pattern the L1 of a random image equals the mean of |Re| and |Im|
    a, b = _pair((2, 1, 8, 8))
    spec = torch.fft.rfft2(a - b, norm="ortho")
    expected = torch.cat([spec.real.abs().flatten(), spec.imag.abs().flatten()]).mean()
    torch.testing.assert_close(fft_l1_loss(a, b), expected)
    torch.testing.assert_close(fft_l1_loss(a, b, reduction="none").mean(), expected)


def test_focal_frequency_loss_with_alpha_zero_is_the_mean_squared_spectral_distance():
    a, b = _pair((2, 3, 8, 12))
    spec = torch.fft.fft2(a - b, norm="ortho")
    torch.testing.assert_close(focal_frequency_loss(a, b, alpha=0.0), spec.abs().square().mean())


def test_focal_frequency_loss_weight_is_detached_and_normalised():
    """The gradient is that of sum(w * d^2) with w = d^alpha / max(d^alpha) held constant."""
    a, b = _pair((1, 1, 8, 8))
    a = a.clone().requires_grad_()
    focal_frequency_loss(a, b, alpha=2.0).backward()
    grad = a.grad.clone()
    a.grad = None
    with torch.no_grad():
        d = torch.fft.fft2(a - b, norm="ortho").abs()
        w = d**2 / (d**2).amax()
    d2 = torch.fft.fft2(a - b, norm="ortho").abs().square()
    (w * d2).mean().backward()
    torch.testing.assert_close(grad, a.grad)


def test_focal_frequency_loss_patches_are_cut_row_by_row():
    a, b = _pair((1, 1, 8, 8))
    whole = focal_frequency_loss(a, b, patch_factor=2, alpha=0.0)
    patches = [(a - b)[..., i : i + 4, j : j + 4] for i in (0, 4) for j in (0, 4)]
    expected = torch.stack([torch.fft.fft2(p, norm="ortho").abs().square() for p in patches]).mean()
    torch.testing.assert_close(whole, expected)


LOSSES = {
    "fsds": fsds_loss,
    "fsds_db": lambda p, t: fsds_loss(p, t, form="db"),
    "fft_l1": fft_l1_loss,
    # alpha = 0: the weight is constant, so the numerical derivative sees the same function as autograd
    # (with alpha > 0 the detached weight is, by definition, not differentiated)
    "focal_frequency": lambda p, t: focal_frequency_loss(p, t, alpha=0.0),
    "focal_frequency_patches": lambda p, t: focal_frequency_loss(
        p, t, alpha=0.0, patch_factor=2, ave_spectrum=True
    ),
}


@pytest.mark.parametrize("shape", [(2, 1, 6, 6), (1, 3, 7, 5), (1, 3, 4, 6)], ids=str)
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_gradcheck(name, shape):
    if name == "focal_frequency_patches" and (shape[-1] % 2 or shape[-2] % 2):
        pytest.skip("patch_factor=2 needs even sizes")
    preds, target = _pair(shape)
    preds.requires_grad_()
    target.requires_grad_()
    assert torch.autograd.gradcheck(
        LOSSES[name], (preds, target), eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=True
    )


#: The constant-image and precision checks also cover the detached weight of alpha > 0.
ALL_LOSSES = {**LOSSES, "focal_frequency_alpha_1": lambda p, t: focal_frequency_loss(p, t, log_matrix=True)}


@pytest.mark.parametrize("name", sorted(ALL_LOSSES))
def test_constant_images_give_a_finite_loss_and_zero_gradients(name):
    preds = torch.full((2, 3, 8, 8), 0.5, requires_grad=True)
    target = torch.full((2, 3, 8, 8), 0.5)
    value = ALL_LOSSES[name](preds, target)
    value.backward()
    assert torch.isfinite(value)
    assert torch.equal(preds.grad, torch.zeros_like(preds))
    # a constant prediction of a textured target: finite, and no NaN in the gradient
    preds.grad = None
    _, textured = _pair((2, 3, 8, 8), dtype=torch.float32)
    value = ALL_LOSSES[name](preds, textured)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(preds.grad).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", sorted(ALL_LOSSES))
def test_half_precision_inputs_are_computed_in_float32(name, dtype):
    preds, target = _pair((2, 3, 8, 8), dtype=torch.float32)
    half_p, half_t = preds.to(dtype), target.to(dtype)
    value = ALL_LOSSES[name](half_p, half_t)
    assert value.dtype == torch.float32
    torch.testing.assert_close(value, ALL_LOSSES[name](half_p.float(), half_t.float()))


def test_argument_errors_name_the_argument():
    a, b = _pair((1, 1, 6, 6))
    with pytest.raises(ValueError, match="`form`"):
        fsds_loss(a, b, form="log")
    with pytest.raises(ValueError, match="`reduction`"):
        fft_l1_loss(a, b, reduction="elementwise_mean")
    with pytest.raises(ValueError, match="`patch_factor` to divide"):
        focal_frequency_loss(a, b, patch_factor=4)
    with pytest.raises(ValueError, match="`alpha`"):
        focal_frequency_loss(a, b, alpha=-1.0)
    with pytest.raises(ValueError, match="same shape"):
        fft_l1_loss(a, b[..., :5])
