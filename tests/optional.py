"""The optional packages that tests may use, and whether each can be imported here.

The README's environment (``pip install -e ".[test]"``) has none of them, so every test that needs one is
skipped there: mark it ``@pytest.mark.requires("wandb")`` (or set ``pytestmark`` for a module; the root
``conftest.py`` skips it, naming the install command, where a package is missing), or call
``pytest.importorskip("wandb")`` before importing it at module level. ``tests/test_optional_packages.py``
checks that every test importing one of them, or building a logger that needs one, is guarded.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util

#: Import name -> how to install it (extras of the package first).
OPTIONAL_PACKAGES: dict[str, str] = {
    "wandb": 'pip install "hyra-lightning[wandb]"',
    "mlflow": 'pip install "hyra-lightning[mlflow]"',
    "sqlalchemy": 'pip install "hyra-lightning[mlflow]"',  # MLflow's SQLite store
    "alembic": 'pip install "hyra-lightning[mlflow]"',
    "spandrel": 'pip install "hyra-lightning[zoo]", with a torchvision built for the installed torch',
    "torchvision": 'pip install "hyra-lightning[zoo]", with a torchvision built for the installed torch',
    "safetensors": 'pip install "hyra-lightning[zoo]", with a torchvision built for the installed torch',
    "playwright": "pip install playwright, with a Chromium on the PATH (Debian: apt-get install chromium)",
    "captum": "pip install captum",
    "focal_frequency_loss": "pip install focal-frequency-loss",
    "pyiqa": "pip install pyiqa",
}

#: Package modules that import an optional package when imported (none: the W&B and MLflow sinks import theirs
#: on first use): the root conftest skips their docstring examples where it is missing.
DOCTEST_MODULES_NEEDING: dict[str, str] = {}

#: Lightning loggers whose constructor raises without their package.
LOGGER_PACKAGES: dict[str, str] = {"WandbLogger": "wandb", "MLFlowLogger": "mlflow"}


@functools.cache
def available(name: str) -> bool:
    """Whether the optional package ``name`` imports here (found, and its import does not fail).

    Importing, not only finding, catches a torchvision built for another torch (``operator torchvision::nms
    does not exist``).
    """
    if name not in OPTIONAL_PACKAGES:
        raise ValueError(
            f"Expected `name` to be one of the optional packages {sorted(OPTIONAL_PACKAGES)}, got {name!r}:"
            " add it to OPTIONAL_PACKAGES in tests/optional.py."
        )
    try:
        if importlib.util.find_spec(name) is None:
            return False
        importlib.import_module(name)
    except Exception:  # ImportError, or a build that does not match the installed torch
        return False
    return True


def missing_reason(names: tuple[str, ...]) -> str | None:
    """The skip reason for a test that needs ``names``, or ``None`` when all of them import."""
    by_command: dict[str, list[str]] = {}
    for name in dict.fromkeys(names):
        if not available(name):
            by_command.setdefault(OPTIONAL_PACKAGES[name], []).append(name)
    if not by_command:
        return None
    return "needs " + "; ".join(f"{', '.join(found)} ({command})" for command, found in by_command.items())
