"""hyra-lightning: watch a super-resolution network become a low-pass filter while it trains.

The public names below are imported lazily, so ``import hyra_lightning`` stays cheap and a notebook that
only needs the FSDS functional does not pay for Lightning.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    # metrics
    "FSDS": "hyra_lightning.metrics",
    "FrequencySpectrumDistributionSimilarity": "hyra_lightning.metrics",
    # analysis
    "impulse_response": "hyra_lightning.analysis",
    "hyra_decompose": "hyra_lightning.analysis",
    "ImpulseResponse": "hyra_lightning.analysis",
    "ImpulseDescriptors": "hyra_lightning.analysis",
    "ProbeOptions": "hyra_lightning.analysis",
    "HyRAResult": "hyra_lightning.analysis",
    "local_attribution": "hyra_lightning.analysis",
    "LocalAttribution": "hyra_lightning.analysis",
    # callbacks
    "ImpulseResponseMonitor": "hyra_lightning.callbacks",
    "HyRAMonitor": "hyra_lightning.callbacks",
    "FrequencySimilarityMonitor": "hyra_lightning.callbacks",
    "LocalAttributionMonitor": "hyra_lightning.callbacks",
    # app
    "SuperResolutionModule": "hyra_lightning.module",
    "SRDataModule": "hyra_lightning.data",
    # data
    "load_photo": "hyra_lightning.data",
    "load_photos": "hyra_lightning.data",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hyra_lightning' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
