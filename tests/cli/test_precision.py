"""The post-fit summary works, and measures in full precision, whatever the trainer's precision."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.conftest import run_cli, short_quickstart


def _dc_gain(out: str) -> float:
    return float(re.search(r"dc_gain\s+(-?[0-9.]+)", out).group(1))


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["bf16-true", "bf16-mixed"])
def test_fit_summary_under_reduced_precision(tmp_path, precision):
    cfg = short_quickstart(tmp_path / "logs")
    cfg["trainer"]["precision"] = precision
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(cfg))
    out = run_cli(["fit", "--config", str(config)])
    assert "hyra-lightning summary (x2, 8 optimizer steps)" in out
    assert re.search(r"PSNR\s+[0-9.]+", out)
    assert -2.0 < _dc_gain(out) < 2.0
