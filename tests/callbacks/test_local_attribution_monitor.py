"""LocalAttributionMonitor: arguments, cadence, values equal to the analysis, every logger, state, the
training left as it was."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from hyra_lightning.analysis import local_attribution
from hyra_lightning.callbacks import LocalAttributionMonitor
from hyra_lightning.tags import LAM_DI, LAM_MAP
from tests.callbacks.helpers import (
    LR_SIZE,
    LeaveTogether,
    PhotoData,
    SRModule,
    image_steps,
    make_trainer,
    read_events,
    scalar_steps,
)

#: Cheap settings: an 8 x 8 box, 4 steps of the path.
FAST = {"window": 8, "steps": 4}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"every_n_validations": 0}, r"`every_n_validations`.*0"),
        ({"window": 1}, r"`window`.*1"),
        ({"steps": 0}, r"`steps`.*0"),
        ({"kernel_size": 8}, r"`kernel_size`.*odd.*8"),
        ({"sigma_max": 0}, r"`sigma_max`"),
        ({"path": "straight"}, r"`path`.*'straight'"),
        ({"box": (1, -2)}, r"`box`"),
        ({"box": (1, 2, 3)}, r"`box`"),
        ({"image": torch.rand(8, 8)}, r"`image`.*\(8, 8\)"),
        ({"image_index": -1}, r"`image_index`"),
        ({"batch_size": 0}, r"`batch_size`"),
        ({"lr_key": ""}, r"`lr_key`"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LocalAttributionMonitor(**kwargs)


def test_validate_logs_the_analysis_of_the_given_image_and_box(tmp_path):
    torch.manual_seed(0)
    image = torch.rand(3, 20, 20)
    module = SRModule()
    monitor = LocalAttributionMonitor(image=image, box=(12, 14), **FAST)
    trainer = make_trainer(tmp_path, [monitor], max_steps=1)
    trainer.validate(module, datamodule=PhotoData(), verbose=False)
    expected = local_attribution(module, image, (12, 14), **FAST)
    acc = read_events(tmp_path / "run" / "version_0")
    (event,) = acc.Scalars(LAM_DI)
    assert event.step == 0 and event.value == pytest.approx(expected.di, rel=1e-5)
    assert image_steps(acc, LAM_MAP) == [0]
    assert monitor.last_result is not None and monitor.last_result.box == (12, 14)
    assert monitor.state_dict()["image"] is None  # the user's image is not checkpointed


@pytest.mark.slow
def test_every_n_validations_in_every_logger_and_state(tmp_path):
    tb = TensorBoardLogger(str(tmp_path), name="tb", version=0)
    csv_logger = CSVLogger(str(tmp_path), name="csv", version=0)
    monitor = LocalAttributionMonitor(every_n_validations=2, image_index=1, **FAST)
    trainer = make_trainer(tmp_path, [monitor], max_steps=12, logger=[tb, csv_logger])  # validations 3,6,9,12
    module = SRModule()
    trainer.fit(module, datamodule=PhotoData())
    acc = read_events(tb.log_dir)
    assert scalar_steps(acc, LAM_DI) == [6, 12]
    assert image_steps(acc, LAM_MAP) == [6, 12]
    run = Path(csv_logger.log_dir)
    with open(run / "metrics.csv", newline="") as f:
        assert sorted(int(r["step"]) for r in csv.DictReader(f) if r.get(LAM_DI)) == [6, 12]
    assert sorted(p.name for p in (run / "images" / "lam" / "map").glob("*.png")) == [
        "0000006.png",
        "0000012.png",
    ]
    # the image is the second of the first validation batch; the box the one with the most edges
    first_batch = next(iter(PhotoData().val_dataloader()))
    assert torch.equal(monitor.image, first_batch["lr"][1])
    assert monitor.resolved_box is not None
    # the last value is the analysis of the trained module
    expected = local_attribution(module, monitor.image, monitor.resolved_box, **FAST)
    assert acc.Scalars(LAM_DI)[-1].value == pytest.approx(expected.di, rel=1e-5)
    state = monitor.state_dict()
    assert state["val_runs"] == 4 and state["last_step"] == 12 and state["box"] == list(monitor.resolved_box)
    assert state["image"].shape == (3, LR_SIZE, LR_SIZE) and not state["image"].is_inference()
    restored = LocalAttributionMonitor(every_n_validations=2, **FAST)
    restored.load_state_dict(state)
    assert torch.equal(restored.image, monitor.image) and restored.resolved_box == monitor.resolved_box
    assert restored._val_runs == 4


@pytest.mark.slow
def test_the_training_is_the_same_with_and_without_the_monitor(tmp_path):
    """Eval mode, forked RNG, gradients of the input only: the monitor changes nothing of the fit."""

    def fit(callbacks: list) -> dict[str, torch.Tensor]:
        seed_everything(0)
        module = SRModule()
        trainer = make_trainer(tmp_path, callbacks, max_steps=6)
        trainer.fit(module, datamodule=PhotoData())
        return {k: v.clone() for k, v in module.state_dict().items()}

    plain = fit([])
    watched = fit([LocalAttributionMonitor(**FAST)])
    assert plain.keys() == watched.keys()
    assert all(torch.equal(plain[k], watched[k]) for k in plain)


def test_a_box_outside_the_image_disables_the_monitor_with_the_remedy(tmp_path):
    monitor = LocalAttributionMonitor(box=(100, 0), **FAST)
    trainer = make_trainer(tmp_path, [monitor], max_steps=1)
    with pytest.warns(UserWarning, match=r"LocalAttributionMonitor is disabled.*`box`.*`box=`"):
        trainer.validate(SRModule(), datamodule=PhotoData(), verbose=False)
    assert monitor.disabled and monitor.last_step is None


def _ddp_fit(
    root: Path, strategy: str, devices: int, state: dict[str, torch.Tensor], image: torch.Tensor
) -> None:
    module = SRModule(optimizer="sgd", lr=0.0)  # weights never change: runs are comparable
    module.load_state_dict(state)
    trainer = Trainer(
        accelerator="cpu",
        devices=devices,
        strategy=strategy,
        max_steps=2,
        limit_train_batches=2,
        logger=TensorBoardLogger(str(root), name="run", version=0),
        callbacks=[LocalAttributionMonitor(image=image, **FAST), LeaveTogether()],
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(module, datamodule=PhotoData(n_val=4, val_batch_size=1))


@pytest.mark.slow
@pytest.mark.ddp
def test_ddp_spawn_attributes_on_every_rank_and_writes_on_rank_zero(tmp_path):
    torch.manual_seed(0)
    state = SRModule().state_dict()
    image = torch.rand(3, 16, 16)
    _ddp_fit(tmp_path / "ddp", "ddp_spawn", 2, state, image)
    _ddp_fit(tmp_path / "single", "auto", 1, state, image)
    assert len(list((tmp_path / "ddp").rglob("events.out.tfevents.*"))) == 1  # rank 1 wrote nothing
    ddp, single = (read_events(tmp_path / name / "run" / "version_0") for name in ("ddp", "single"))
    assert scalar_steps(ddp, LAM_DI) == scalar_steps(single, LAM_DI) == [2]
    assert ddp.Scalars(LAM_DI)[0].value == pytest.approx(single.Scalars(LAM_DI)[0].value, rel=1e-5)
    assert image_steps(ddp, LAM_MAP) == [2]


@pytest.mark.slow
def test_a_resumed_fit_keeps_the_schedule_the_image_and_the_box(tmp_path):
    """Validations every 5 steps, every second one attributed, a checkpoint every 10 steps written before the
    validation of its step: the resumed fit logs at 20 as the uninterrupted one does, for the same patch."""
    ckpt_dir = tmp_path / "ckpt"

    def fit(version: int, ckpt_path: str | None) -> LocalAttributionMonitor:
        seed_everything(3)
        monitor = LocalAttributionMonitor(every_n_validations=2, log_images=False, **FAST)
        callbacks = [monitor, ModelCheckpoint(dirpath=ckpt_dir, every_n_train_steps=10, save_top_k=-1)]
        trainer = make_trainer(
            tmp_path,
            callbacks,
            max_steps=20,
            logger=TensorBoardLogger(str(tmp_path), name="run", version=version),
            enable_checkpointing=True,
            val_check_interval=5,
            check_val_every_n_epoch=None,
            num_sanity_val_steps=0,
        )
        trainer.fit(SRModule(), datamodule=PhotoData(), ckpt_path=ckpt_path)
        return monitor

    first = fit(0, None)
    resumed = fit(1, str(ckpt_dir / "epoch=3-step=10.ckpt"))
    steps = [scalar_steps(read_events(tmp_path / "run" / f"version_{v}"), LAM_DI) for v in (0, 1)]
    assert steps == [[10, 20], [20]]
    assert resumed.resolved_box == first.resolved_box and torch.equal(resumed.image, first.image)
