"""The examples in examples/ run as documented and write what they promise."""

from __future__ import annotations

import pathlib
import runpy

import numpy as np
import pytest
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _example(name: str) -> dict:
    return runpy.run_path(str(ROOT / "examples" / name), run_name="example")


def test_fsds_on_bundled_photographs(tmp_path, capsys):
    out = tmp_path / "curve.png"
    _example("fsds_on_images.py")["main"](["--out", str(out), "--bands", "8"])
    text = capsys.readouterr().out
    assert "mean FSDS" in text and text.count("FSDS(bicubic x2") == 2
    assert Image.open(out).size[0] > 200


def test_fsds_on_image_files(tmp_path, capsys):
    from hyra_lightning.data import load_photo

    hr = (load_photo("coffee")[:, :96, :128].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    sr = np.clip(hr.astype(int) + 3, 0, 255).astype(np.uint8)
    Image.fromarray(hr).save(tmp_path / "hr.png")
    Image.fromarray(sr).save(tmp_path / "sr.png")
    _example("fsds_on_images.py")["main"](
        [str(tmp_path / "sr.png"), str(tmp_path / "hr.png"), "--out", str(tmp_path / "c.png")]
    )
    assert "FSDS(sr.png" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        _example("fsds_on_images.py")["main"]([str(tmp_path / "sr.png")])  # HR missing


def test_analyze_model_writes_a_panel(tmp_path, capsys):
    out = tmp_path / "analysis.png"
    _example("analyze_model.py")["main"](["--out", str(out), "--n-resblocks", "1", "--n-feats", "8"])
    text = capsys.readouterr().out
    for name in ("bicubic", "sinc", "edsr"):
        assert f"\n{name}" in "\n" + text
    assert Image.open(out).mode == "RGB"


@pytest.mark.slow
def test_attach_callbacks_example_logs_every_family(tmp_path, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.chdir(tmp_path)
    _example("attach_callbacks.py")["main"]()
    (run,) = (tmp_path / "lightning_logs" / "attach_callbacks").iterdir()
    acc = EventAccumulator(str(run), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    scalars = set(acc.Tags()["scalars"])
    assert {"impulse/dc_gain", "hyra/hf_injection", "fsds/val"} <= scalars
    assert {"impulse/response", "hyra/sample_0", "fsds/curve"} <= set(acc.Tags()["images"])


def test_examples_write_under_an_ignored_output_folder(tmp_path, monkeypatch, capsys):
    import subprocess

    monkeypatch.chdir(tmp_path)
    _example("fsds_on_images.py")["main"](["--bands", "4"])
    _example("analyze_model.py")["main"](["--n-resblocks", "1", "--n-feats", "8"])
    capsys.readouterr()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outputs"]  # nothing in the working folder itself
    written = sorted(p.name for p in (tmp_path / "outputs").iterdir())
    assert written == ["analysis.png", "fsds_curve.png"]
    for name in written:  # run from the repository root, they are ignored by git
        ignored = subprocess.run(["git", "check-ignore", "-q", f"outputs/{name}"], cwd=ROOT, check=False)
        assert ignored.returncode == 0, name


@pytest.mark.slow
def test_gan_example_monitors_the_generator_only(tmp_path, monkeypatch, capsys):
    from tests.callbacks.helpers import image_steps, read_events, scalar_steps

    example = _example("gan_training.py")
    discriminator = example["PatchDiscriminator"]
    calls: list[bool] = []
    forward = discriminator.forward

    def counted(self, x):
        calls.append(self.training)
        return forward(self, x)

    monkeypatch.setattr(discriminator, "forward", counted)
    args = ["--max-steps", "8", "--every-n-steps", "4", "--val-every-n-batches", "2", "--n-resblocks", "1"]
    args += ["--n-feats", "8", "--patch-size", "12", "--batch-size", "2", "--log-dir", str(tmp_path)]
    trainer = example["main"](args)
    assert "done: tensorboard" in capsys.readouterr().out
    assert trainer.global_step == 8  # two optimizer steps per batch, 4 batches
    assert calls == [True] * 3 * 4  # three discriminator passes per training batch, none by the monitors
    events = read_events(trainer.logger.log_dir)
    assert scalar_steps(events, "impulse/dc_gain") == [0, 4, 8]  # every_n_steps counts optimizer steps
    assert image_steps(events, "impulse/response") == [0, 4, 8]
    assert scalar_steps(events, "hyra/hf_injection") == [4, 8]  # validation every 2 batches
    assert image_steps(events, "hyra/sample_0") == [4, 8]
    assert scalar_steps(events, "fsds/val") == [4, 8]
