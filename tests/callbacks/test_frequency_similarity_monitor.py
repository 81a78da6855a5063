"""FrequencySimilarityMonitor: arguments, where SR/HR come from, equality with the metric on the same images."""

from __future__ import annotations

import pytest
import torch

from hyra_lightning.callbacks import FrequencySimilarityMonitor
from hyra_lightning.metrics import FrequencySpectrumDistributionSimilarity
from tests.callbacks.helpers import PhotoData, SRModule, make_trainer, read_events, scalar_steps


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_bands": 0}, r"`num_bands`.*0"),
        ({"num_bands": 2.5}, r"`num_bands`.*2.5"),
        ({"reference": "sr"}, r"`reference`.*'sr'"),
        ({"lr_key": ""}, r"`lr_key`"),
        ({"hr_key": 3}, r"`hr_key`.*3"),
        ({"scale": 0}, r"`scale`"),
        ({"log_curve": "yes"}, r"`log_curve`"),
        ({"submodule": ""}, r"`submodule`"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FrequencySimilarityMonitor(**kwargs)


def test_submodule_checked_in_setup(tmp_path):
    trainer = make_trainer(tmp_path, [FrequencySimilarityMonitor(submodule="model")], max_steps=1)
    with pytest.raises(ValueError, match=r"`submodule`.*'model'"):
        trainer.validate(SRModule(), datamodule=PhotoData(), verbose=False)


def _expected(module: SRModule, data: PhotoData, num_bands: int) -> tuple[float, list[float]]:
    metric = FrequencySpectrumDistributionSimilarity(num_bands=num_bands)
    module.eval()
    with torch.no_grad():
        for batch in data.val_dataloader():
            lr, hr = (batch[0], batch[1]) if isinstance(batch, list) else (batch["lr"], batch["hr"])
            metric.update(module(lr), hr)
    _, curve = metric.compute_curve()
    return float(metric.compute()), curve.tolist()


@pytest.mark.parametrize(
    ("outputs", "as_tuple"), [("dict", False), ("tuple", False), ("none", False), ("none", True)]
)
def test_values_equal_the_metric_whatever_validation_step_returns(tmp_path, outputs, as_tuple):
    torch.manual_seed(0)
    module = SRModule(outputs=outputs, tuple_batches=as_tuple)
    data = PhotoData(n_val=3, as_tuple=as_tuple)  # an odd count: the last batch holds one image
    monitor = FrequencySimilarityMonitor(num_bands=4)
    trainer = make_trainer(tmp_path, [monitor], max_steps=1)
    trainer.validate(module, datamodule=data, verbose=False)
    value, curve = _expected(module, data, 4)
    assert monitor.last_step == 0
    assert monitor.last_values["fsds/val"] == pytest.approx(value, rel=1e-6)
    assert [monitor.last_values[f"fsds/band_{k:02d}"] for k in range(4)] == pytest.approx(curve, rel=1e-6)
    assert monitor.metric.update_count == 0  # reset after the epoch
    acc = read_events(tmp_path / "run" / "version_0")
    assert scalar_steps(acc, "fsds/val") == [0]
    assert acc.Scalars("fsds/val")[0].value == pytest.approx(value, rel=1e-6)


def test_unreadable_batch_warns_once_and_disables(tmp_path):
    module = SRModule(outputs="none")
    monitor = FrequencySimilarityMonitor(hr_key="target")
    trainer = make_trainer(tmp_path, [monitor], max_steps=1)
    with pytest.warns(UserWarning, match=r"FrequencySimilarityMonitor is disabled.*'target'") as record:
        trainer.validate(module, datamodule=PhotoData(), verbose=False)
    assert sum("is disabled" in str(w.message) for w in record) == 1
    assert monitor.disabled and monitor.last_step is None


def test_state_dict_round_trip():
    monitor = FrequencySimilarityMonitor()
    monitor.last_step, monitor._layout_dirs = 12, {"logs/run/version_0"}
    monitor.history = ([4, 12], [[30.0, 20.0], [31.0, float("nan")]])
    monitor.bicubic_curve = torch.tensor([29.0, 15.0], dtype=torch.float64)
    other = FrequencySimilarityMonitor()
    other.load_state_dict(monitor.state_dict())
    assert other.last_step == 12 and other._layout_dirs == {"logs/run/version_0"}
    assert other.history[0] == [4, 12] and other.history[1][0] == [30.0, 20.0]
    assert torch.equal(other.bicubic_curve, monitor.bicubic_curve)
    assert monitor.state_key != FrequencySimilarityMonitor(reference="preds").state_key


def _padded_loader(in_order: bool, rank: int = 1) -> torch.utils.data.DataLoader:
    """3 samples on 2 processes: torch's sampler repeats sample 0 as rank 1's second row."""
    from torch.utils.data import DataLoader
    from torch.utils.data.distributed import DistributedSampler

    class Reversed(DistributedSampler):  # an order that cannot be followed
        def __iter__(self):
            return iter(reversed(list(super().__iter__())))

    kind = DistributedSampler if in_order else Reversed
    data = torch.arange(3)
    return DataLoader(data, batch_size=2, sampler=kind(data, num_replicas=2, rank=rank, shuffle=False))


def test_padded_duplicates_are_left_out_or_warned_once() -> None:
    from types import SimpleNamespace

    monitor = FrequencySimilarityMonitor(num_bands=4)
    trainer = SimpleNamespace(world_size=2, val_dataloaders=[_padded_loader(True)])
    assert monitor._unrepeated_rows(trainer, 0, 0, 2) == 1  # rank 1's rows: sample 1, then a repeat of 0
    trainer.val_dataloaders = _padded_loader(True, rank=0)
    assert monitor._unrepeated_rows(trainer, 0, 0, 2) == 2
    trainer.val_dataloaders = [_padded_loader(False)]
    with pytest.warns(UserWarning, match="repeats 1 sample.*UnpaddedDistributedSampler"):
        assert monitor._unrepeated_rows(trainer, 0, 0, 2) == 2
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        monitor._unrepeated_rows(trainer, 1, 0, 2)  # once
    trainer.world_size = 1
    assert monitor._unrepeated_rows(trainer, 0, 0, 2) == 2
