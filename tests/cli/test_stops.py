"""The CLI says when and why a fit stopped early, when a resume trains nothing, and offers only what works."""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_cli, short_quickstart

pytestmark = pytest.mark.slow


def _config(
    tmp_path: Path, name: str, extra_callbacks: list[dict], every_step: bool = True, **trainer: object
) -> Path:
    cfg = short_quickstart(tmp_path / "logs")
    cfg["trainer"].update(trainer)
    cfg["trainer"]["callbacks"] += extra_callbacks
    for cb in cfg["trainer"]["callbacks"]:
        if every_step and cb["class_path"].endswith("ModelCheckpoint"):
            cb["init_args"]["every_n_train_steps"] = 1
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_time_limit_is_reported_and_a_resume_that_trains_nothing_says_so(tmp_path: Path) -> None:
    slow = {"class_path": "tests.cli.callbacks_for_tests.SlowSteps", "init_args": {"seconds": 0.6}}
    config = _config(tmp_path, "timed", [slow], max_time="00:00:00:01")
    out = run_cli(["fit", "--config", str(config)])
    found = re.search(
        r"stopped early at step (\d+) of `trainer.max_steps` 8: the time limit `trainer.max_time`", out
    )
    assert found, out
    assert 1 <= int(found.group(1)) < 8
    ckpt = next((tmp_path / "logs").glob("quickstart/version_0/checkpoints/last.ckpt"))
    out = run_cli(["fit", "--config", str(config), "--trainer.max_steps", "12", f"--ckpt_path={ckpt}"])
    assert "optimizer steps, 0 in this run)" in out
    assert "WARNING: this run trained no step: the time limit `trainer.max_time` (0:00:01) ran out" in out
    assert "raise `--trainer.max_time` or remove it to train on" in out


def test_resume_at_the_step_limit_says_it_trained_nothing(quickstart_run, tmp_path: Path) -> None:
    ckpt = quickstart_run.logdir / "checkpoints" / "last.ckpt"
    config = _config(tmp_path, "again", [])  # logs under tmp_path, not into the shared run
    out = run_cli(["fit", "--config", str(config), f"--ckpt_path={ckpt}"])
    assert "hyra-lightning summary (x2, 8 optimizer steps, 0 in this run)" in out
    assert (
        "WARNING: this run trained no step: the checkpoint is already at step 8 of `trainer.max_steps` 8"
        in out
    )


def test_interrupt_prints_the_step_and_the_checkpoint(tmp_path: Path) -> None:
    interrupt = {"class_path": "tests.cli.callbacks_for_tests.InterruptAt", "init_args": {"step": 6}}
    config = _config(tmp_path, "interrupted", [interrupt], every_step=False)  # the quickstart's checkpointing
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exc:
        run_cli(["fit", "--config", str(config)], capture=False)
    assert exc.value.code == 1
    text = out.getvalue()
    assert "the fit was interrupted at step 6 of `trainer.max_steps` 8; no summary." in text
    # the quickstart's ModelCheckpoint wrote last.ckpt at the validation of step 4
    assert "last.ckpt" in text and "--ckpt_path" in text


def test_early_stopping_is_named() -> None:
    from lightning.pytorch import Trainer
    from lightning.pytorch.callbacks import EarlyStopping

    from hyra_lightning.cli import stop_reason
    from hyra_lightning.data import SRDataModule
    from hyra_lightning.models import ESPCN
    from hyra_lightning.module import SuperResolutionModule

    stop = EarlyStopping(
        monitor="val/psnr", mode="max", stopping_threshold=0.0
    )  # met at the first validation
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = Trainer(
            max_steps=8,
            val_check_interval=2,
            check_val_every_n_epoch=None,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            callbacks=[stop],
        )
        dm = SRDataModule(
            scale=2,
            patch_size=8,
            batch_size=2,
            train_samples_per_epoch=16,
            val_crop_size=32,
            val_crops_per_image=1,
        )
        trainer.fit(SuperResolutionModule(ESPCN(scale=2), scale=2), datamodule=dm)
    assert trainer.global_step == 2
    reason = stop_reason(trainer)
    assert reason is not None and reason.startswith("EarlyStopping stopped it"), reason


def test_optimizer_and_lr_scheduler_are_not_offered(tmp_path: Path, capsys) -> None:
    config = _config(tmp_path, "plain", [])
    with pytest.raises(SystemExit) as exc:
        run_cli(["fit", "--config", str(config), "--optimizer", "Adam"])
    assert exc.value.code != 0
    assert "--optimizer" in capsys.readouterr().err


def test_model_help_lists_sr_networks_not_every_module() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        run_cli(["fit", "--help"], capture=False)
    text = " ".join(out.getvalue().split())
    assert "hyra_lightning.models.EDSR" in text and "or any torch.nn.Module by class path" in text
    assert "torchmetrics" not in text and "torch.nn.Linear" not in text
    assert "--optimizer" not in text and "--lr_scheduler" not in text


def test_quickstart_logs_no_hp_metric(quickstart_run) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(quickstart_run.logdir), size_guidance={"scalars": 0})
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert "train/loss" in tags and "hp_metric" not in tags
