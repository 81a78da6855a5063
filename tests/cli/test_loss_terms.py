"""The combined loss on the command line: the mapping syntax, the ablation arms over the quickstart, and the
DIV2K recipe with an FSDS term."""

from __future__ import annotations

import contextlib
import io

import pytest
import yaml

from tests.conftest import QUICKSTART, run_cli

pytestmark = pytest.mark.slow

CONFIGS = QUICKSTART.parent
ARMS = sorted((CONFIGS / "losses").glob("*.yaml"))


def _print_config(args: list[str]) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exc:
        run_cli([*args, "--print_config"], capture=False)
    assert exc.value.code in (0, None)
    return yaml.safe_load(out.getvalue())


def test_the_loss_mapping_parses_on_the_command_line():
    cfg = _print_config(["fit", "--config", str(QUICKSTART), "--model.loss", "{l1: 1.0, fsds: 0.05}"])
    assert cfg["model"]["loss"] == {"l1": 1.0, "fsds": 0.05}
    cfg = _print_config(["fit", "--config", str(QUICKSTART), "--model.loss", "l2"])
    assert cfg["model"]["loss"] == "l2"


def test_an_unknown_term_is_an_error_naming_the_known_terms():
    with pytest.raises(ValueError, match="focal_frequency"):
        run_cli(["fit", "--config", str(QUICKSTART), "--model.loss", "{l1: 1.0, fsd: 0.05}"])


def test_there_is_an_arm_per_ablation_condition():
    assert {p.stem for p in ARMS} >= {"l1", "l1_fft_l1", "l1_focal_frequency", "fsds_only"}
    assert sum(p.stem.startswith("l1_fsds_") for p in ARMS) == 2


@pytest.mark.parametrize("arm", ARMS, ids=lambda p: p.stem)
def test_every_arm_parses_over_the_quickstart(arm):
    cfg = _print_config(["fit", "--config", str(QUICKSTART), "--config", str(arm)])
    overlay = yaml.safe_load(arm.read_text())
    assert cfg["model"]["loss"] == overlay["model"]["loss"]
    assert cfg["trainer"]["logger"]["init_args"]["name"] == f"losses/{arm.stem}"
    # the rest of the recipe is the quickstart's
    base = _print_config(["fit", "--config", str(QUICKSTART)])
    assert cfg["model"]["model"] == base["model"]["model"] and cfg["data"] == base["data"]
    assert cfg["trainer"]["max_steps"] == overlay.get("trainer", {}).get(
        "max_steps", base["trainer"]["max_steps"]
    )


def test_the_div2k_fsds_recipe_differs_from_the_div2k_recipe_only_in_the_loss():
    base = yaml.safe_load((CONFIGS / "edsr_baseline_x4_div2k.yaml").read_text())
    fsds = yaml.safe_load((CONFIGS / "edsr_baseline_x4_div2k_fsds.yaml").read_text())
    assert fsds["model"].pop("loss") == {"l1": 1.0, "fsds": 0.05}
    assert base["model"].pop("loss") == "l1"
    assert fsds["trainer"]["logger"]["init_args"].pop("name") == "edsr_baseline_x4_div2k_fsds"
    base["trainer"]["logger"]["init_args"].pop("name")
    assert fsds == base
