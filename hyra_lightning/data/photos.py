"""The real photographs shipped with the package (see ``data/photos/SOURCES.md`` for sources and licences)."""

from __future__ import annotations

from importlib import resources

import torch
from torch import Tensor

from hyra_lightning.checks import check_choice
from hyra_lightning.io import read_image
from hyra_lightning.options import COLOR_MODES, ColorMode

__all__ = ["PHOTO_NAMES", "load_photo", "load_photos", "photo_path"]

#: Names of the bundled photographs, in a fixed order (file names without extension).
PHOTO_NAMES: tuple[str, ...] = (
    "astronaut",
    "camera",
    "coffee",
    "chelsea",
    "rocket",
    "brick",
    "grass",
    "coins",
)

_FILES = {
    "astronaut": "astronaut.png",
    "camera": "camera.png",
    "coffee": "coffee.png",
    "chelsea": "chelsea.png",
    "rocket": "rocket.jpg",
    "brick": "brick.png",
    "grass": "grass.png",
    "coins": "coins.png",
}


def photo_path(name: str) -> str:
    """Filesystem path of the bundled photograph ``name`` (one of :data:`PHOTO_NAMES`)."""
    check_choice("name", name, PHOTO_NAMES)
    return str(resources.files("hyra_lightning.data").joinpath("photos", _FILES[name]))


def load_photo(name: str, mode: ColorMode = "RGB", dtype: torch.dtype = torch.float32) -> Tensor:
    """Load one bundled photograph as a ``C x H x W`` float tensor in [0, 1].

    Args:
        name: one of :data:`PHOTO_NAMES`.
        mode: ``"RGB"`` (3 channels; greyscale photographs get three identical channels) or ``"L"`` (1 channel,
            ITU-R 601 luma for colour photographs).
        dtype: floating dtype of the result.

    Example:
        >>> from hyra_lightning.data import load_photo
        >>> load_photo("astronaut").shape
        torch.Size([3, 512, 512])
    """
    check_choice("mode", mode, COLOR_MODES)
    if not dtype.is_floating_point:
        raise TypeError(f"Expected `dtype` to be a floating dtype, got {dtype}.")
    # the photographs are 8-bit files: recover their integer codes exactly, then divide in float64
    codes = (read_image(photo_path(name)).double() * 255.0).round_()
    if mode == "L":
        # ITU-R 601 luma with Pillow's integer rounding (``Image.convert("L")``)
        weights = torch.tensor([19595.0, 38470.0, 7471.0], dtype=torch.float64)
        codes = torch.floor((torch.einsum("chw,c->hw", codes, weights) + 32768.0) / 65536.0)[None]
    return (codes / 255.0).to(dtype)


def load_photos(
    names: list[str] | tuple[str, ...] | None = None,
    mode: ColorMode = "RGB",
    dtype: torch.dtype = torch.float32,
) -> dict[str, Tensor]:
    """Load several bundled photographs (all of them by default) as ``{name: C x H x W tensor in [0, 1]}``.

    The photographs have different sizes, so they are returned in a dict rather than stacked.

    Example:
        >>> from hyra_lightning.data import load_photos
        >>> photos = load_photos()
        >>> sorted(photos) == sorted(PHOTO_NAMES)
        True
        >>> min(min(p.shape[-2:]) for p in photos.values()) >= 256
        True
    """
    names = PHOTO_NAMES if names is None else tuple(names)
    return {n: load_photo(n, mode=mode, dtype=dtype) for n in names}
