"""The option vocabularies: each Literal alias and its tuple of values agree, and are declared once."""

from __future__ import annotations

from typing import get_args

import pytest

from hyra_lightning import options

PAIRS = [
    ("ProbeMode", "PROBE_MODES"),
    ("Boundary", "BOUNDARIES"),
    ("FSDSReference", "FSDS_REFERENCES"),
    ("Reduction", "REDUCTIONS"),
    ("Loss", "LOSSES"),
    ("Scheduler", "SCHEDULERS"),
    ("Activation", "ACTIVATIONS"),
    ("ColorMode", "COLOR_MODES"),
    ("ModelKind", "MODEL_KINDS"),
    ("ScoreProtocol", "SCORE_PROTOCOLS"),
    ("TableFormat", "TABLE_FORMATS"),
]


@pytest.mark.parametrize(("alias", "values"), PAIRS)
def test_each_alias_has_its_tuple_of_values(alias, values):
    assert getattr(options, values) == get_args(getattr(options, alias))
    assert len(set(getattr(options, values))) == len(getattr(options, values))


def test_every_exported_vocabulary_is_tested():
    assert sorted(name for pair in PAIRS for name in pair) == sorted(options.__all__)
