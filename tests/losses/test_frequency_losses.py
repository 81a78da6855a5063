"""The loss modules: they equal their functions and the FSDS metric, validate their options, and the focal
frequency loss agrees with the published ``focal-frequency-loss`` package."""

from __future__ import annotations

import pytest
import torch

from hyra_lightning.functional import fft_l1_loss, fsds_loss
from hyra_lightning.losses import FFTL1Loss, FocalFrequencyLoss, FSDSLoss, loss_term
from hyra_lightning.metrics import FSDS


def _pair(shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(shape, generator=g)
    return target + 0.2 * torch.rand(shape, generator=g), target


@pytest.mark.parametrize("form", ["ratio", "db"])
def test_fsds_loss_module_matches_the_metric_on_one_pair(form):
    preds, target = _pair((1, 3, 20, 18))
    metric = FSDS()
    metric.update(preds, target)
    score = metric.compute().double()
    value = FSDSLoss(form=form)(preds, target).double()
    expected = 10 ** (-score / 10) if form == "ratio" else -score
    assert float(value) == pytest.approx(float(expected), rel=1e-6)


def test_modules_equal_their_functions():
    preds, target = _pair((2, 3, 8, 8))
    torch.testing.assert_close(
        FSDSLoss(reduction="none")(preds, target), fsds_loss(preds, target, reduction="none")
    )
    torch.testing.assert_close(FFTL1Loss()(preds, target), fft_l1_loss(preds, target))


def test_modules_hold_no_state():
    for module in (FSDSLoss(), FFTL1Loss(), FocalFrequencyLoss()):
        assert not list(module.parameters()) and not list(module.buffers()) and module.state_dict() == {}


def test_options_are_checked_when_the_module_is_made():
    with pytest.raises(ValueError, match="`form`"):
        FSDSLoss(form="dB")
    with pytest.raises(ValueError, match="`reference`"):
        FSDSLoss(reference="hr")
    with pytest.raises(ValueError, match="`patch_factor`"):
        FocalFrequencyLoss(patch_factor=0)
    with pytest.raises(ValueError, match="`log_matrix`"):
        FocalFrequencyLoss(log_matrix=1)


def test_loss_term_names_every_term_when_unknown():
    assert isinstance(loss_term("l1"), torch.nn.L1Loss)
    assert isinstance(loss_term("focal_frequency"), FocalFrequencyLoss)
    with pytest.raises(ValueError, match="fft_l1"):
        loss_term("fft")


OPTION_SETS = [
    {},
    {"alpha": 2.0},
    {"alpha": 0.5, "patch_factor": 2},
    {"ave_spectrum": True},
    {"log_matrix": True},
    {"batch_matrix": True},
    {"alpha": 1.5, "patch_factor": 4, "ave_spectrum": True, "log_matrix": True, "batch_matrix": True},
]


@pytest.mark.requires("focal_frequency_loss")
@pytest.mark.parametrize(
    "options", OPTION_SETS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "defaults"
)
def test_focal_frequency_loss_agrees_with_the_published_package(options):
    published = pytest.importorskip("focal_frequency_loss")
    preds, target = _pair((3, 3, 16, 24), seed=1)
    preds = preds.double().requires_grad_()
    target = target.double()
    ours = FocalFrequencyLoss(**options)(preds, target)
    (grad_ours,) = torch.autograd.grad(ours, preds)
    theirs = published.FocalFrequencyLoss(loss_weight=1.0, **options)(preds, target)
    (grad_theirs,) = torch.autograd.grad(theirs, preds)
    torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=0)
    torch.testing.assert_close(grad_ours, grad_theirs, rtol=1e-8, atol=1e-14)
