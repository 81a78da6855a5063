"""The FSDS monitor's pictures: the bicubic curve beside the model's, the band map, and the one FSDS writer."""

from __future__ import annotations

from unittest import mock

import pytest
import torch
from lightning.pytorch import seed_everything
from lightning.pytorch.loggers import TensorBoardLogger

import hyra_lightning.callbacks.frequency_similarity_monitor as fsds_monitor
from hyra_lightning import FrequencySimilarityMonitor
from hyra_lightning.callbacks import log_fsds
from hyra_lightning.metrics import FSDS
from hyra_lightning.spectral import bicubic_upsample
from hyra_lightning.tags import FSDS_BAND_MAP, FSDS_CURVE, FSDS_VAL, fsds_band
from tests.callbacks.helpers import PhotoData, SRModule, image_steps, make_trainer, read_events, scalar_steps


def _bicubic_reference(num_bands: int) -> torch.Tensor:
    metric = FSDS(num_bands=num_bands)
    for batch in PhotoData().val_dataloader():
        metric.update(bicubic_upsample(batch["lr"], 2), batch["hr"])
    return metric.compute_curve()[1].double()


def test_bicubic_curve_is_computed_once_per_validation_set_on_the_same_images(tmp_path):
    seed_everything(0)
    monitor = FrequencySimilarityMonitor(num_bands=6)
    trainer = make_trainer(tmp_path, [monitor], max_steps=6)  # validations at steps 3 and 6
    calls = []

    def counting(lr, scale):
        calls.append(lr.shape[0])
        return bicubic_upsample(lr, scale)

    with mock.patch.object(fsds_monitor, "bicubic_upsample", counting):
        trainer.fit(SRModule(), datamodule=PhotoData())
    assert calls == [2, 2]  # the two validation batches of the first run only: cached afterwards
    torch.testing.assert_close(monitor.bicubic_curve, _bicubic_reference(6), rtol=1e-6, atol=1e-6)
    # the curve image at every validation, the band map with one column per validation so far
    acc = read_events(tmp_path / "run" / "version_0")
    assert image_steps(acc, FSDS_CURVE) == [3, 6]
    assert image_steps(acc, FSDS_BAND_MAP) == [3, 6]
    assert monitor.history[0] == [3, 6] and len(monitor.history[1][1]) == 6
    state = monitor.state_dict()
    assert state["history_steps"] == [3, 6] and state["bicubic_curve"] is not None


def test_bicubic_is_cropped_like_the_scored_images(tmp_path):
    """A validation_step that crops a border (as SuperResolutionModule does): bicubic is cropped alike."""

    class Cropping(SRModule):
        def validation_step(self, batch, batch_idx):
            sr = self(batch["lr"])
            return {"preds": sr[..., 2:-2, 2:-2].clamp(0, 1), "target": batch["hr"][..., 2:-2, 2:-2]}

    monitor = FrequencySimilarityMonitor(num_bands=4)
    make_trainer(tmp_path, [monitor], max_steps=1).validate(Cropping(), datamodule=PhotoData(), verbose=False)
    metric = FSDS(num_bands=4)
    for batch in PhotoData().val_dataloader():
        metric.update(bicubic_upsample(batch["lr"], 2)[..., 2:-2, 2:-2], batch["hr"][..., 2:-2, 2:-2])
    torch.testing.assert_close(
        monitor.bicubic_curve, metric.compute_curve()[1].double(), rtol=1e-6, atol=1e-6
    )


def test_no_bicubic_and_no_band_map_when_switched_off(tmp_path):
    monitor = FrequencySimilarityMonitor(num_bands=4, compare_bicubic=False, log_band_map=False)
    make_trainer(tmp_path, [monitor], max_steps=1).validate(SRModule(), datamodule=PhotoData(), verbose=False)
    acc = read_events(tmp_path / "run" / "version_0")
    assert monitor.bicubic_curve is None
    assert acc.Tags()["images"] == [FSDS_CURVE]


def test_log_fsds_writes_the_monitor_tags_to_a_logger(tmp_path):
    hr = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    metric = FSDS(num_bands=4)
    metric.update((hr + 0.05).clamp(0, 1), hr)
    logger = TensorBoardLogger(str(tmp_path), name="run", version=0)
    values = log_fsds(metric, logger, step=7, scale=2, bicubic=torch.tensor([30.0, 20.0, 10.0, 5.0]))
    acc = read_events(logger.log_dir)
    assert set(acc.Tags()["scalars"]) == {FSDS_VAL, *(fsds_band(k) for k in range(4))}
    assert scalar_steps(acc, FSDS_VAL) == [7]
    assert (
        acc.Scalars(FSDS_VAL)[0].value
        == pytest.approx(values[FSDS_VAL])
        == pytest.approx(metric.compute().item())
    )
    assert image_steps(acc, FSDS_CURVE) == [7]
