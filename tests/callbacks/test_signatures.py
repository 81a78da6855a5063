"""LightningCLI builds the monitors from their signatures: every argument typed, documented, parsable."""

from __future__ import annotations

import inspect

import pytest
from jsonargparse import ArgumentParser

from hyra_lightning import FrequencySimilarityMonitor, HyRAMonitor, ImpulseResponseMonitor
from hyra_lightning import callbacks as callbacks_package

MONITORS = (ImpulseResponseMonitor, HyRAMonitor, FrequencySimilarityMonitor)


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
    cfg = parser.parse_args(
        [
            "--impulse.every_n_steps=50",
            "--impulse.mode=paper",
            "--impulse.amplitude=0.02",
            "--hyra.boundary=reflect",
            "--fsds.reference=preds",
            "--fsds.scale=4",
        ]
    )
    instantiate = getattr(parser, "instantiate", None) or parser.instantiate_classes
    built = instantiate(cfg)
    assert built.impulse.every_n_steps == 50 and built.impulse.probe_options.mode == "paper"
    assert built.impulse.probe_options.amplitude == 0.02
    assert built.hyra.boundary == "reflect" and built.fsds.reference == "preds" and built.fsds.scale == 4
    assert built.fsds.compare_bicubic and built.fsds.log_band_map
    with pytest.raises(Exception, match="mode"):
        parser.parse_args(["--impulse.mode=rgb"])
