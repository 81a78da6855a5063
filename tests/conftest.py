"""Fixtures shared across the test folders: one short real fit of the quickstart config (for the CLI,
dashboard and ``analyze`` tests), the in-process CLI runner, and a one-thread torch for tests of many small
transforms."""

from __future__ import annotations

import contextlib
import io
import pathlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "configs" / "quickstart.yaml"


def short_quickstart(save_dir: pathlib.Path) -> dict[str, Any]:
    """The quickstart config shrunk to a run of a few seconds, logging under ``save_dir``."""
    cfg = yaml.safe_load(QUICKSTART.read_text())
    trainer = cfg["trainer"]
    trainer.update(max_steps=8, val_check_interval=4, enable_progress_bar=False, log_every_n_steps=2)
    trainer["logger"]["init_args"]["save_dir"] = str(save_dir)
    for cb in trainer["callbacks"]:
        if cb["class_path"].endswith("ImpulseResponseMonitor"):
            cb["init_args"]["every_n_steps"] = 4
    model = cfg["model"]["model"]["init_args"]
    model.update(n_resblocks=1, n_feats=8)
    cfg["data"].update(
        batch_size=4, patch_size=24, val_crop_size=48, val_crops_per_image=2, train_samples_per_epoch=32
    )
    return cfg


@dataclass
class FitRun:
    logdir: pathlib.Path  # the TensorBoard run folder (.../quickstart/version_0)
    config: pathlib.Path
    stdout: str


def run_cli(args: list[str], capture: bool = True) -> str:
    """Run the ``hyra-lightning`` entry point in-process (as its console script would) and return its output."""
    import sys
    from unittest import mock

    from hyra_lightning.cli import main

    out = io.StringIO()
    with mock.patch.object(sys, "argv", ["hyra-lightning"]):
        if not capture:
            main(args)
            return ""
        with contextlib.redirect_stdout(out):
            main(args)
    return out.getvalue()


@pytest.fixture(scope="session")
def quickstart_run(tmp_path_factory: pytest.TempPathFactory) -> FitRun:
    root = tmp_path_factory.mktemp("cli_fit")
    config = root / "short.yaml"
    config.write_text(yaml.safe_dump(short_quickstart(root / "logs")))
    stdout = run_cli(["fit", "--config", str(config)])
    runs = sorted((root / "logs").glob("quickstart/version_*"))
    assert len(runs) == 1, runs
    return FitRun(logdir=runs[0], config=config, stdout=stdout)


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One torch thread for a module of many small transforms: with other processes busy on a 2-core runner,
    OpenMP barriers make every small op wait for a time slice. One thread keeps them fast and their timing
    predictable. Use with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
