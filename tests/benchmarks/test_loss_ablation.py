"""The loss ablation script runs end to end as a smoke test: gradient norms, table, figure, TensorBoard runs."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_loss_ablation_smoke_run_writes_the_table_the_figure_and_one_run_per_arm(tmp_path):
    out = tmp_path / "ablation"
    cmd = [
        sys.executable, str(ROOT / "benchmarks" / "loss_ablation.py"),
        "--steps", "20", "--seeds", "1", "--arms", "l1,l1_fsds_0.05", "--out", str(out),
        "--", "--data.val_crops_per_image", "2",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "| fsds |" in done.stdout  # the gradient-norm table lists every term
    table = (out / "results.md").read_text()
    assert "| l1 |" in table and "| l1_fsds_0.05 |" in table and "ΔFSDS" in table and "hf_injection" in table
    assert (out / "loss_ablation.png").stat().st_size > 10_000
    results = json.loads((out / "results.json").read_text())
    assert {r["arm"] for r in results["runs"]} == {"l1", "l1_fsds_0.05"}
    assert all(r["steps"] == 20 for r in results["runs"])
    # FSDS on the training patches, whole and border-cropped, measured from each run's last checkpoint
    assert "| patch FSDS (dB) |" in table and "cropped patch FSDS" in table
    assert all(
        math.isfinite(r["patch_fsds"]) and math.isfinite(r["patch_fsds_cropped"]) for r in results["runs"]
    )
    assert results["bicubic"]["patch_fsds"] < results["bicubic"]["fsds"]  # small patches score lower
    for run in results["runs"]:  # the validation scores of every validation, from the run's events
        assert run["history"]["step"] == [20] and run["history"]["fsds"] == [
            pytest.approx(run["fsds"], abs=1e-4)
        ]
    for arm in ("l1", "l1_fsds_0.05"):  # one TensorBoard run per arm and seed under the output folder
        assert list((out / arm / "seed_0").glob("events.out.tfevents.*"))
    # A second call reads every finished run back instead of training it again (a killed ablation keeps its
    # finished runs), and writes the same numbers; a run with no stored row is trained again from a clean
    # TensorBoard folder.
    events = {
        arm: sorted((out / arm / "seed_0").glob("events.out.tfevents.*")) for arm in ("l1", "l1_fsds_0.05")
    }
    (out / "runs" / "l1_fsds_0.05_seed_0.json").unlink()  # as if killed before this run ended
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-4000:]
    assert again.stdout.count("read back") == 1 and "l1 seed 0" in again.stdout
    assert sorted((out / "l1" / "seed_0").glob("events.out.tfevents.*")) == events["l1"]
    assert len(list((out / "l1_fsds_0.05" / "seed_0").glob("events.out.tfevents.*"))) == 1
    rerun = json.loads((out / "results.json").read_text())
    assert rerun["runs"][0] == results["runs"][0]
