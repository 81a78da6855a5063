"""The ``hyra-lightning`` LightningCLI: config round trip, a short fit, validate from its checkpoint, bad YAML."""

from __future__ import annotations

import contextlib
import io
import math
import re

import pytest
import yaml

from tests.conftest import QUICKSTART, run_cli, short_quickstart

pytestmark = pytest.mark.slow


def _print_config(args: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exc:
        run_cli([*args, "--print_config"], capture=False)
    assert exc.value.code in (0, None)
    return out.getvalue()


def test_print_config_round_trip(tmp_path):
    first = _print_config(["fit", "--config", str(QUICKSTART)])
    cfg = yaml.safe_load(first)
    assert cfg["model"]["model"]["class_path"] == "hyra_lightning.models.EDSR"
    assert cfg["data"]["scale"] == 2
    assert "scale" not in cfg["model"]  # linked from data.scale, so not a setting of its own
    callbacks = [cb["class_path"] for cb in cfg["trainer"]["callbacks"]]
    for name in ("ImpulseResponseMonitor", "HyRAMonitor", "FrequencySimilarityMonitor"):
        assert any(path.endswith(name) for path in callbacks), name
    dumped = tmp_path / "dumped.yaml"
    dumped.write_text(first)
    assert _print_config(["fit", "--config", str(dumped)]) == first


def test_short_fit_prints_summary_and_validate_from_checkpoint(quickstart_run):
    out = quickstart_run.stdout
    assert "hyra-lightning summary (x2, 8 optimizer steps)" in out
    for key in ("PSNR", "SSIM", "FSDS", "dc_gain", "cutoff", "sinc_similarity", "hf_injection"):
        assert key in out, key
    psnr = re.search(r"PSNR\s+(\S+)\s+(\S+)", out)
    assert psnr and all(math.isfinite(float(v)) for v in psnr.groups())
    assert f"tensorboard --logdir {quickstart_run.logdir}" in out or "tensorboard --logdir" in out

    ckpt = quickstart_run.logdir / "checkpoints" / "last.ckpt"
    assert ckpt.is_file()
    out = run_cli(["validate", "--config", str(quickstart_run.config), f"--ckpt_path={ckpt}"])
    assert "val/psnr" in out and "val/fsds" in out


def test_summary_says_when_the_impulse_descriptors_do_not_describe_a_filter():
    """A network that injects noise at evaluation: the summary prints the reading errors, says that the
    descriptors do not describe a filter, and gives the remedy."""
    import torch
    from lightning.pytorch import Trainer

    from hyra_lightning import SuperResolutionModule
    from hyra_lightning.cli import fit_summary
    from hyra_lightning.data import SRDataModule
    from tests.analysis._models import NoisySR

    torch.manual_seed(0)
    datamodule = SRDataModule(scale=2, val_crop_size=32, val_crops_per_image=1, batch_size=2)
    datamodule.setup("fit")
    trainer = Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, accelerator="cpu")
    for sigma, filter_reading in ((0.05, False), (0.0, True)):
        module = SuperResolutionModule(NoisySR(sigma=sigma), scale=2)
        out = fit_summary(trainer, module, datamodule, start_step=None)
        assert re.search(r"linearity_error\s+\S+", out) and re.search(r"repeatability_error\s+\S+", out)
        said = "WARNING: the impulse descriptors do not describe a filter" in out
        assert said is not filter_reading, out
        if not filter_reading:
            assert "eval()" in " ".join(out.split()), out


def test_misconfigured_yaml_gives_a_readable_error(tmp_path, capsys):
    cfg = short_quickstart(tmp_path / "logs")
    cfg["model"]["model"]["init_args"]["n_resblock"] = 4  # typo of n_resblocks
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    with pytest.raises(SystemExit) as exc:
        run_cli(["fit", "--config", str(bad)])
    assert exc.value.code != 0
    err = capsys.readouterr().err
    assert "n_resblock" in err


def test_scale_mismatch_between_data_and_model_is_reported(tmp_path):
    cfg = short_quickstart(tmp_path / "logs")
    cfg["data"]["scale"] = 3  # the EDSR in the config is x2
    bad = tmp_path / "mismatch.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    with pytest.raises((ValueError, SystemExit), match=r"scale") as exc:
        run_cli(["fit", "--config", str(bad)])
    assert exc is not None


@pytest.mark.parametrize("config", sorted((QUICKSTART.parent).glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_parses(config):
    cfg = yaml.safe_load(_print_config(["fit", "--config", str(config)]))
    callbacks = [cb["class_path"] for cb in cfg["trainer"]["callbacks"]]
    monitors = {"ImpulseResponseMonitor", "HyRAMonitor", "FrequencySimilarityMonitor"}
    # older jsonargparse releases print the shortest import path (hyra_lightning.HyRAMonitor)
    assert sum(p.startswith("hyra_lightning.") and p.rsplit(".", 1)[-1] in monitors for p in callbacks) == 3
    assert cfg["model"]["model"]["init_args"]["scale"] == cfg["data"]["scale"]
