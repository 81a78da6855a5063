"""The quickstart under every multi-process strategy Lightning offers on CPU: it trains with the monitors and the
summary tells the truth (the steps trained, the run's own log folder, the trained network's descriptors)."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from lightning.pytorch.cli import LightningArgumentParser
from lightning.pytorch.strategies import FSDPStrategy

from hyra_lightning.cli import _FitSummary, _offer_sr_networks
from hyra_lightning.module import SuperResolutionModule
from tests.callbacks.helpers import read_events
from tests.conftest import ROOT, short_quickstart

FORK = "fork" in multiprocessing.get_all_start_methods()
STRATEGIES = [
    "ddp",
    "ddp_spawn",
    pytest.param("ddp_fork", marks=pytest.mark.skipif(not FORK, reason="no fork")),
]


def test_parser_with_the_networks_help_pickles():
    """Spawned workers unpickle the trainer, whose config-saving callback holds the parser."""
    parser = LightningArgumentParser()
    parser.add_lightning_class_args(SuperResolutionModule, "model", subclass_mode=False)
    _offer_sr_networks(parser)
    copy = pickle.loads(pickle.dumps(parser))
    action = next(a for a in copy._actions if a.dest == "model.model")
    assert "SR networks: hyra_lightning.models.EDSR" in action.extra_help()


def test_summary_under_a_sharding_strategy_says_why_it_is_skipped(capsys):
    """Rank zero holds a shard of the weights: no probe, no evaluation, a note instead."""
    trainer = SimpleNamespace(
        is_global_zero=True, interrupted=False, global_step=12, strategy=FSDPStrategy.__new__(FSDPStrategy)
    )
    _FitSummary().on_fit_end(trainer, pl_module=None)
    out = capsys.readouterr().out
    assert "no summary under FSDPStrategy" in out and "step 12" in out
    assert "hyra-lightning summary" not in out


@pytest.mark.slow
@pytest.mark.ddp
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_quickstart_on_two_processes_prints_a_true_summary(tmp_path: Path, strategy: str) -> None:
    cfg = short_quickstart(tmp_path / "logs")
    cfg["trainer"].update(accelerator="cpu", devices=2, strategy=strategy)
    config = tmp_path / "fit.yaml"
    config.write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "hyra_lightning.cli", "fit", "--config", str(config)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    # One summary (global rank zero only), with the steps the workers trained.
    assert out.count("hyra-lightning summary") == 1, out
    assert "hyra-lightning summary (x2, 8 optimizer steps)" in out
    assert "trained no step" not in out
    # The folder it names is the one the run wrote, and the only one.
    runs = sorted((tmp_path / "logs" / "quickstart").glob("version_*"))
    assert [r.name for r in runs] == ["version_0"]
    assert f"tensorboard --logdir {Path('logs') / 'quickstart' / 'version_0'}" in out
    events = read_events(runs[0])
    # The monitors ran: probes at start, every 4 steps and at the end; FSDS and HyRA at both validations.
    steps = [e.step for e in events.Scalars("impulse/dc_gain")]
    assert steps[0] == 0 and steps[-1] == 8 and 4 in steps
    assert [e.step for e in events.Scalars("fsds/val")] == [4, 8]
    assert events.Images("hyra/sample_0")
    # The descriptors printed are those of the trained network: the fit-end probe logged at step 8.
    printed = float(re.search(r"dc_gain\s+(-?\d+\.\d+)", out).group(1))
    assert printed == pytest.approx(events.Scalars("impulse/dc_gain")[-1].value, abs=1e-3)
