"""SuperResolutionModule's loss: a weighted sum of named terms, each logged, with clear errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch import Trainer
from lightning.pytorch.loggers import CSVLogger

from hyra_lightning.data import SRDataModule
from hyra_lightning.losses import FSDSLoss
from hyra_lightning.models import EDSR
from hyra_lightning.module import SuperResolutionModule
from hyra_lightning.options import LOSS_TERMS


def _module(loss) -> SuperResolutionModule:
    torch.manual_seed(0)
    return SuperResolutionModule(
        EDSR(scale=2, n_resblocks=1, n_feats=8), scale=2, loss=loss, scheduler="none"
    )


def test_the_loss_is_the_weighted_sum_of_its_terms():
    module = _module({"l1": 1.0, "fsds": 0.05, "fft_l1": 2.0})
    g = torch.Generator().manual_seed(0)
    sr, hr = torch.rand(2, 3, 16, 16, generator=g), torch.rand(2, 3, 16, 16, generator=g)
    total, terms = module._loss(sr, hr)
    assert set(terms) == {"l1", "fsds", "fft_l1"}
    torch.testing.assert_close(terms["l1"], F.l1_loss(sr, hr))
    torch.testing.assert_close(terms["fsds"], FSDSLoss()(sr, hr))
    torch.testing.assert_close(total, terms["l1"] + 0.05 * terms["fsds"] + 2.0 * terms["fft_l1"])


@pytest.mark.parametrize(("loss", "expected"), [("l1", F.l1_loss), ("l2", F.mse_loss)])
def test_plain_pixel_loss_names_keep_working(loss, expected):
    module = _module(loss)
    sr, hr = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    total, terms = module._loss(sr, hr)
    torch.testing.assert_close(total, expected(sr, hr))
    assert set(terms) == {loss}
    assert module.loss_weights == {loss: 1.0}


@pytest.mark.parametrize(
    ("loss", "match"),
    [
        ({"l1": 1.0, "fsd": 0.05}, "got 'fsd'"),
        ({"l1": 1.0, "fsds": -0.05}, r"loss\['fsds'\]"),
        ({"l1": 0.0}, "positive weight"),
        ("ssim", "`loss`"),
    ],
)
def test_unknown_terms_and_negative_weights_name_the_known_terms(loss, match):
    with pytest.raises(ValueError, match=match) as info:
        _module(loss)
    assert "focal_frequency" in str(info.value)


def test_a_fit_logs_every_term_and_the_total(tmp_path: Path):
    module = _module({"l1": 1.0, "fsds": 0.05, "focal_frequency": 2.0})
    dm = SRDataModule(scale=2, patch_size=16, batch_size=4, train_samples_per_epoch=8, val_crop_size=32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = Trainer(
            max_steps=3,
            limit_val_batches=0,
            log_every_n_steps=1,
            logger=CSVLogger(tmp_path),
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            accelerator="cpu",
            devices=1,
        )
        trainer.fit(module, datamodule=dm)
    logged = trainer.callback_metrics
    for name in ("train/loss", "train/loss_l1", "train/loss_fsds", "train/loss_focal_frequency"):
        assert name in logged and torch.isfinite(logged[name]), name
    expected = (
        logged["train/loss_l1"]
        + 0.05 * logged["train/loss_fsds"]
        + 2.0 * logged["train/loss_focal_frequency"]
    )
    torch.testing.assert_close(logged["train/loss"], expected)


def test_the_terms_hold_no_state_in_the_checkpoint():
    plain, combined = _module("l1"), _module({"l1": 1.0, "fsds": 0.1})
    assert plain.state_dict().keys() == combined.state_dict().keys()
    assert combined.hparams["loss"] == {"l1": 1.0, "fsds": 0.1}


def test_every_term_name_builds_a_loss():
    for name in LOSS_TERMS:
        total, terms = _module({name: 1.0})._loss(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8))
        assert torch.isfinite(total) and set(terms) == {name}
