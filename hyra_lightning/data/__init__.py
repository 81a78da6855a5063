"""Data: the bundled photographs and, later, the SR data module."""

from hyra_lightning.data.photos import PHOTO_NAMES, load_photo, load_photos, photo_path

__all__ = ["PHOTO_NAMES", "load_photo", "load_photos", "photo_path"]
