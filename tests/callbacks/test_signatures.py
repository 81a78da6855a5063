"""LightningCLI builds the monitors from their signatures: every argument typed, documented, parsable."""

from __future__ import annotations

import inspect

import pytest
from jsonargparse import ArgumentParser

from hyra_lightning import (
    FrequencySimilarityMonitor,
    HyRAMonitor,
    ImpulseResponseMonitor,
    LocalAttributionMonitor,
)
from hyra_lightning import callbacks as callbacks_package

MONITORS = (ImpulseResponseMonitor, HyRAMonitor, FrequencySimilarityMonitor, LocalAttributionMonitor)


def test_public_names():
    assert set(callbacks_package.__all__) == {m.__name__ for m in MONITORS} | {"log_fsds"}
    for monitor in MONITORS:
        assert getattr(callbacks_package, monitor.__name__) is monitor


@pytest.mark.parametrize("monitor", MONITORS)
def test_every_argument_is_typed_and_documented(monitor):
    doc = inspect.getdoc(monitor)
    args_section = doc.split("Args:", 1)[1]
    for name, parameter in inspect.signature(monitor.__init__).parameters.items():
        if name == "self":
            continue
        assert parameter.annotation is not inspect.Parameter.empty, name
        assert f"\n    {name}:" in args_section, name


def test_parsed_by_jsonargparse():
    parser = ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(ImpulseResponseMonitor, "impulse")
    parser.add_class_arguments(HyRAMonitor, "hyra")
    parser.add_class_arguments(FrequencySimilarityMonitor, "fsds")
    parser.add_class_arguments(LocalAttributionMonitor, "lam")
    cfg = parser.parse_args(
        [
            "--impulse.every_n_steps=50",
            "--impulse.mode=paper",
            "--impulse.amplitude=0.02",
            "--impulse.weights=both",
            "--hyra.weights=live",
            "--hyra.boundary=reflect",
            "--fsds.reference=preds",
            "--fsds.scale=4",
            "--lam.every_n_validations=5",
            "--lam.box=[32, 48]",
            "--lam.path=linear",
            "--lam.sigma_max=2.0",
        ]
    )
    instantiate = getattr(parser, "instantiate", None) or parser.instantiate_classes
    built = instantiate(cfg)
    assert built.impulse.every_n_steps == 50 and built.impulse.probe_options.mode == "paper"
    assert built.impulse.probe_options.amplitude == 0.02
    assert built.impulse.weights == "both" and built.hyra.weights == "live"
    assert built.hyra.boundary == "reflect" and built.fsds.reference == "preds" and built.fsds.scale == 4
    assert built.fsds.compare_bicubic and built.fsds.log_band_map
    assert built.lam.every_n_validations == 5 and built.lam.box == (32, 48) and built.lam.path == "linear"
    assert built.lam.sigma_max == 2.0 and built.lam.window == 16 and built.lam.steps == 50
    with pytest.raises(Exception, match="mode"):
        parser.parse_args(["--impulse.mode=rgb"])
    with pytest.raises(Exception, match="weights"):
        parser.parse_args(["--impulse.weights=ema"])
    with pytest.raises(Exception, match="path"):
        parser.parse_args(["--lam.path=straight"])
