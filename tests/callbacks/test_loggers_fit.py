"""A fit with the three monitors and each logger family, read back with the logger's own tools, offline:
TensorBoard (EventAccumulator), W&B (``WANDB_MODE=offline``, the run's files), MLflow (a SQLite store,
MlflowClient), CSVLogger (PNG files); and one fit with all of them at once."""

from __future__ import annotations

import csv
import re
import warnings
from pathlib import Path

import pytest
from lightning.pytorch import seed_everything
from lightning.pytorch.loggers import CSVLogger, Logger, MLFlowLogger, TensorBoardLogger, WandbLogger
from PIL import Image

from hyra_lightning import (
    FrequencySimilarityMonitor,
    HyRAMonitor,
    ImpulseResponseMonitor,
    LocalAttributionMonitor,
)
from hyra_lightning.tags import (
    FSDS_BAND_MAP,
    FSDS_CURVE,
    FSDS_VAL,
    IMPULSE_PROFILE,
    IMPULSE_RESPONSE,
    IMPULSE_SPECTRUM,
    LAM_DI,
    LAM_MAP,
    hyra_sample,
)
from tests.callbacks.helpers import PhotoData, SRModule, image_steps, make_trainer, read_events, scalar_steps

pytestmark = pytest.mark.slow

#: MLflow with its SQLite store.
_MLFLOW = ("mlflow", "sqlalchemy", "alembic")

#: Every image tag of the fit below and its steps: probes at 0, 3, 6; validations at 3 and 6.
EXPECTED = {
    IMPULSE_RESPONSE: [0, 3, 6],
    IMPULSE_SPECTRUM: [0, 3, 6],
    IMPULSE_PROFILE: [0, 3, 6],
    hyra_sample(0): [3, 6],
    FSDS_CURVE: [3, 6],
    FSDS_BAND_MAP: [3, 6],
    LAM_MAP: [3, 6],
}


def _fit(tmp_path: Path, loggers: list[Logger]) -> None:
    seed_everything(0)
    monitors = [
        ImpulseResponseMonitor(every_n_steps=3),
        HyRAMonitor(num_images=1),
        FrequencySimilarityMonitor(num_bands=4),
        LocalAttributionMonitor(window=8, steps=4),
    ]
    trainer = make_trainer(tmp_path, monitors, max_steps=6, logger=loggers)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        trainer.fit(SRModule(), datamodule=PhotoData())
    # the monitors have nothing to complain about (a ReLU network's reading may not be a filter's: not a problem
    # of the loggers, tested in test_impulse_response_monitor)
    problems = [str(w.message) for w in record if "Monitor" in str(w.message)]
    assert not [m for m in problems if "do not describe a filter" not in m], problems
    for logger in loggers:
        logger.finalize("success")


# ------------------------------------------------------------------------------------------------ readers


def _check_tensorboard(logger: TensorBoardLogger) -> None:
    acc = read_events(logger.log_dir)
    for tag, steps in EXPECTED.items():
        assert image_steps(acc, tag) == steps, tag
    assert scalar_steps(acc, FSDS_VAL) == [3, 6]
    assert scalar_steps(acc, LAM_DI) == [3, 6]
    assert len(acc.Tensors("custom_scalars__config__")) == 1


def _check_csv(logger: CSVLogger) -> None:
    run = Path(logger.log_dir)
    for tag, steps in EXPECTED.items():
        files = sorted((run / "images" / tag).glob("*.png"))
        assert [f.name for f in files] == [f"{s:07d}.png" for s in steps], tag
        with Image.open(files[-1]) as im:
            assert im.mode == "RGB" and im.width > 64
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for tag in (FSDS_VAL, LAM_DI):
        assert sorted(int(r["step"]) for r in rows if r.get(tag)) == [3, 6], tag


def _check_wandb(logger: WandbLogger) -> None:
    import wandb

    from hyra_lightning.callbacks.sinks.wandb import curve_key
    from tests.callbacks.sinks.test_wandb import _history

    run_dir = Path(logger.experiment.dir).parent
    wandb.finish()
    wandb.teardown()
    rows = _history(run_dir)
    for tag, steps in EXPECTED.items():
        logged = [row for row in rows if f"{tag}/_type" in row]
        assert [row["trainer/global_step"] for row in logged] == steps, tag
        assert all(row[f"{tag}/captions"] for row in logged), tag  # every image has a caption
        (name,) = logged[-1][f"{tag}/filenames"]
        assert (run_dir / "files" / name).is_file()
    table = f"{curve_key(FSDS_CURVE)}_table"
    assert [row["trainer/global_step"] for row in rows if f"{table}/path" in row] == [3, 6]
    for tag in (FSDS_VAL, LAM_DI):
        assert [row["trainer/global_step"] for row in rows if tag in row] == [3, 6], tag


def _check_mlflow(logger: MLFlowLogger, uri: str) -> None:
    from mlflow import MlflowClient

    from tests.callbacks.sinks.test_mlflow import _artifacts

    client = MlflowClient(uri)
    pattern = re.compile(r"images/(?P<key>.+?)[+%]step[+%](?P<step>\d+)[+%].*(?<!compressed)\.png$")
    found: dict[str, list[int]] = {}
    for path in _artifacts(client, logger.run_id):
        match = pattern.match(path)
        if match:
            found.setdefault(re.sub("[~#]", "/", match["key"]), []).append(int(match["step"]))
    assert {tag: sorted(steps) for tag, steps in found.items()} == EXPECTED
    for tag in (FSDS_VAL, LAM_DI):
        assert [m.step for m in client.get_metric_history(logger.run_id, tag)] == [3, 6], tag


@pytest.fixture
def wandb_env(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    yield
    import wandb

    wandb.finish()


def _wandb_logger(tmp_path: Path) -> WandbLogger:
    return WandbLogger(save_dir=str(tmp_path), project="hyra-lightning-tests", offline=True)


def _mlflow_logger(tmp_path: Path) -> tuple[MLFlowLogger, str]:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    logger = MLFlowLogger(
        experiment_name="hyra-lightning-tests",
        tracking_uri=uri,
        artifact_location=(tmp_path / "art").as_uri(),
    )
    return logger, uri


# ------------------------------------------------------------------------------------------------ fits


def test_tensorboard(tmp_path):
    logger = TensorBoardLogger(str(tmp_path), name="tb", version=0)
    _fit(tmp_path, [logger])
    _check_tensorboard(logger)


def test_csv_logger(tmp_path):
    logger = CSVLogger(str(tmp_path), name="csv", version=0)
    _fit(tmp_path, [logger])
    _check_csv(logger)


@pytest.mark.requires("wandb")
def test_wandb(tmp_path, wandb_env):
    logger = _wandb_logger(tmp_path)
    _fit(tmp_path, [logger])
    _check_wandb(logger)


@pytest.mark.requires(*_MLFLOW)
def test_mlflow(tmp_path):
    logger, uri = _mlflow_logger(tmp_path)
    _fit(tmp_path, [logger])
    _check_mlflow(logger, uri)


@pytest.mark.requires("wandb", *_MLFLOW)
def test_all_loggers_at_once(tmp_path, wandb_env):
    tb = TensorBoardLogger(str(tmp_path), name="tb", version=0)
    csv_logger = CSVLogger(str(tmp_path), name="csv", version=0)
    mlflow_logger, uri = _mlflow_logger(tmp_path)
    wandb_logger = _wandb_logger(tmp_path)
    _fit(tmp_path, [tb, wandb_logger, mlflow_logger, csv_logger])
    _check_tensorboard(tb)
    _check_csv(csv_logger)
    _check_mlflow(mlflow_logger, uri)
    _check_wandb(wandb_logger)
