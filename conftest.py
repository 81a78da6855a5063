"""Shared pytest configuration: the test suite under tests/ and the docstring examples in hyra_lightning/.

``python -m pytest -q`` collects both (``testpaths`` and ``--doctest-modules`` in pyproject.toml). Every test
and every docstring example runs with matplotlib's Agg backend and ``torch.manual_seed(0)``; modules whose
optional dependency is missing are not collected for their examples, and tests marked
``@pytest.mark.requires("pkg")`` are skipped where ``pkg`` does not import (tests/optional.py lists the optional
packages).
"""

from __future__ import annotations

import importlib.util
import os

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest
import torch

from tests.optional import DOCTEST_MODULES_NEEDING, missing_reason


def _missing(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is None
    except (ImportError, ValueError):
        return True


collect_ignore = [path for path, package in DOCTEST_MODULES_NEEDING.items() if _missing(package)]


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip a test marked ``@pytest.mark.requires("pkg", ...)`` where one of the packages does not import."""
    names = tuple(name for mark in item.iter_markers("requires") for name in mark.args)
    reason = missing_reason(names) if names else None
    if reason is not None:
        pytest.skip(reason)


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
