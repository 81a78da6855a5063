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
