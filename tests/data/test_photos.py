import pytest
import torch

from hyra_lightning.data import PHOTO_NAMES, load_photo, load_photos, photo_path


def test_all_photos_load_as_unit_range_float():
    photos = load_photos()
    assert 6 <= len(photos) <= 10
    for name, img in photos.items():
        assert img.dtype == torch.float32
        assert img.shape[0] == 3, name
        assert min(img.shape[-2:]) >= 256, name
        assert 0.0 <= img.min() and img.max() <= 1.0
        assert img.std() > 0.05, f"{name} looks blank"


def test_grey_mode_and_dtype():
    img = load_photo("astronaut", mode="L", dtype=torch.float64)
    assert img.shape == (1, 512, 512)
    assert img.dtype == torch.float64


def test_sources_document_every_photo():
    import pathlib

    text = (pathlib.Path(photo_path("astronaut")).parent / "SOURCES.md").read_text()
    for name in PHOTO_NAMES:
        assert pathlib.Path(photo_path(name)).name in text


@pytest.mark.parametrize("kwargs", [{"name": "lena"}, {"name": "astronaut", "mode": "CMYK"}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="Expected"):
        load_photo(**kwargs)


def test_integer_dtype_rejected():
    with pytest.raises(TypeError, match="dtype"):
        load_photo("astronaut", dtype=torch.uint8)
