"""The PNG-file sink: images as files beside any logger's own output (CSVLogger and every logger without a sink
of its own)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from lightning.pytorch.loggers import Logger

from hyra_lightning.callbacks.sinks.base import Sink

__all__ = ["ImageFileSink"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ImageFileSink(Sink):
    """Writes every image and figure as a PNG file ``<log_dir>/images/<tag>/<step:07d>.png``.

    The slashes of a tag become folders (``hyra/sample_0`` -> ``images/hyra/sample_0/0000200.png``); other
    characters that are unsafe in file names become ``_``. A file is written under a temporary name and then
    renamed, so a reader never sees half a PNG; writing the same tag and step again replaces the file. A caption
    is written beside the image as ``<step:07d>.txt``.

    Args:
        logger: the logger whose directory receives the images: its ``log_dir``, else its ``save_dir``.
        root: the directory to use when the logger has neither (for example the trainer's
            ``default_root_dir``).

    Raises:
        ValueError: when neither the logger nor ``root`` names a directory.
    """

    def __init__(self, logger: Logger, root: str | os.PathLike[str] | None = None) -> None:
        super().__init__(logger)
        base = getattr(logger, "log_dir", None) or getattr(logger, "save_dir", None) or root
        if base is None:
            raise ValueError(
                f"Expected the logger {type(logger).__name__} to have a `log_dir` or `save_dir`, or `root` to be"
                " given, got none: pass `root=` (for example the trainer's `default_root_dir`)."
            )
        #: The folder that holds one sub-folder per tag.
        self.directory = Path(base) / "images"

    def path(self, tag: str, step: int, suffix: str = ".png") -> Path:
        """The file of ``tag`` at ``step``."""
        parts = [_UNSAFE.sub("_", part) for part in tag.split("/") if part not in ("", ".", "..")]
        return self.directory.joinpath(*parts) / f"{step:07d}{suffix}"

    def log_image(self, tag: str, image: np.ndarray, step: int, caption: str | None = None) -> None:
        """Write ``image`` (``H x W x 3`` ``uint8``) to :meth:`path`."""
        from PIL import Image

        path = self.path(tag, step)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        Image.fromarray(np.ascontiguousarray(image)).save(partial, format="PNG")
        os.replace(partial, path)
        if caption:
            path.with_suffix(".txt").write_text(caption + "\n", encoding="utf-8")
