"""A fit resumed from a checkpoint written at any step is bitwise identical to an uninterrupted one."""

from __future__ import annotations

import warnings
from pathlib import Path

import lightning
import pytest
import torch
from lightning.pytorch import Callback, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from packaging.version import Version

from hyra_lightning.data import SRDataModule
from hyra_lightning.data.datamodule import EpochSampler, ResumableDataLoader
from hyra_lightning.models import ESPCN
from hyra_lightning.module import SuperResolutionModule

MAX_STEPS = 10  # 4 batches per epoch: checkpoints at the start, middle and end of epochs

# Lightning before 2.6 resumes a checkpoint written after the last batch of an epoch by running one more batch
# "of that epoch" before the next one (seen with 2.4.0), so its epochs no longer line up with an uninterrupted
# fit's; 2.6 starts the next epoch. Checkpoints inside an epoch resume exactly with both.
_LIGHTNING_REPLAYS_LAST_BATCH = Version(lightning.__version__) < Version("2.6")


class RecordBatches(Callback):
    """The HR patches of every training step, by global step."""

    def __init__(self) -> None:
        self.batches: dict[int, torch.Tensor] = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # type: ignore[no-untyped-def]
        self.batches[trainer.global_step] = batch["hr"].clone()


def _fit(root: Path, ckpt_path: str | None, callbacks: list[Callback]) -> SuperResolutionModule:
    torch.manual_seed(0)
    module = SuperResolutionModule(ESPCN(scale=2), scale=2, lr=1e-3, scheduler="cosine")
    dm = SRDataModule(
        scale=2,
        patch_size=8,
        batch_size=2,
        train_samples_per_epoch=8,
        val_crop_size=32,
        val_crops_per_image=1,
        seed=5,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = Trainer(
            max_steps=MAX_STEPS,
            val_check_interval=3,
            check_val_every_n_epoch=None,
            num_sanity_val_steps=0,
            logger=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            default_root_dir=str(root),
            callbacks=callbacks,
        )
        trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path)
    assert trainer.global_step == MAX_STEPS
    return module


@pytest.mark.slow
def test_resume_from_every_step_is_bitwise_identical(tmp_path: Path) -> None:
    every = ModelCheckpoint(
        dirpath=tmp_path / "ckpt", filename="{step}", every_n_train_steps=1, save_top_k=-1
    )
    reference = RecordBatches()
    full = _fit(tmp_path, None, [every, reference])
    want = {k: v.clone() for k, v in full.state_dict().items()}
    assert len(reference.batches) == MAX_STEPS
    for step in range(1, MAX_STEPS):
        if step % 4 == 0 and _LIGHTNING_REPLAYS_LAST_BATCH:
            continue  # see _LIGHTNING_REPLAYS_LAST_BATCH
        resumed_batches = RecordBatches()
        ckpt = tmp_path / "ckpt" / f"step={step}.ckpt"
        resumed = _fit(tmp_path / f"resume{step}", str(ckpt), [resumed_batches])
        assert sorted(resumed_batches.batches) == list(range(step, MAX_STEPS)), step
        for k, batch in resumed_batches.batches.items():
            assert torch.equal(batch, reference.batches[k]), f"resumed at {step}: batch of step {k} differs"
        for name, value in resumed.state_dict().items():
            assert torch.equal(value, want[name]), f"resumed at {step}: {name} differs"


def test_loader_state_counts_served_batches_and_skips_them() -> None:
    dataset = list(range(8))
    sampler = EpochSampler(8)
    loader = ResumableDataLoader(dataset, batch_size=2, sampler=sampler)
    it = iter(loader)
    assert next(it).tolist() == [0, 1] and next(it).tolist() == [2, 3]
    state = loader.state_dict()
    assert state == {"batches": 2}
    again = ResumableDataLoader(dataset, batch_size=2, sampler=EpochSampler(8))
    again.load_state_dict(state)
    assert [b.tolist() for b in again] == [[4, 5], [6, 7]]
    assert again.state_dict() == {"batches": 4}
    assert len(list(again)) == 4  # the next epoch is whole again
    # another sampler: the skipped batches are loaded and dropped, with the same result
    other = ResumableDataLoader(dataset, batch_size=2, sampler=list(range(8)))
    other.load_state_dict(state)
    assert [b.tolist() for b in other] == [[4, 5], [6, 7]]
    with pytest.raises(ValueError, match="'batches'"):
        other.load_state_dict({"batches": -1})


def test_loader_resumes_with_workers_and_under_lightnings_distributed_wrapper() -> None:
    from lightning.fabric.utilities.distributed import DistributedSamplerWrapper
    from lightning.pytorch.utilities.data import _update_dataloader

    dataset = list(range(8))
    # worker processes fetch ahead; the skip is decided before they start
    loader = ResumableDataLoader(
        dataset, batch_size=2, sampler=EpochSampler(8), num_workers=1, persistent_workers=True
    )
    loader.load_state_dict({"batches": 3})
    assert [b.tolist() for b in loader] == [[6, 7]]
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3], [4, 5], [6, 7]]
    # Lightning rebuilds the loader around its distributed sampler wrapper for DDP: still resumable
    plain = ResumableDataLoader(dataset, batch_size=2, sampler=EpochSampler(8))
    wrapper = DistributedSamplerWrapper(plain.sampler, num_replicas=2, rank=0, shuffle=False)
    rebuilt = _update_dataloader(plain, wrapper)
    assert isinstance(rebuilt, ResumableDataLoader)
    assert [b.tolist() for b in rebuilt] == [[0, 2], [4, 6]]
    rebuilt.load_state_dict({"batches": 1})
    assert [b.tolist() for b in rebuilt] == [[4, 6]]
