"""The monitors' shared plumbing (batch.py, _base): batch reading, outputs, probe options, precision wrapper, argument checks."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
from torch import nn

from hyra_lightning.analysis import ProbeOptions
from hyra_lightning.batch import preds_target_from_outputs, split_batch
from hyra_lightning.callbacks._base import (
    PrecisionForward,
    detach_copy,
    discover_scale,
    probe_key,
    resolve_model,
    resolve_probe_options,
)
from tests.callbacks.helpers import SRModule

LR = torch.rand(2, 3, 8, 8)
HR = torch.rand(2, 3, 16, 16)


@pytest.mark.parametrize(
    ("batch", "has_hr"),
    [
        ({"lr": LR, "hr": HR}, True),
        ({"lr": LR}, False),
        ((LR, HR), True),
        ([LR, HR, torch.zeros(2)], True),
        ((LR,), False),
        (LR, False),
        ({"lr": LR, "hr": "not an image"}, False),
    ],
)
def test_split_batch_forms(batch, has_hr):
    lr, hr = split_batch(batch)
    assert lr is LR
    assert (hr is HR) if has_hr else (hr is None)


def test_split_batch_custom_keys():
    lr, hr = split_batch({"low": LR, "high": HR}, lr_key="low", hr_key="high")
    assert lr is LR and hr is HR


@pytest.mark.parametrize(
    ("batch", "match"),
    [
        ({"x": LR}, r"`lr_key`='lr'.*\['x'\]"),
        ((), "empty sequence"),
        (torch.rand(3, 8, 8), r"\(3, 8, 8\)"),
        (torch.zeros(2, 3, 8, 8, dtype=torch.uint8), r"floating"),
        ("text", "str"),
    ],
)
def test_split_batch_errors(batch, match):
    with pytest.raises(ValueError, match=match):
        split_batch(batch)


def test_preds_target_from_outputs():
    assert preds_target_from_outputs({"preds": HR, "target": HR})[0] is HR
    assert preds_target_from_outputs((HR, HR * 0.5))[0] is HR
    # not an (SR, HR) pair of image batches of one shape: (loss, sr), images of two sizes
    assert preds_target_from_outputs((torch.tensor(0.3), HR)) is None
    assert preds_target_from_outputs((HR, LR)) is None
    assert preds_target_from_outputs({"preds": HR, "target": LR}) is None
    assert preds_target_from_outputs(None) is None
    assert preds_target_from_outputs(torch.tensor(1.0)) is None
    assert preds_target_from_outputs({"loss": torch.tensor(1.0)}) is None
    assert preds_target_from_outputs((HR, LR, LR)) is None


def test_detach_copy_leaves_inference_mode():
    with torch.inference_mode():
        x = torch.rand(2, 3)
        y = detach_copy(x)
    assert x.is_inference() and not y.is_inference()
    assert torch.equal(y, x) and y.data_ptr() != x.data_ptr()
    y += 1  # in-place ops on an inference tensor outside inference mode would raise


def test_resolve_model_and_scale():
    module = SRModule()
    assert resolve_model(module, None) is module
    assert resolve_model(module, "net") is module.net
    assert discover_scale(module, module.net, None) == 2
    assert discover_scale(module, module.net, 3) == 3
    assert discover_scale(pl.LightningModule(), nn.Identity(), None) is None
    with pytest.raises(ValueError, match=r"`submodule`.*children: \['net'\].*'model'"):
        resolve_model(module, "model")


@pytest.mark.parametrize(
    ("precision", "dtype"),
    [("32-true", torch.float32), ("bf16-mixed", torch.bfloat16), ("64-true", torch.float64)],
)
def test_precision_forward_uses_trainer_context(precision, dtype):
    trainer = pl.Trainer(accelerator="cpu", devices=1, precision=precision, logger=False)
    conv = nn.Conv2d(3, 3, 1)
    if dtype == torch.float64:
        conv = conv.double()  # the 64-true plugin converts the module's weights when the fit starts
    wrapped = PrecisionForward(conv, trainer)
    assert list(wrapped.parameters()) == list(conv.parameters())
    assert wrapped(torch.rand(1, 3, 4, 4)).dtype == dtype


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"size": 32}, "`size`.*odd.*32"),
        ({"size": 1}, "`size`"),
        ({"size": 33.0}, "`size`"),
        ({"amplitude": 0.0}, "`amplitude`"),
        ({"amplitude": float("inf")}, "`amplitude`"),
        ({"background": float("nan")}, "`background`"),
        ({"baseline": 1}, "`baseline`"),
        ({"mode": "rgb"}, "`mode`.*'rgb'"),
        ({"scale": 0}, "`scale`"),
        ({"in_channels": True}, "`in_channels`"),
    ],
)
def test_probe_options_are_checked_by_the_analysis_layer(options, match):
    with pytest.raises(ValueError, match=match):
        ProbeOptions(**options)


def test_probe_options_resolve_the_scale_and_keep_their_checkpoint_key():
    module = SRModule()
    options = ProbeOptions(size=9)
    assert resolve_probe_options(options, module, module.net) == options.replace(scale=2)
    assert probe_key(options) == {
        "size": 9,
        "amplitude": 1.0,
        "background": 0.0,
        "baseline": True,
        "mode": "cross_channel",
        "scale": None,
        "in_channels": None,
    }
