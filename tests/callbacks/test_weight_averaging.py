"""With a weight-averaging callback the monitors read the averaged weights, and the live ones under
``*_live/`` tags when asked."""

from __future__ import annotations

import copy
import math
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import Callback, StochasticWeightAveraging

from hyra_lightning.analysis import hyra_decompose, impulse_response
from hyra_lightning.callbacks import HyRAMonitor, ImpulseResponseMonitor
from hyra_lightning.callbacks._base import resolve_probe_options
from hyra_lightning.tags import IMPULSE_SCALARS as SCALARS
from tests.callbacks.helpers import PhotoData, SRModule, make_trainer, read_events

try:
    from lightning.pytorch.callbacks import EMAWeightAveraging
except ImportError:  # Lightning < 2.6 has no WeightAveraging
    EMAWeightAveraging = None

needs_weight_averaging = pytest.mark.skipif(
    EMAWeightAveraging is None, reason="Lightning's WeightAveraging callbacks arrived in Lightning 2.6"
)


class _Snapshots(Callback):
    """At the end of chosen steps (after every other callback), copies of the live and the averaged network."""

    def __init__(self, averaged: Any, steps: tuple[int, ...]) -> None:
        self.averaged = averaged  # LightningModule holding the averaged weights, called at each step
        self.steps = steps
        self.live: dict[int, torch.nn.Module] = {}
        self.average: dict[int, torch.nn.Module] = {}

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if trainer.global_step in self.steps:
            self.live[trainer.global_step] = copy.deepcopy(pl_module.net)
            self.average[trainer.global_step] = copy.deepcopy(self.averaged().net)


def _by_hand(net: torch.nn.Module, monitor: ImpulseResponseMonitor) -> dict[str, float]:
    return impulse_response(net, options=monitor.resolved_options).describe().as_dict()


def _assert_close(logged: float, expected: float, what: str) -> None:
    assert math.isclose(logged, expected, rel_tol=1e-4, abs_tol=1e-5), (what, logged, expected)


def _differ(a: dict[str, float], b: dict[str, float]) -> bool:
    """Whether two readings come from two different networks (the descriptors differ)."""
    return max(abs(a[name] - b[name]) for name in SCALARS) > 1e-2


def _logged(events: Any, tag: str) -> dict[int, float]:
    return {e.step: e.value for e in events.Scalars(tag)}


def _impulse(weights: str = "both") -> ImpulseResponseMonitor:
    return ImpulseResponseMonitor(
        every_n_steps=2,
        log_on_train_start=False,
        log_on_train_end=False,
        size=9,
        log_images=False,
        weights=weights,
    )


@needs_weight_averaging
@pytest.mark.parametrize("monitors_first", [True, False], ids=["monitors-first", "averaging-first"])
def test_ema_probes_read_the_averaged_weights_and_the_live_ones_under_live_tags(tmp_path, monitors_first):
    torch.manual_seed(0)
    ema = EMAWeightAveraging(decay=0.5)
    impulse = _impulse()
    hyra = HyRAMonitor(num_images=1, size=9, log_images=False, weights="both")
    snapshots = _Snapshots(lambda: ema._average_model.module, steps=(2, 4))
    monitors = [impulse, hyra]
    callbacks = [*monitors, ema] if monitors_first else [ema, *monitors]
    trainer = make_trainer(
        tmp_path,
        [*callbacks, snapshots],
        max_steps=4,
        val_check_interval=2,
        limit_val_batches=1,
        num_sanity_val_steps=0,
    )
    module = SRModule(lr=0.05)
    trainer.fit(module, datamodule=PhotoData())
    events = read_events(tmp_path / "run" / "version_0")

    averaged, live = _logged(events, "impulse/dc_gain"), _logged(events, "impulse_live/dc_gain")
    assert sorted(averaged) == sorted(live) == [2, 4]
    for step in (2, 4):
        expected_avg = _by_hand(snapshots.average[step], impulse)
        expected_live = _by_hand(snapshots.live[step], impulse)
        assert _differ(expected_avg, expected_live)  # two different networks
        for name in SCALARS:
            _assert_close(_logged(events, f"impulse/{name}")[step], expected_avg[name], f"averaged {name}")
            _assert_close(_logged(events, f"impulse_live/{name}")[step], expected_live[name], f"live {name}")

    # HyRA at the validation after step 2: the averaged weights (swapped into the model by EMA at that
    # moment or not, depending on the callbacks' order), the live ones under hyra_live/
    lr, hr = hyra.images
    options = resolve_probe_options(hyra.probe_options, module, snapshots.average[2])
    for tag, net in (("hyra", snapshots.average[2]), ("hyra_live", snapshots.live[2])):
        expected = hyra_decompose(net, lr, hr=hr, boundary=hyra.boundary, options=options).scalars()
        for name in ("nonlinear_energy_ratio", "fsds_sr"):
            _assert_close(_logged(events, f"{tag}/{name}")[2], expected[name], f"{tag}/{name}")


@needs_weight_averaging
def test_default_reads_the_averaged_weights_under_the_usual_tags_only(tmp_path):
    torch.manual_seed(0)
    ema = EMAWeightAveraging(decay=0.5)
    impulse = _impulse(weights="averaged")
    live = _impulse(weights="live")
    assert impulse.state_key != live.state_key  # both in one Trainer, each with its checkpoint entry
    assert impulse.state_key == ImpulseResponseMonitor(size=9).state_key  # the default keeps the older key
    snapshots = _Snapshots(lambda: ema._average_model.module, steps=(2,))
    trainer = make_trainer(tmp_path, [impulse, live, ema, snapshots], max_steps=2, limit_val_batches=0)
    trainer.fit(SRModule(lr=0.05), datamodule=PhotoData())
    assert not any(
        tag.startswith("impulse_live/")
        for tag in read_events(tmp_path / "run" / "version_0").Tags()["scalars"]
    )
    expected = _by_hand(snapshots.average[2], impulse)
    expected_live = _by_hand(snapshots.live[2], live)
    assert _differ(expected, expected_live)
    for name in SCALARS:
        _assert_close(impulse.last_response.describe().as_dict()[name], expected[name], f"averaged {name}")
        _assert_close(live.last_response.describe().as_dict()[name], expected_live[name], f"live {name}")


def test_swa_probes_read_the_averaged_weights_and_the_live_ones_under_live_tags(tmp_path):
    torch.manual_seed(0)
    swa = StochasticWeightAveraging(swa_lrs=1e-2, swa_epoch_start=1)
    impulse = _impulse()
    snapshots = _Snapshots(lambda: swa._average_model, steps=(4, 6))
    trainer = make_trainer(
        tmp_path, [impulse, swa, snapshots], max_steps=-1, max_epochs=3, limit_val_batches=0
    )
    trainer.fit(SRModule(lr=0.05), datamodule=PhotoData())
    events = read_events(tmp_path / "run" / "version_0")
    for step in (4, 6):
        expected_avg = _by_hand(snapshots.average[step], impulse)
        expected_live = _by_hand(snapshots.live[step], impulse)
        assert _differ(expected_avg, expected_live)
        for name in SCALARS:
            _assert_close(_logged(events, f"impulse/{name}")[step], expected_avg[name], f"averaged {name}")
            _assert_close(_logged(events, f"impulse_live/{name}")[step], expected_live[name], f"live {name}")
