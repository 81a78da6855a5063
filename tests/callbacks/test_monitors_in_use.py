"""The monitors as a user meets them: the HyRA schedule across a resume, outputs that are not an SR image,
validate after fit, the dashboard layout written once per log directory, and forwards that are not LR to SR."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch import seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger
from torch import Tensor

from hyra_lightning import FrequencySimilarityMonitor, HyRAMonitor, ImpulseResponseMonitor
from hyra_lightning.tags import FSDS_VAL, hyra_scalar
from tests.callbacks.helpers import PhotoData, SRModule, make_trainer, read_events, scalar_steps


def _hyra_steps(root, version: int) -> list[int]:
    return scalar_steps(read_events(root / "run" / f"version_{version}"), hyra_scalar("hf_injection"))


def test_hyra_schedule_survives_a_resume_from_a_step_checkpoint(tmp_path):
    """every_n_epochs=2 with validations every 5 steps and a checkpoint every 10 steps, written before the
    validation of its step: the resumed fit logs at 20, 30, 40 as an uninterrupted one does."""
    ckpt_dir = tmp_path / "ckpt"

    def fit(max_steps: int, version: int, ckpt_path: str | None) -> None:
        seed_everything(3)
        callbacks = [
            HyRAMonitor(every_n_epochs=2, log_images=False),
            ModelCheckpoint(dirpath=ckpt_dir, every_n_train_steps=10, save_top_k=-1),
        ]
        logger = TensorBoardLogger(str(tmp_path), name="run", version=version)
        trainer = make_trainer(
            tmp_path,
            callbacks,
            max_steps=max_steps,
            logger=logger,
            enable_checkpointing=True,
            val_check_interval=5,
            check_val_every_n_epoch=None,
            num_sanity_val_steps=0,
        )
        trainer.fit(SRModule(), datamodule=PhotoData(), ckpt_path=ckpt_path)

    fit(40, 0, None)
    assert _hyra_steps(tmp_path, 0) == [10, 20, 30, 40]
    fit(40, 1, str(ckpt_dir / "epoch=3-step=10.ckpt"))
    assert _hyra_steps(tmp_path, 1) == [20, 30, 40]


class _LossAndSR(SRModule):
    """A validation_step that returns ``(loss, sr)``."""

    def validation_step(self, batch: Any, batch_idx: int) -> Any:
        sr = self(batch["lr"])
        loss = F.l1_loss(sr, batch["hr"])
        return loss, sr


def test_loss_and_sr_outputs_fall_back_to_the_model_with_one_warning(tmp_path):
    monitor = FrequencySimilarityMonitor(num_bands=4)
    trainer = make_trainer(tmp_path, [monitor], max_steps=1)
    seed_everything(0)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        trainer.validate(_LossAndSR(), datamodule=PhotoData(), verbose=False)
    messages = [str(w.message) for w in record if "FrequencySimilarityMonitor" in str(w.message)]
    assert len(messages) == 1 and "runs the model" in messages[0] and "(loss" not in messages[0]
    assert "tensor of shape ()" in messages[0]
    assert not monitor.disabled
    # the same score as a module that returns (sr, hr)
    reference = FrequencySimilarityMonitor(num_bands=4)
    seed_everything(0)
    make_trainer(tmp_path / "ref", [reference], max_steps=1).validate(
        SRModule(outputs="tuple"), datamodule=PhotoData(), verbose=False
    )
    assert monitor.last_values[FSDS_VAL] == pytest.approx(reference.last_values[FSDS_VAL], rel=1e-6)


def test_validate_twice_and_fit_then_validate_are_all_logged(tmp_path):
    fsds = FrequencySimilarityMonitor(num_bands=4, log_curve=False, log_band_map=False)
    hyra = HyRAMonitor(log_images=False)
    trainer = make_trainer(tmp_path, [fsds, hyra], max_steps=3)
    module = SRModule()
    trainer.fit(module, datamodule=PhotoData())
    trainer.validate(module, datamodule=PhotoData(), verbose=False)
    trainer.validate(module, datamodule=PhotoData(), verbose=False)
    acc = read_events(tmp_path / "run" / "version_0")
    assert scalar_steps(acc, FSDS_VAL) == [3, 3, 3]
    assert scalar_steps(acc, hyra_scalar("hf_injection")) == [3, 3, 3]
    assert fsds.history[0] == [3, 3, 3]


def test_layout_is_written_once_per_log_directory_also_after_resuming_into_a_new_one(tmp_path):
    ckpt_dir = tmp_path / "ckpt"

    def fit(max_steps: int, version: int, ckpt_path: str | None) -> None:
        callbacks = [
            FrequencySimilarityMonitor(num_bands=4),
            ModelCheckpoint(dirpath=ckpt_dir, save_last=True),
        ]
        logger = TensorBoardLogger(str(tmp_path), name="run", version=version)
        trainer = make_trainer(
            tmp_path, callbacks, max_steps=max_steps, logger=logger, enable_checkpointing=True
        )
        trainer.fit(SRModule(), datamodule=PhotoData(), ckpt_path=ckpt_path)

    fit(3, 0, None)
    fit(6, 1, str(ckpt_dir / "last.ckpt"))  # a new version directory
    fit(9, 1, str(ckpt_dir / "last.ckpt"))  # the same directory again
    for version in (0, 1):
        acc = read_events(tmp_path / "run" / f"version_{version}")
        assert len(acc.Tensors("custom_scalars__config__")) == 1, version


class _TwoInputs(SRModule):
    """A LightningModule whose forward is not LR -> SR, and whose validation_step returns only the loss."""

    def forward(self, x: Tensor, extra: Tensor) -> Tensor:  # type: ignore[override]
        return self.net(x) + 0 * extra.mean()

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        sr = self(batch["lr"], batch["lr"])
        return F.l1_loss(sr, batch["hr"])

    def validation_step(self, batch: Any, batch_idx: int) -> Any:
        return None


def test_forward_that_is_not_lr_to_sr_disables_every_monitor_with_one_warning_each(tmp_path):
    monitors = [
        ImpulseResponseMonitor(every_n_steps=2),
        HyRAMonitor(),
        FrequencySimilarityMonitor(num_bands=4),
    ]
    trainer = make_trainer(tmp_path, monitors, max_steps=6)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        trainer.fit(_TwoInputs(), datamodule=PhotoData())
    assert trainer.global_step == 6  # training went on
    for monitor in monitors:
        name = type(monitor).__name__
        messages = [str(w.message) for w in record if str(w.message).startswith(f"{name} is disabled")]
        assert len(messages) == 1, (name, messages)
        assert "Training continues without it" in messages[0] and "`submodule=`" in messages[0]
        assert monitor.disabled
    assert torch.is_tensor(trainer.lightning_module.net.head.weight)
