"""ImpulseResponseMonitor: arguments, epoch schedule, probe options, the published response."""

from __future__ import annotations

import warnings

import pytest
import torch

from hyra_lightning.analysis import READING_ERRORS, impulse_response
from hyra_lightning.callbacks import ImpulseResponseMonitor
from tests.analysis._models import NoisySR
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


def test_epoch_schedule_paper_probe_submodule_and_reading_errors(tmp_path):
    """Epoch cadence only, the paper's probe on the inner network, the reading errors, scalars only."""
    monitor = ImpulseResponseMonitor(
        every_n_steps=None,
        every_n_epochs=2,
        log_on_train_start=False,
        log_on_train_end=False,
        mode="paper",
        size=17,
        amplitude=0.02,
        background=0.5,
        log_images=False,
        submodule="net",
    )
    module = SRModule()
    trainer = make_trainer(tmp_path, [monitor], max_steps=12)  # 4 epochs of 3 steps
    trainer.fit(module, datamodule=PhotoData())
    acc = read_events(tmp_path / "run" / "version_0")
    # ends of epochs 2 and 4
    assert scalar_steps(acc, "impulse/dc_gain") == [6, 12]
    for name in READING_ERRORS:
        assert scalar_steps(acc, f"impulse/{name}") == [6, 12], name
    assert not acc.Tags()["images"]
    response = monitor.last_response
    assert monitor.last_step == 12
    assert response.kernel.shape == (3, 1, 34, 34)
    assert (response.size, response.amplitude, response.background, response.mode) == (17, 0.02, 0.5, "paper")
    # the published response is what the analysis layer measures on the trained network
    fresh = impulse_response(module.net, size=17, amplitude=0.02, background=0.5, mode="paper", scale=2)
    torch.testing.assert_close(response.kernel, fresh.kernel)
    assert acc.Scalars("impulse/cutoff")[-1].value == pytest.approx(fresh.describe().cutoff, rel=1e-5)
    assert acc.Scalars("impulse/linearity_error")[-1].value == pytest.approx(fresh.linearity_error, rel=1e-5)
    assert monitor.state_dict() == {"last_step": 12, "last_epoch": 3, "num_probes": 2}


def test_state_key_distinguishes_probe_options():
    a = ImpulseResponseMonitor()
    # the key of checkpoints written before the reading errors were measured at every probe
    assert a.state_key == (
        "ImpulseResponseMonitor{'probe': {'size': 33, 'amplitude': 1.0, 'background': 0.0, 'baseline': True,"
        " 'mode': 'cross_channel', 'scale': None, 'in_channels': None}, 'extra': False, 'submodule': None}"
    )
    assert a.state_key == ImpulseResponseMonitor(every_n_steps=7).state_key
    assert a.state_key != ImpulseResponseMonitor(amplitude=0.02, background=0.5).state_key
    restored = ImpulseResponseMonitor()
    restored.load_state_dict({"last_step": 40, "last_epoch": 2, "num_probes": 5})
    assert restored.last_step == 40 and restored._restored


@pytest.mark.parametrize(("sigma", "warned"), [(0.05, True), (0.0, False)])
def test_a_reading_that_is_not_a_filter_warns_once(tmp_path, sigma, warned):
    """A network that injects noise at evaluation: one warning naming the cause and the remedy, the reading
    errors logged at every probe; the same network without noise reads as a filter, without a warning. The
    first probe of the fit (the untrained network, step 0) is logged but not warned about."""
    monitor = ImpulseResponseMonitor(every_n_steps=2, amplitude=0.02, background=0.5, log_images=False)
    module = SRModule()
    module.net = NoisySR(sigma=sigma)
    trainer = make_trainer(tmp_path, [monitor], max_steps=4)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        trainer.fit(module, datamodule=PhotoData())
    messages = [str(w.message) for w in record if "do not describe a filter" in str(w.message)]
    assert len(messages) == (1 if warned else 0), messages
    if warned:
        assert messages[0].startswith("ImpulseResponseMonitor: at step 2, the impulse descriptors")
        assert "repeatability_error" in messages[0] and "eval()" in messages[0]
    acc = read_events(tmp_path / "run" / "version_0")
    assert scalar_steps(acc, "impulse/repeatability_error") == [0, 2, 4]
    values = [e.value for e in acc.Scalars("impulse/repeatability_error")]
    assert all(v > 0.01 for v in values) if warned else all(v < 1e-4 for v in values)
    assert monitor.last_response.filter_reading is not warned


def test_zoom_is_accepted_with_a_warning_that_it_does_nothing(recwarn):
    """Old configs that set `zoom` still load, and are told that it has no effect."""
    with pytest.warns(FutureWarning, match=r"zoom=4\) has no effect.*crop_radius"):
        ImpulseResponseMonitor(zoom=4)
    recwarn.clear()
    ImpulseResponseMonitor()  # the default says nothing
    assert not [w for w in recwarn if "zoom" in str(w.message)]
