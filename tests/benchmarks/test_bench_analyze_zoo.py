"""The zoo benchmark of ``analyze`` runs end to end as a smoke test and prints its table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_analyze_zoo_quick_run_prints_seconds_per_model(tmp_path):
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_analyze_zoo.py"), "--quick", "--archs", "espcn"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    (row,) = [line for line in done.stdout.splitlines() if line.startswith("| espcn |")]
    one, per_model, resumed = (float(v) for v in row.strip("| ").split(" | ")[2:5])
    assert one > 0 and resumed > 0 and per_model == per_model  # a marginal cost: noisy at 2 models, not NaN
