"""Data: the bundled photographs and the SR data module.

The data module and its datasets import Lightning, so they are loaded on first access: loading the
bundled photographs stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from hyra_lightning.data.photos import PHOTO_NAMES, load_photo, load_photos, photo_path

_LAZY = {
    "SRDataModule": "hyra_lightning.data.datamodule",
    "SRPatchDataset": "hyra_lightning.data.datamodule",
    "SRCropDataset": "hyra_lightning.data.datamodule",
    "EpochSampler": "hyra_lightning.data.datamodule",
    "UnpaddedDistributedSampler": "hyra_lightning.data.datamodule",
    "bicubic_downsample": "hyra_lightning.data.datamodule",
}

__all__ = ["PHOTO_NAMES", "load_photo", "load_photos", "photo_path", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hyra_lightning.data' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
