"""`hyra-lightning fit` takes W&B, MLflow, CSV and TensorBoard loggers from YAML, several at once."""

from __future__ import annotations

import pytest
import yaml
from lightning.pytorch.loggers import CSVLogger, MLFlowLogger, TensorBoardLogger, WandbLogger

from hyra_lightning.callbacks.sinks import ImageFileSink, TensorBoardSink, sinks_for
from tests.conftest import short_quickstart


def _loggers_yaml(tmp_path) -> list[dict]:
    return [
        {
            "class_path": "lightning.pytorch.loggers.TensorBoardLogger",
            "init_args": {"save_dir": str(tmp_path)},
        },
        {
            "class_path": "lightning.pytorch.loggers.WandbLogger",
            "init_args": {"project": "sr", "offline": True, "save_dir": str(tmp_path)},
        },
        {
            "class_path": "lightning.pytorch.loggers.MLFlowLogger",
            "init_args": {"experiment_name": "sr", "tracking_uri": f"sqlite:///{tmp_path / 'mlruns.db'}"},
        },
        {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": str(tmp_path)}},
    ]


@pytest.mark.requires("wandb", "mlflow", "sqlalchemy", "alembic")
def test_fit_config_accepts_every_logger_family(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    from hyra_lightning.cli import HyRALightningCLI
    from hyra_lightning.data import SRDataModule
    from hyra_lightning.module import SuperResolutionModule

    cfg = short_quickstart(tmp_path)
    cfg["trainer"]["logger"] = _loggers_yaml(tmp_path)
    path = tmp_path / "loggers.yaml"
    path.write_text(yaml.safe_dump(cfg))
    cli = HyRALightningCLI(
        SuperResolutionModule,
        SRDataModule,
        subclass_mode_model=False,
        subclass_mode_data=False,
        auto_configure_optimizers=False,
        run=False,
        args=["--config", str(path)],
    )
    loggers = cli.trainer.loggers
    assert [type(logger) for logger in loggers] == [TensorBoardLogger, WandbLogger, MLFlowLogger, CSVLogger]
    assert loggers[2]._tracking_uri.startswith("sqlite:///")
    sinks = [type(sink).__name__ for sink in sinks_for(loggers, default_root=tmp_path)]
    assert sinks[0] == TensorBoardSink.__name__ and sinks[3] == ImageFileSink.__name__
    assert sinks[1:3] == ["WandbSink", "MLflowSink"]
