"""The monitors under strategies that shard the parameters (FSDP, DeepSpeed, ModelParallel): a clear refusal at
``setup`` on every rank, before any forward pass, never a hang. Lightning refuses FSDP on CPU, so these tests call
``setup`` with a trainer stand-in that holds such a strategy; benchmarks/gpu_check_fsdp.py runs a real FSDP fit on
a GPU."""

from __future__ import annotations

from types import SimpleNamespace

import lightning.pytorch as pl
import pytest
from lightning.pytorch.strategies import DeepSpeedStrategy, FSDPStrategy, ModelParallelStrategy

from hyra_lightning.callbacks import FrequencySimilarityMonitor, HyRAMonitor, ImpulseResponseMonitor
from hyra_lightning.callbacks._base import sharding_strategy
from tests.callbacks.helpers import SRModule


class CustomFSDP(FSDPStrategy):
    """A user's own FSDP strategy: still sharded."""


def _bare(cls: type) -> object:
    """An instance without running ``__init__`` (which needs a GPU or the deepspeed package)."""
    return cls.__new__(cls)


class _Forbidden(SRModule):
    def forward(self, x):  # pragma: no cover - the refusal comes before any forward pass
        raise AssertionError("a monitor ran a forward pass under a sharding strategy")


MONITORS = [
    lambda: ImpulseResponseMonitor(every_n_steps=1),
    lambda: HyRAMonitor(),
    lambda: FrequencySimilarityMonitor(),
]


@pytest.mark.parametrize("monitor", MONITORS, ids=["impulse", "hyra", "fsds"])
@pytest.mark.parametrize(
    ("strategy", "name"),
    [
        (FSDPStrategy, "FSDPStrategy"),
        (CustomFSDP, "CustomFSDP"),
        (DeepSpeedStrategy, "DeepSpeedStrategy"),
        (ModelParallelStrategy, "ModelParallelStrategy"),
    ],
)
@pytest.mark.parametrize("rank_zero", [True, False])
def test_monitors_refuse_sharding_strategies_at_setup_on_every_rank(monitor, strategy, name, rank_zero):
    trainer = SimpleNamespace(strategy=_bare(strategy), is_global_zero=rank_zero, loggers=[])
    cb = monitor()
    with pytest.raises(ValueError, match=rf"`trainer.strategy`.*got {name}\..*shards the parameters.*'ddp'"):
        cb.setup(trainer, _Forbidden(), "fit")


@pytest.mark.parametrize("strategy", ["ddp", "ddp_spawn", "auto"])
def test_replicating_strategies_are_not_sharding(strategy):
    devices = 1 if strategy == "auto" else 2
    trainer = pl.Trainer(accelerator="cpu", devices=devices, strategy=strategy, logger=False)
    assert sharding_strategy(trainer) is None
    ImpulseResponseMonitor()._refuse_sharding_strategy(trainer)  # no error
