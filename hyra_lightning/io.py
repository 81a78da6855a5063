"""The one image reader of the package: every common file read at its real bit depth.

:func:`read_image` returns a ``3 x H x W`` float32 tensor with values in [0, 1], whatever the file holds:

- 8-bit files (grey, grey + alpha, RGB, RGBA, palette, CMYK, bilevel) are divided by 255;
- 16-bit files (grey, grey + alpha, RGB, RGBA; PNG or TIFF) are divided by 65535 and keep all 16 bits
  (Pillow alone decodes 16-bit colour files to 8 bits; this reader recovers the low bytes from the same
  decoder, so no other dependency is needed);
- float TIFFs (32-bit, one channel) are taken as they are when every value lies in [0, 1], and rejected
  otherwise with an error that names the file and its value range;
- grey images get three identical channels; CMYK and other colour spaces are converted to RGB by Pillow;
- an alpha channel (or a palette/colour-key transparency) is dropped, with one warning per folder.

Unreadable files, 32-bit integer images and float images outside [0, 1] raise a ``ValueError`` that names
the file. :data:`IMAGE_SUFFIXES` lists the suffixes :func:`list_images` picks up in a folder.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

__all__ = ["IMAGE_SUFFIXES", "image_size", "list_images", "read_image"]

#: File suffixes read as images by :func:`list_images` (compared case-insensitively).
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")

# 8-bit modes Pillow converts to RGB itself; those with an alpha band are listed in _ALPHA_MODES.
_GREY_MODES = ("1", "L", "LA", "La")
_ALPHA_MODES = ("LA", "La", "PA", "RGBA", "RGBa")
# 16-bit grey modes as Pillow names them across versions.
_GREY16_MODES = ("I;16", "I;16B", "I;16L", "I;16N")

_alpha_lock = threading.Lock()
_alpha_warned_folders: set[str] = set()


def list_images(folder: str | os.PathLike) -> list[Path]:
    """The image files directly inside ``folder``, sorted by name.

    A file counts as an image when its suffix is one of :data:`IMAGE_SUFFIXES` (any case). Hidden files
    (names starting with a dot, such as the ``._name.png`` files macOS leaves behind) and sub-folders are
    skipped.

    Args:
        folder: the folder to list.

    Returns:
        The sorted paths; empty when the folder holds no image.

    Raises:
        FileNotFoundError: ``folder`` is not an existing folder.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     for name in ("b.PNG", "a.tif", "notes.txt"):
        ...         _ = (Path(d) / name).write_bytes(b"")
        ...     [p.name for p in list_images(d)]
        ['a.tif', 'b.PNG']
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"Expected `folder` to be an existing folder, got {str(folder)!r}.")
    return sorted(
        p
        for p in root.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()
    )


def read_image(path: str | os.PathLike) -> Tensor:
    """Read an image file as a ``3 x H x W`` float32 tensor in [0, 1], at its full bit depth.

    See the module docstring for the files understood. 16-bit samples are divided by 65535, 8-bit samples
    by 255; float images are returned as stored.

    Args:
        path: the image file.

    Returns:
        A contiguous float32 tensor of shape ``(3, H, W)`` with values in [0, 1].

    Raises:
        ValueError: the file cannot be decoded, holds 32-bit integers, or holds floats outside [0, 1]
            (or not finite); the message names the file.

    Example:
        >>> import tempfile
        >>> import numpy as np
        >>> from PIL import Image
        >>> with tempfile.TemporaryDirectory() as d:
        ...     ramp = np.arange(0, 65536, 257, dtype=np.uint16).reshape(16, 16)
        ...     Image.fromarray(ramp).save(f"{d}/ramp.png")
        ...     image = read_image(f"{d}/ramp.png")
        >>> image.shape, image.dtype, float(image.max())
        (torch.Size([3, 16, 16]), torch.float32, 1.0)
    """
    name = os.fspath(path)
    try:
        with Image.open(name) as im:
            arr, has_alpha = _decode(im, name)
    except (OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError) as err:
        if isinstance(err, ValueError) and str(err).startswith(_OWN_ERROR):
            raise
        raise ValueError(f"{_OWN_ERROR} {name!r}: {err}") from err
    if has_alpha:
        _warn_alpha(name)
    if arr.ndim == 2:
        arr = np.broadcast_to(arr[None], (3, *arr.shape))
    else:
        arr = arr.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))


_OWN_ERROR = "Could not read image file"


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(height, width)`` of an image file, read from its header only (the pixels are not decoded).

    Raises:
        ValueError: the file cannot be opened as an image; the message names the file, as :func:`read_image`.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> with tempfile.TemporaryDirectory() as d:
        ...     Image.new("RGB", (40, 30)).save(f"{d}/a.png")
        ...     image_size(f"{d}/a.png")
        (30, 40)
    """
    name = os.fspath(path)
    try:
        with Image.open(name) as im:
            width, height = im.size
    except (OSError, SyntaxError, ValueError) as err:
        raise ValueError(f"{_OWN_ERROR} {name!r}: {err}") from err
    return height, width


def _decode(im: Image.Image, name: str) -> tuple[np.ndarray, bool]:
    """``(H x W or H x W x 3 float32 array in [0, 1], whether an alpha channel was dropped)``."""
    mode = im.mode
    rawmode = _rawmode(im)
    has_alpha = mode in _ALPHA_MODES or "transparency" in im.info
    if mode in _GREY16_MODES or (mode == "I" and rawmode.startswith("I;16")):
        return np.asarray(im).astype(np.float32) / np.float32(65535.0), has_alpha
    if mode == "I":
        raise ValueError(
            f"{_OWN_ERROR} {name!r}: 32-bit integer images are not supported. Save it with 8 or 16 bits per "
            "sample, or as a float image with values in [0, 1]."
        )
    if mode == "F":
        arr = np.asarray(im, dtype=np.float32)
        low, high = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
        if not (np.isfinite(low) and np.isfinite(high) and low >= 0.0 and high <= 1.0):
            raise ValueError(
                f"{_OWN_ERROR} {name!r}: a float image must hold values in [0, 1], this one ranges over "
                f"[{low:g}, {high:g}]. Rescale it to [0, 1] before saving."
            )
        return arr, has_alpha
    if ";16" in rawmode and mode in ("RGB", "RGBA", "RGBX", "LA"):
        return _decode_16bit_colour(im, name, rawmode), has_alpha
    if mode in _GREY_MODES:
        return np.asarray(im.convert("L"), dtype=np.float32) / np.float32(255.0), has_alpha
    if mode == "P" and has_alpha:
        im = im.convert("RGBA")  # a transparent palette entry keeps its colour
    return np.asarray(im.convert("RGB"), dtype=np.float32) / np.float32(255.0), has_alpha


def _rawmode(im: Image.Image) -> str:
    """The rawmode of the first tile (how the file stores its samples), or ``""`` when not known."""
    tile = getattr(im, "tile", None)
    if not tile:
        return ""
    args = tile[0][3]
    raw = args[0] if isinstance(args, tuple) and args else args
    return raw if isinstance(raw, str) else ""


def _decode_16bit_colour(im: Image.Image, name: str, rawmode: str) -> np.ndarray:
    """Decode a 16-bit colour file at full depth: ``H x W`` (grey + alpha) or ``H x W x 3``.

    Pillow unpacks 16-bit colour samples to their high byte. Decoding the same data a second time with
    the rawmode of the opposite byte order yields the low bytes (filters and decompression run on the
    real pixel size both times), and grey + alpha is decoded once as four 8-bit bytes per pixel.
    """
    base, _, order = rawmode.partition(";16")
    big = order.startswith("B") or (order.startswith("N") and sys.byteorder == "big")
    if base == "LA":
        raw = _decode_with(name, im.size, "RGBA", "RGBA")
        first, second = raw[..., 0].astype(np.uint16), raw[..., 1].astype(np.uint16)
        grey = (first << 8 | second) if big else (second << 8 | first)
        return grey.astype(np.float32) / np.float32(65535.0)
    if base not in ("RGB", "RGBA"):
        raise ValueError(f"{_OWN_ERROR} {name!r}: unsupported 16-bit sample layout {rawmode!r}.")
    other = f"{base};16{'L' if big else 'B'}"
    high = np.asarray(im.convert("RGB"), dtype=np.uint16)
    low = _decode_with(name, im.size, im.mode, other)[..., :3].astype(np.uint16)
    return (high << 8 | low).astype(np.float32) / np.float32(65535.0)


def _decode_with(name: str, size: tuple[int, int], mode: str, rawmode: str) -> np.ndarray:
    """Decode ``name`` again with every tile's rawmode replaced by ``rawmode``, into an image of ``mode``."""
    with Image.open(name) as im:
        if im.size != size:
            raise ValueError("the file changed while it was read")
        tiles = []
        for tile in im.tile:
            args = tile[3]
            args = (rawmode, *args[1:]) if isinstance(args, tuple) else rawmode
            tiles.append(tile._replace(args=args) if hasattr(tile, "_replace") else (*tile[:3], args))
        im.tile = tiles
        if im.mode != mode:
            if hasattr(im, "_mode"):
                im._mode = mode
            else:  # Pillow < 10.1
                im.mode = mode  # type: ignore[misc]
        im.load()
        return np.asarray(im)


def _warn_alpha(name: str) -> None:
    folder = os.path.dirname(os.path.abspath(name))
    with _alpha_lock:
        if folder in _alpha_warned_folders:
            return
        _alpha_warned_folders.add(folder)
    warnings.warn(
        f"Dropping the alpha channel of images in {folder!r} (first: {os.path.basename(name)!r}): the RGB "
        "values are used as stored, not composited on a background. This warning is shown once per folder.",
        UserWarning,
        stacklevel=3,
    )
