"""The Examples in the docstrings are part of the documentation: keep them true."""

import doctest
import importlib

import pytest

MODULES = [
    "hyra_lightning.analysis.impulse",
    "hyra_lightning.analysis.hyra",
    "hyra_lightning.analysis.display",
    "hyra_lightning.analysis.figures",
    "hyra_lightning.analysis.precision",
    "hyra_lightning.models.reference",
    "hyra_lightning.spectral",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, extraglobs={"torch": importlib.import_module("torch")}, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0
