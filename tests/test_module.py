import math
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch import Callback, Trainer
from torch import nn
from torch.utils.data import DataLoader
from torchmetrics.functional.image import structural_similarity_index_measure

from hyra_lightning.data import SRDataModule
from hyra_lightning.metrics import FrequencySpectrumDistributionSimilarity
from hyra_lightning.models import EDSR, ESPCN
from hyra_lightning.module import (
    SuperResolutionModule,
    bicubic_baseline_metrics,
    split_batch,
)
from tests.callbacks.helpers import LeaveTogether


def _trainer(tmp_path: Path, **kwargs) -> Trainer:
    defaults = {
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "default_root_dir": str(tmp_path),
        "num_sanity_val_steps": 0,
        "accelerator": "cpu",
        "devices": 1,
    }
    defaults.update(kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Trainer(**defaults)


def _data(**kwargs) -> SRDataModule:
    defaults = {
        "scale": 2,
        "patch_size": 24,
        "batch_size": 8,
        "train_samples_per_epoch": 64,
        "val_crop_size": 64,
    }
    defaults.update(kwargs)
    return SRDataModule(**defaults)


def _tiny(scale: int = 2) -> EDSR:
    return EDSR(scale=scale, n_resblocks=1, n_feats=16)


class _Recorder(Callback):
    def __init__(self) -> None:
        self.losses: list[float] = []
        self.val_outputs: list[dict] = []
        self.lrs: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])  # the lr this step uses

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append(float(outputs["loss"]))

    def on_validation_batch_end(
        self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0
    ) -> None:
        self.val_outputs.append(outputs)


@torch.no_grad()
def _mean_l1(model: nn.Module, dm: SRDataModule) -> float:
    model.eval()
    losses = [F.l1_loss(model(b["lr"]), b["hr"]).item() for b in dm.val_dataloader()]
    model.train()
    return sum(losses) / len(losses)


def test_tiny_fit_decreases_the_loss_on_real_photographs(tmp_path: Path) -> None:
    dm = _data()
    dm.setup("fit")
    module = SuperResolutionModule(_tiny(), scale=2, lr=2e-3, scheduler="none")
    before = _mean_l1(module.model, dm)
    recorder = _Recorder()
    trainer = _trainer(tmp_path, max_steps=40, limit_val_batches=0, callbacks=[recorder])
    trainer.fit(module, datamodule=dm)
    after = _mean_l1(module.model, dm)
    assert trainer.global_step == 40
    assert after < 0.5 * before, (before, after)
    first, last = sum(recorder.losses[:5]) / 5, sum(recorder.losses[-5:]) / 5
    assert last < 0.6 * first, (first, last)
    assert "train/loss" in trainer.callback_metrics


def test_validation_logs_metrics_and_returns_preds_and_target(tmp_path: Path) -> None:
    dm = _data(val_batch_size=5)
    module = SuperResolutionModule(_tiny(), scale=2, crop_border=3)
    recorder = _Recorder()
    (results,) = _trainer(tmp_path, callbacks=[recorder]).validate(module, datamodule=dm, verbose=False)
    assert {"val/psnr", "val/ssim", "val/fsds", "val/loss"} <= set(results)
    assert all(math.isfinite(v) for v in results.values())

    # the returned dicts hold the clamped SR and the HR, cropped as the metrics saw them
    dm.setup("validate")
    outputs = recorder.val_outputs
    assert len(dm.val_dataset) == 16
    assert [len(o["preds"]) for o in outputs] == [5, 5, 5, 1]
    preds = torch.cat([o["preds"] for o in outputs])
    target = torch.cat([o["target"] for o in outputs])
    hr = torch.stack([dm.val_dataset[i]["hr"] for i in range(len(dm.val_dataset))])
    lr = torch.stack([dm.val_dataset[i]["lr"] for i in range(len(dm.val_dataset))])
    assert torch.equal(target, hr[..., 3:-3, 3:-3])
    with torch.no_grad():
        torch.testing.assert_close(preds, module.model.eval()(lr).clamp(0, 1)[..., 3:-3, 3:-3])
    assert preds.min() >= 0 and preds.max() <= 1

    # the logged values: per-image mean PSNR, SSIM and FSDS on images cropped by crop_border
    p, t = preds, target
    psnr = (10 * torch.log10(1 / ((p - t) ** 2).mean(dim=(1, 2, 3)))).mean()
    assert results["val/psnr"] == pytest.approx(psnr.item(), abs=1e-4)
    ssim = structural_similarity_index_measure(p, t, data_range=1.0)
    assert results["val/ssim"] == pytest.approx(ssim.item(), abs=1e-5)
    fsds = FrequencySpectrumDistributionSimilarity()
    fsds.update(p, t)
    assert results["val/fsds"] == pytest.approx(fsds.compute().item(), abs=1e-4)


def test_bicubic_baseline_metrics(tmp_path: Path) -> None:
    dm = _data()
    dm.setup("validate")
    module = SuperResolutionModule(_tiny(), scale=2)
    baseline = module.bicubic_baseline_metrics(dm.val_dataloader())
    assert set(baseline) == {"psnr", "ssim", "fsds"}
    hr = torch.stack([dm.val_dataset[i]["hr"] for i in range(len(dm.val_dataset))])
    lr = torch.stack([dm.val_dataset[i]["lr"] for i in range(len(dm.val_dataset))])
    sr = F.interpolate(lr, scale_factor=2, mode="bicubic", align_corners=False).clamp(0, 1)
    p, t = sr[..., 2:-2, 2:-2], hr[..., 2:-2, 2:-2]
    psnr = (10 * torch.log10(1 / ((p - t) ** 2).mean(dim=(1, 2, 3)))).mean()
    assert baseline["psnr"] == pytest.approx(psnr.item(), abs=1e-4)
    assert 22 < baseline["psnr"] < 40 and 0.5 < baseline["ssim"] < 1
    # the same function with tuple batches and an explicit border
    tuples = [(b["lr"], b["hr"]) for b in dm.val_dataloader()]
    assert bicubic_baseline_metrics(tuples, scale=2, crop_border=2) == pytest.approx(baseline)
    with pytest.raises(ValueError, match="without 'hr'"):
        bicubic_baseline_metrics([lr], scale=2)


def test_checkpoint_reload(tmp_path: Path) -> None:
    dm = _data(train_samples_per_epoch=16)
    module = SuperResolutionModule(
        _tiny(), scale=2, lr=1e-3, loss="l2", scheduler="cosine", max_steps_for_cosine=10, crop_border=1
    )
    trainer = _trainer(tmp_path, max_steps=3, enable_checkpointing=True, limit_val_batches=1)
    trainer.fit(module, datamodule=dm)
    path = trainer.checkpoint_callback.best_model_path or trainer.checkpoint_callback.last_model_path
    if not path:
        path = str(tmp_path / "manual.ckpt")
        trainer.save_checkpoint(path)
    reloaded = SuperResolutionModule.load_from_checkpoint(path, model=_tiny())
    assert reloaded.hparams == module.hparams
    assert (reloaded.scale, reloaded.loss, reloaded.scheduler, reloaded.crop_border) == (2, "l2", "cosine", 1)
    for (name, a), (_, b) in zip(module.state_dict().items(), reloaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert "model" not in torch.load(path, weights_only=False)["hyper_parameters"]


@pytest.mark.parametrize(
    ("scheduler", "kwargs", "expected"),
    [
        ("none", {}, [1e-2] * 5),
        ("step", {"step_size": 2, "gamma": 0.5}, [1e-2, 1e-2, 5e-3, 5e-3, 2.5e-3]),
        (
            "cosine",
            {"max_steps_for_cosine": 4},
            [1e-2 * (1 + math.cos(math.pi * k / 4)) / 2 for k in range(5)],
        ),
        ("cosine", {}, [1e-2 * (1 + math.cos(math.pi * k / 5)) / 2 for k in range(5)]),
    ],
)
def test_schedules_step_every_optimizer_step(
    tmp_path: Path, scheduler: str, kwargs: dict, expected: list
) -> None:
    dm = _data(patch_size=8, batch_size=2, train_samples_per_epoch=16)
    module = SuperResolutionModule(ESPCN(scale=2), scale=2, lr=1e-2, scheduler=scheduler, **kwargs)
    recorder = _Recorder()
    _trainer(tmp_path, max_steps=5, limit_val_batches=0, callbacks=[recorder]).fit(module, datamodule=dm)
    assert recorder.lrs == pytest.approx(expected, abs=1e-12)


def test_cosine_without_a_step_limit_is_a_clear_error(tmp_path: Path) -> None:
    module = SuperResolutionModule(_tiny(), scale=2, scheduler="cosine")
    with pytest.raises(ValueError, match="`max_steps_for_cosine`"):
        _trainer(tmp_path, max_epochs=-1, limit_val_batches=0).fit(module, datamodule=_data())


def test_tuple_batches_test_and_predict(tmp_path: Path) -> None:
    torch.manual_seed(0)
    lr = torch.rand(4, 3, 12, 12)
    hr = F.interpolate(lr, scale_factor=2, mode="nearest")
    pairs = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(lr, hr), batch_size=2)
    module = SuperResolutionModule(_tiny(), scale=2, lr=1e-3)
    trainer = _trainer(tmp_path, max_steps=2, limit_val_batches=1)
    trainer.fit(module, train_dataloaders=pairs, val_dataloaders=pairs)
    (results,) = trainer.test(module, dataloaders=pairs, verbose=False)
    assert {"test/psnr", "test/ssim", "test/fsds", "test/loss"} == set(results)
    predictions = trainer.predict(module, dataloaders=pairs)
    assert [tuple(p.shape) for p in predictions] == [(2, 3, 24, 24)] * 2
    assert all(0 <= p.min() and p.max() <= 1 for p in predictions)
    assert torch.equal(module.predict_step(lr, 0), module.model(lr).clamp(0, 1))


def test_lightning_cli_builds_the_model_from_a_class_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lightning.pytorch.cli import LightningCLI

    monkeypatch.setattr("sys.argv", ["hyra-lightning"])
    args = {
        "model": {
            "model": {
                "class_path": "hyra_lightning.models.EDSR",
                "init_args": {"scale": 2, "n_resblocks": 4, "n_feats": 32},
            },
            "scale": 2,
            "lr": 5e-4,
            "scheduler": "cosine",
            "max_steps_for_cosine": 100,
        },
        "data": {"patch_size": 16},
        "trainer": {"logger": False, "enable_checkpointing": False, "default_root_dir": str(tmp_path)},
    }
    cli = LightningCLI(SuperResolutionModule, SRDataModule, run=False, args=args, save_config_callback=None)
    assert isinstance(cli.model, SuperResolutionModule) and isinstance(cli.model.model, EDSR)
    assert cli.model.model.scale == 2 and len(cli.model.model.body) == 5
    assert cli.model.hparams.lr == 5e-4 and cli.model.scheduler == "cosine"
    assert cli.datamodule.patch_size == 16


def test_helpers() -> None:
    lr, hr = torch.rand(1, 3, 4, 4), torch.rand(1, 3, 8, 8)
    assert split_batch({"lr": lr, "hr": hr})[1] is hr
    assert split_batch((lr, hr))[0] is lr
    assert split_batch(lr) == (lr, None)
    with pytest.raises(ValueError, match=r"`batch`.*keys \['image'\]"):
        split_batch({"image": lr})


class _NoScale(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.conv(x), scale_factor=3)


def test_model_output_of_the_wrong_size() -> None:
    module = SuperResolutionModule(_NoScale(), scale=2)
    batch = {"lr": torch.rand(1, 3, 4, 4), "hr": torch.rand(1, 3, 8, 8)}
    with pytest.raises(ValueError, match=r"HR shape \(1, 3, 8, 8\), got \(1, 3, 12, 12\)"):
        module.training_step(batch, 0)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"scale": 3}, ValueError, "EDSR.scale=2"),
        ({"scale": 0}, ValueError, "`scale`"),
        ({"loss": "huber"}, ValueError, "`loss`.*'huber'"),
        ({"scheduler": "plateau"}, ValueError, "`scheduler`.*'plateau'"),
        ({"lr": 0.0}, ValueError, "`lr`"),
        ({"step_size": 0}, ValueError, "`step_size`"),
        ({"gamma": 1.5}, ValueError, "`gamma`"),
        ({"betas": (0.9, 1.0)}, ValueError, "`betas`"),
        ({"weight_decay": -1.0}, ValueError, "`weight_decay`"),
        ({"max_steps_for_cosine": 0}, ValueError, "`max_steps_for_cosine`"),
        ({"crop_border": -1}, ValueError, "`crop_border`"),
        ({"model": "EDSR"}, TypeError, "`model`"),
    ],
)
def test_bad_arguments(kwargs: dict, error: type, name: str) -> None:
    arguments = {"model": _tiny(), "scale": 2, **kwargs}
    with pytest.raises(error, match=name):
        SuperResolutionModule(**arguments)


def test_scale_mismatch_names_the_cli_argument_of_the_network() -> None:
    with pytest.raises(ValueError, match=r"--model\.model\.init_args\.scale 3.*--data\.scale 3"):
        SuperResolutionModule(_tiny(scale=2), scale=3)


def test_resume_with_more_steps_holds_the_cosine_at_its_final_value(tmp_path: Path) -> None:
    from lightning.pytorch.callbacks import ModelCheckpoint

    def fit(max_steps: int, ckpt_path: str | None, root: Path) -> list[float]:
        dm = _data(patch_size=8, batch_size=2, train_samples_per_epoch=8)
        module = SuperResolutionModule(ESPCN(scale=2), scale=2, lr=1e-2, scheduler="cosine")
        recorder = _Recorder()
        checkpoint = ModelCheckpoint(dirpath=root, save_last=True, save_top_k=0)
        trainer = _trainer(
            root,
            max_steps=max_steps,
            limit_val_batches=0,
            callbacks=[recorder, checkpoint],
            enable_checkpointing=True,
        )
        trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path)
        assert trainer.global_step == max_steps
        return recorder.lrs

    first = fit(6, None, tmp_path / "a")
    assert first == pytest.approx([1e-2 * (1 + math.cos(math.pi * k / 6)) / 2 for k in range(6)], abs=1e-12)
    resumed = fit(10, str(tmp_path / "a" / "last.ckpt"), tmp_path / "b")
    assert resumed == [0.0] * 4  # steps 6..9: held at the final value, not climbing back up


class _PlainLoaders(SRDataModule):
    """Validation crops in a plain ``DataLoader``: under DDP Lightning puts in its padding sampler."""

    def val_dataloader(self) -> DataLoader:
        assert self.val_dataset is not None
        return DataLoader(self.val_dataset, batch_size=self.val_batch_size, shuffle=False)


def _evaluate_on(
    root: Path, devices: int, state: dict[str, torch.Tensor], data_class: type[SRDataModule] = SRDataModule
) -> dict[str, dict[str, float]]:
    """``fit`` (one step that does not move the weights) then ``validate``, on 1 or 2 CPU processes.

    3 validation crops: 2 processes cannot split them evenly. Returns the module's ``val/...`` numbers and
    the monitors' scalars (read back from TensorBoard) of both runs.
    """
    from lightning.pytorch.loggers import TensorBoardLogger

    from hyra_lightning.callbacks import FrequencySimilarityMonitor, HyRAMonitor
    from tests.callbacks.helpers import read_events

    def run(name: str) -> tuple[Trainer, SuperResolutionModule, SRDataModule]:
        module = SuperResolutionModule(_tiny(), scale=2, lr=1e-30)  # Adam's step is ~lr: the weights stay
        module.load_state_dict(state)
        data = data_class(
            scale=2,
            patch_size=8,
            batch_size=2,
            train_samples_per_epoch=4,
            val_crop_size=32,
            val_crops_per_image=3,
            val_photos=("astronaut",),
            val_batch_size=4,
        )
        callbacks = [
            FrequencySimilarityMonitor(num_bands=4, log_curve=False, log_band_map=False, blocking=True),
            HyRAMonitor(num_images=2, size=9, blocking=True),
        ]
        trainer = _trainer(
            root,
            devices=devices,
            strategy="ddp_spawn" if devices > 1 else "auto",
            max_epochs=1,
            limit_train_batches=1,
            logger=TensorBoardLogger(str(root), name=name, version=0),
            callbacks=[*callbacks, LeaveTogether()],
        )
        return trainer, module, data

    numbers: dict[str, dict[str, float]] = {}
    trainer, module, data = run("fit")
    trainer.fit(module, datamodule=data)
    numbers["fit"] = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
    trainer, module, data = run("validate")
    (results,) = trainer.validate(module, datamodule=data)
    numbers["validate"] = {k: float(v) for k, v in results.items()}
    for name in ("fit", "validate"):
        events = read_events(root / name / "version_0")
        for tag in events.Tags()["scalars"]:
            if tag.startswith(("fsds/", "hyra/")):
                numbers[name][tag] = events.Scalars(tag)[-1].value
    return numbers


@pytest.mark.slow
@pytest.mark.ddp
def test_ddp_validation_numbers_equal_one_process_when_the_crops_do_not_divide(tmp_path: Path) -> None:
    torch.manual_seed(0)
    state = SuperResolutionModule(_tiny(), scale=2).state_dict()
    single = _evaluate_on(tmp_path / "single", 1, state)
    # SRDataModule's unpadded sampler, and Lightning's padding sampler, whose repeats are left out
    for data_class in (SRDataModule, _PlainLoaders):
        ddp = _evaluate_on(tmp_path / data_class.__name__, 2, state, data_class)
        for run in ("fit", "validate"):
            expected = {
                "val/loss",
                "val/psnr",
                "val/ssim",
                "val/fsds",
                "fsds/val",
                "hyra/nonlinear_energy_ratio",
            }
            assert expected <= set(single[run]), sorted(single[run])
            assert {f"fsds/band_{k:02d}" for k in range(4)} <= set(single[run])
            assert sorted(ddp[run]) == sorted(single[run])
            for key, value in single[run].items():
                if key.startswith("hyra/") and data_class is _PlainLoaders:
                    continue  # Lightning's sampler deals the crops out in turn: rank 0's first batch differs
                assert ddp[run][key] == pytest.approx(value, rel=1e-5, abs=1e-7), (data_class, run, key)
            assert single[run]["fsds/val"] == pytest.approx(single[run]["val/fsds"], rel=1e-5)


def test_evaluation_leaves_out_the_repeats_of_a_padding_sampler() -> None:
    from types import SimpleNamespace

    from tests.callbacks.test_frequency_similarity_monitor import _padded_loader

    module = SuperResolutionModule(_tiny(), scale=2)
    assert module._unrepeated_rows("val/", 0, 2) == 2  # no trainer
    module._trainer = SimpleNamespace(
        world_size=2, val_dataloaders=_padded_loader(True), test_dataloaders=None
    )
    assert module._unrepeated_rows("val/", 0, 2) == 1
    assert module._unrepeated_rows("test/", 0, 2) == 2
    module._trainer.val_dataloaders = _padded_loader(False)
    with pytest.warns(UserWarning, match="SuperResolutionModule: under DDP.*validation data loader"):
        assert module._unrepeated_rows("val/", 0, 2) == 2
