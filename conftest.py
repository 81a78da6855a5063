"""Shared pytest configuration: the test suite under tests/ and the docstring examples in hyra_lightning/.

``python -m pytest -q`` collects both (``testpaths`` and ``--doctest-modules`` in pyproject.toml). Every test
and every docstring example runs with matplotlib's Agg backend and ``torch.manual_seed(0)``; modules whose
optional dependency is missing are not collected for their examples.
"""

from __future__ import annotations

import importlib.util
import os

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest
import torch

#: Modules that import an optional extra: their docstring examples are skipped when it is missing.
_OPTIONAL = {
    "hyra_lightning/callbacks/sinks/wandb.py": "wandb",
    "hyra_lightning/callbacks/sinks/mlflow.py": "mlflow",
}

collect_ignore = [path for path, package in _OPTIONAL.items() if importlib.util.find_spec(package) is None]


@pytest.fixture(autouse=True)
def _deterministic_seed():
    torch.manual_seed(0)
    yield


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace):
    """``torch`` is available in every docstring example, and figures are closed after each."""
    doctest_namespace["torch"] = torch
    yield
    if "matplotlib.pyplot" in __import__("sys").modules:
        import matplotlib.pyplot as plt

        plt.close("all")
