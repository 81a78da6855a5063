"""The FSDS benchmark's per-image loops compute FSDS (its ratios compare like with like)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from hyra_lightning.functional import fsds

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_fsds.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_fsds", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("shape", [(3, 3, 24, 20), (2, 1, 17, 16)], ids=["even", "odd height"])
def test_benchmark_loops_agree_with_fsds(shape):
    bench = _bench()
    gen = torch.Generator().manual_seed(0)
    target = torch.rand(shape, generator=gen, dtype=torch.float64)
    preds = target + 0.1 * torch.randn(shape, generator=gen, dtype=torch.float64)
    expected = fsds(preds, target, "none")
    torch.testing.assert_close(bench.plain_loop_fsds(preds, target), expected, rtol=0, atol=1e-9)
    assert bench.naive_fsds(preds, target) == pytest.approx(float(expected.mean()), abs=1e-9)
