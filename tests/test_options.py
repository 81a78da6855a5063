"""The option vocabularies: each Literal alias and its tuple of values agree, and are declared once."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

import pytest

import hyra_lightning
from hyra_lightning import options

PAIRS = [
    ("ProbeMode", "PROBE_MODES"),
    ("Boundary", "BOUNDARIES"),
    ("FSDSReference", "FSDS_REFERENCES"),
    ("Reduction", "REDUCTIONS"),
    ("Loss", "LOSSES"),
    ("LossTerm", "LOSS_TERMS"),
    ("FSDSLossForm", "FSDS_LOSS_FORMS"),
    ("LossReduction", "LOSS_REDUCTIONS"),
    ("Scheduler", "SCHEDULERS"),
    ("Activation", "ACTIVATIONS"),
    ("ColorMode", "COLOR_MODES"),
    ("ModelKind", "MODEL_KINDS"),
    ("ScoreProtocol", "SCORE_PROTOCOLS"),
    ("TableFormat", "TABLE_FORMATS"),
    ("YRounding", "Y_ROUNDINGS"),
    ("AttributionPath", "ATTRIBUTION_PATHS"),
    ("Weights", "WEIGHTS"),
]


@pytest.mark.parametrize(("alias", "values"), PAIRS)
def test_each_alias_has_its_tuple_of_values(alias, values):
    assert getattr(options, values) == get_args(getattr(options, alias))
    assert len(set(getattr(options, values))) == len(getattr(options, values))


def test_every_exported_vocabulary_is_tested():
    assert sorted(name for pair in PAIRS for name in pair) == sorted(options.__all__)


def _literal_value_sets() -> dict[frozenset[str], list[str]]:
    """Every string Literal[...] written in the package outside options.py, by its set of values."""
    found: dict[frozenset[str], list[str]] = {}
    root = Path(hyra_lightning.__file__).parent
    for path in sorted(root.rglob("*.py")):
        if path.name == "options.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Subscript)
                and isinstance(node.value, ast.Name)
                and node.value.id == "Literal"
            ):
                elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
                values = [e.value for e in elts if isinstance(e, ast.Constant)]
                if values and all(isinstance(v, str) for v in values):
                    found.setdefault(frozenset(values), []).append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_no_vocabulary_is_spelled_again_outside_options():
    declared = {frozenset(get_args(getattr(options, alias))) for alias, _ in PAIRS}
    respelled = {tuple(sorted(v)): where for v, where in _literal_value_sets().items() if v in declared}
    assert not {v: w for v, w in respelled.items() if w}, respelled
