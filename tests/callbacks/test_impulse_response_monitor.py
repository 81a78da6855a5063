"""ImpulseResponseMonitor: arguments, epoch schedule, probe options, the published response."""

from __future__ import annotations

import pytest
import torch

from hyra_lightning.analysis import impulse_response
from hyra_lightning.callbacks import ImpulseResponseMonitor
from tests.callbacks.helpers import PhotoData, SRModule, make_trainer, read_events, scalar_steps


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"every_n_steps": 0}, r"`every_n_steps`.*0"),
        ({"every_n_epochs": 1.5}, r"`every_n_epochs`.*1.5"),
        ({"log_on_train_start": "no"}, r"`log_on_train_start`"),
        ({"size": 34}, r"`size`.*odd.*34"),
        ({"amplitude": 0}, r"`amplitude`"),
        ({"background": float("inf")}, r"`background`"),
        ({"mode": "grey"}, r"`mode`.*'grey'"),
        ({"scale": -2}, r"`scale`.*-2"),
        ({"in_channels": 0}, r"`in_channels`"),
        ({"crop_radius": 0}, r"`crop_radius`"),
        ({"zoom": True}, r"`zoom`"),
        ({"extra": 1}, r"`extra`"),
        ({"submodule": ""}, r"`submodule`"),
        (
            {"every_n_steps": None, "log_on_train_start": False, "log_on_train_end": False},
            r"at least one of `every_n_steps`",
        ),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ImpulseResponseMonitor(**kwargs)


def test_epoch_schedule_paper_probe_submodule_and_extra(tmp_path):
    """Epoch cadence only, the paper's probe on the inner network, extra descriptors, scalars only."""
    monitor = ImpulseResponseMonitor(
        every_n_steps=None,
        every_n_epochs=2,
        log_on_train_start=False,
        log_on_train_end=False,
        mode="paper",
        size=17,
        amplitude=0.02,
        background=0.5,
        extra=True,
        log_images=False,
        submodule="net",
    )
    module = SRModule()
    trainer = make_trainer(tmp_path, [monitor], max_steps=12)  # 4 epochs of 3 steps
    trainer.fit(module, datamodule=PhotoData())
    acc = read_events(tmp_path / "run" / "version_0")
    # ends of epochs 2 and 4
    assert scalar_steps(acc, "impulse/dc_gain") == [6, 12]
    assert scalar_steps(acc, "impulse/shift_variance") == [6, 12]
    assert scalar_steps(acc, "impulse/amplitude_nonlinearity") == [6, 12]
    assert not acc.Tags()["images"]
    response = monitor.last_response
    assert monitor.last_step == 12
    assert response.kernel.shape == (3, 1, 34, 34)
    assert (response.size, response.amplitude, response.background, response.mode) == (17, 0.02, 0.5, "paper")
    # the published response is what the analysis layer measures on the trained network
    fresh = impulse_response(module.net, size=17, amplitude=0.02, background=0.5, mode="paper", scale=2)
    torch.testing.assert_close(response.kernel, fresh.kernel)
    assert acc.Scalars("impulse/cutoff")[-1].value == pytest.approx(fresh.describe().cutoff, rel=1e-5)
    assert monitor.state_dict() == {"last_step": 12, "last_epoch": 3, "num_probes": 2}


def test_state_key_distinguishes_probe_options():
    a = ImpulseResponseMonitor()
    assert a.state_key == ImpulseResponseMonitor(every_n_steps=7).state_key
    assert a.state_key != ImpulseResponseMonitor(amplitude=0.02, background=0.5).state_key
    restored = ImpulseResponseMonitor()
    restored.load_state_dict({"last_step": 40, "last_epoch": 2, "num_probes": 5})
    assert restored.last_step == 40 and restored._restored
