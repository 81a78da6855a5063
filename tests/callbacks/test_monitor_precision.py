"""The monitors measure in full precision whatever the trainer's precision."""

from __future__ import annotations

import math

import pytest
import torch

from hyra_lightning.callbacks import HyRAMonitor, ImpulseResponseMonitor
from tests.callbacks.helpers import PhotoData, SRModule, make_trainer, read_events


def _step0(
    tmp_path, precision: str, channels_last: bool = False, accelerator: str = "cpu"
) -> tuple[dict[str, float], dict[str, float], torch.dtype]:
    torch.manual_seed(0)
    module = SRModule(lr=0.0)  # weights stay those of step 0 for the HyRA run after the first step
    if channels_last:
        module = module.to(memory_format=torch.channels_last)
    impulse = ImpulseResponseMonitor(
        every_n_steps=None, log_on_train_end=False, amplitude=0.02, background=0.5, size=17
    )
    hyra = HyRAMonitor(log_images=False, amplitude=0.02, background=0.5, size=17)
    root = tmp_path / f"{precision}-{accelerator}-{'channels_last' if channels_last else 'contiguous'}"
    trainer = make_trainer(
        root,
        [impulse, hyra],
        max_steps=1,
        precision=precision,
        num_sanity_val_steps=0,
        val_check_interval=1,
        limit_val_batches=1,
        accelerator=accelerator,
    )
    if precision == "16-mixed":  # the loss scaling of float16 training is in place
        assert trainer.precision_plugin.scaler is not None
    trainer.fit(module, datamodule=PhotoData())
    assert impulse.last_step == 0
    events = read_events(root / "run" / "version_0")
    logged = {
        tag: events.Scalars(tag)[0].value for tag in events.Tags()["scalars"] if tag.startswith("hyra/")
    }
    assert logged and all(len(events.Scalars(tag)) == 1 for tag in logged)
    return impulse.last_response.describe().as_dict(), logged, impulse.last_response.precision


@pytest.mark.slow
def test_step0_values_agree_between_32_true_and_bf16_mixed(tmp_path):
    full, full_hyra, full_precision = _step0(tmp_path, "32-true")
    mixed, mixed_hyra, mixed_precision = _step0(tmp_path, "bf16-mixed")
    assert full_precision == mixed_precision == torch.float32
    for name, value in mixed.items():
        assert math.isclose(value, full[name], abs_tol=1e-5), (name, value, full[name])
    assert full_hyra and full_hyra.keys() == mixed_hyra.keys()
    for tag, value in mixed_hyra.items():
        assert math.isclose(value, full_hyra[tag], rel_tol=1e-4, abs_tol=1e-5), (tag, value, full_hyra[tag])


def _assert_within(readings: tuple, reference: tuple, tol: float = 1e-3) -> None:
    """The impulse descriptors and the HyRA scalars of ``readings`` within ``tol`` of ``reference``'s."""
    impulse, hyra, precision = readings
    assert precision == torch.float32
    for name, value in impulse.items():
        assert math.isclose(value, reference[0][name], abs_tol=tol), (name, value, reference[0][name])
    assert hyra.keys() == reference[1].keys()
    for tag, value in hyra.items():
        assert math.isclose(value, reference[1][tag], rel_tol=tol, abs_tol=tol), (
            tag,
            value,
            reference[1][tag],
        )


@pytest.mark.slow
def test_channels_last_models_read_as_contiguous_ones(tmp_path):
    reference = _step0(tmp_path, "32-true")
    _assert_within(_step0(tmp_path, "32-true", channels_last=True), reference)
    _assert_within(_step0(tmp_path, "bf16-mixed", channels_last=True), reference)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="16-mixed with a GradScaler needs a CUDA device")
def test_16_mixed_with_grad_scaler_and_channels_last_read_as_float32_on_gpu(tmp_path):
    reference = _step0(tmp_path, "32-true", accelerator="gpu")
    _assert_within(_step0(tmp_path, "16-mixed", accelerator="gpu"), reference)
    _assert_within(_step0(tmp_path, "16-mixed", channels_last=True, accelerator="gpu"), reference)
