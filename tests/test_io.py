"""The image reader: every kind of file read at its real depth, in [0, 1], 3 x H x W float32."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hyra_lightning import io
from hyra_lightning.io import IMAGE_SUFFIXES, image_size, list_images, read_image
from tests.imagefiles import write_png, write_tiff16

RNG = np.random.default_rng(8)


def _ramp16(height: int = 16, width: int = 64) -> np.ndarray:
    """A 16-bit horizontal ramp over the full range: mean 0.5 and ``width`` distinct values."""
    row = np.round(np.linspace(0, 65535, width)).astype(np.uint16)
    return np.repeat(row[None], height, axis=0)


def _random16(*shape: int) -> np.ndarray:
    return RNG.integers(0, 65536, shape, dtype=np.uint16)


def _expected(samples: np.ndarray, scale: float) -> torch.Tensor:
    arr = samples.astype(np.float64) / scale
    arr = np.repeat(arr[None], 3, axis=0) if arr.ndim == 2 else arr[..., :3].transpose(2, 0, 1)
    return torch.from_numpy(arr).float()


@pytest.fixture(autouse=True)
def _fresh_alpha_warnings(monkeypatch):
    monkeypatch.setattr(io, "_alpha_warned_folders", set())


def _check(image: torch.Tensor, expected: torch.Tensor) -> None:
    assert image.dtype == torch.float32
    assert image.shape == expected.shape
    assert image.is_contiguous()
    torch.testing.assert_close(image, expected, atol=1e-7, rtol=0)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_grey_ramp_keeps_its_depth(tmp_path, suffix):
    ramp = _ramp16()
    path = tmp_path / f"ramp{suffix}"
    Image.fromarray(ramp).save(path)
    image = read_image(path)
    _check(image, _expected(ramp, 65535))
    assert abs(image.mean().item() - 0.5) < 1e-6
    assert image.unique().numel() == 64


@pytest.mark.parametrize("interlace", [False, True])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_16bit_png_every_colour_type(tmp_path, channels, interlace):
    samples = _random16(13, 11, channels) if channels > 1 else _random16(13, 11)
    path = tmp_path / "x.png"
    write_png(path, samples, interlace=interlace)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image = read_image(path)
    _check(image, _expected(samples[..., 0] if channels == 2 else samples, 65535))


def test_16bit_rgb_png_ramp_mean_and_distinct_values(tmp_path):
    ramp = _ramp16(width=300)
    path = tmp_path / "ramp.png"
    write_png(path, np.stack([ramp, ramp, 65535 - ramp], axis=-1))
    image = read_image(path)
    assert abs(image.mean().item() - 0.5) < 1e-6
    assert image[0].unique().numel() == 300


@pytest.mark.parametrize("deflate", [False, True])
@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("channels", [3, 4])
def test_16bit_colour_tiff(tmp_path, channels, big_endian, deflate):
    samples = _random16(9, 14, channels)
    path = tmp_path / "x.tiff"
    write_tiff16(path, samples, big_endian=big_endian, deflate=deflate)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image = read_image(path)
    _check(image, _expected(samples, 65535))


@pytest.mark.parametrize(
    ("mode", "channels"), [("L", 1), ("LA", 2), ("RGB", 3), ("RGBA", 4)], ids=["L", "LA", "RGB", "RGBA"]
)
@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_8bit_modes(tmp_path, mode, channels, suffix):
    samples = RNG.integers(0, 256, (10, 12, channels), dtype=np.uint8)
    path = tmp_path / f"x{suffix}"
    Image.fromarray(samples[..., 0] if channels == 1 else samples, mode=mode).save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image = read_image(path)
    _check(image, _expected(samples[..., 0] if channels <= 2 else samples, 255))


def test_bilevel(tmp_path):
    bits = RNG.integers(0, 2, (8, 16)).astype(bool)
    Image.fromarray(bits).save(tmp_path / "x.png")
    _check(read_image(tmp_path / "x.png"), _expected(bits.astype(np.uint8), 1))


def test_palette(tmp_path):
    palette = RNG.integers(0, 256, (256, 3), dtype=np.uint8)
    indices = RNG.integers(0, 256, (7, 9), dtype=np.uint8)
    im = Image.fromarray(indices, mode="P")
    im.putpalette(palette.ravel().tolist())
    im.save(tmp_path / "x.png")
    _check(read_image(tmp_path / "x.png"), _expected(palette[indices], 255))


def test_palette_with_transparency_warns_and_keeps_colours(tmp_path):
    palette = RNG.integers(0, 256, (256, 3), dtype=np.uint8)
    indices = RNG.integers(0, 256, (7, 9), dtype=np.uint8)
    im = Image.fromarray(indices, mode="P")
    im.putpalette(palette.ravel().tolist())
    im.save(tmp_path / "x.png", transparency=int(indices[0, 0]))
    with pytest.warns(UserWarning, match="alpha"):
        image = read_image(tmp_path / "x.png")
    _check(image, _expected(palette[indices], 255))


def test_cmyk(tmp_path):
    cmyk = np.array(
        [[[0, 0, 0, 0], [0, 0, 0, 255], [255, 0, 0, 0], [0, 255, 0, 0], [0, 0, 255, 0]]], dtype=np.uint8
    )
    rgb = np.array([[[1, 1, 1], [0, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 0]]], dtype=np.uint8)
    Image.fromarray(cmyk, mode="CMYK").save(tmp_path / "x.tif")
    _check(read_image(tmp_path / "x.tif"), _expected(rgb, 1))


def test_jpeg_is_read_as_rgb(tmp_path):
    im = Image.fromarray(RNG.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    im.save(tmp_path / "x.jpg", quality=95)
    with Image.open(tmp_path / "x.jpg") as decoded:
        expected = np.asarray(decoded.convert("RGB"))
    _check(read_image(tmp_path / "x.jpg"), _expected(expected, 255))


def test_float_tiff_in_range_taken_as_is(tmp_path):
    values = RNG.random((9, 10)).astype(np.float32)
    values[0, 0], values[0, 1] = 0.0, 1.0
    Image.fromarray(values, mode="F").save(tmp_path / "x.tif")
    image = read_image(tmp_path / "x.tif")
    assert torch.equal(image, torch.from_numpy(values)[None].expand(3, -1, -1))


@pytest.mark.parametrize("bad", [1.5, -0.25, float("nan")])
def test_float_tiff_out_of_range_is_an_error_naming_file_and_range(tmp_path, bad):
    values = RNG.random((9, 10)).astype(np.float32)
    values[3, 3] = bad
    path = tmp_path / "scene.tif"
    Image.fromarray(values, mode="F").save(path)
    with pytest.raises(ValueError, match=r"scene\.tif.*\[0, 1\]") as info:
        read_image(path)
    if bad == bad:  # not NaN: the range is in the message
        assert f"{bad:g}" in str(info.value)


def test_32bit_integer_image_is_an_error(tmp_path):
    Image.fromarray(np.full((4, 4), 70000, dtype=np.int32), mode="I").save(tmp_path / "x.tif")
    with pytest.raises(ValueError, match=r"x\.tif.*32-bit integer"):
        read_image(tmp_path / "x.tif")


@pytest.mark.parametrize("content", [b"", b"not an image at all"])
def test_unreadable_file_is_an_error_naming_it(tmp_path, content):
    path = tmp_path / "broken.png"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"broken\.png"):
        read_image(path)


def test_missing_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(ValueError, match=r"absent\.png"):
        read_image(tmp_path / "absent.png")


def test_alpha_dropped_with_one_warning_per_folder(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        for i in range(3):
            rgba = RNG.integers(0, 256, (4, 4, 4), dtype=np.uint8)
            Image.fromarray(rgba, mode="RGBA").save(tmp_path / folder / f"{i}.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for folder in ("a", "b", "a"):
            for path in list_images(tmp_path / folder):
                read_image(path)
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert len(messages) == 2
    assert str(tmp_path / "a") in messages[0] and str(tmp_path / "b") in messages[1]


def test_rgb_file_reads_without_warning(tmp_path):
    Image.fromarray(RNG.integers(0, 256, (4, 4, 3), dtype=np.uint8)).save(tmp_path / "x.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_image(tmp_path / "x.png")


def test_list_images_sorted_filtered_case_insensitive(tmp_path):
    for name in ("b.PNG", "a.tif", "c.jpeg", "notes.txt", ".hidden.png", "d.TIFF"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "folder.png").mkdir()
    assert [p.name for p in list_images(tmp_path)] == ["a.tif", "b.PNG", "c.jpeg", "d.TIFF"]
    assert all(isinstance(p, Path) for p in list_images(str(tmp_path)))
    assert {".png", ".tif", ".tiff", ".jpg", ".jpeg"} <= set(IMAGE_SUFFIXES)


def test_list_images_of_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        list_images(tmp_path / "nowhere")


def test_image_size_reads_the_header_only_and_names_a_bad_file(tmp_path):
    path = tmp_path / "a.png"
    Image.new("RGB", (40, 30)).save(path)
    assert image_size(path) == (30, 40) == tuple(read_image(path).shape[-2:])
    truncated = tmp_path / "t.png"
    truncated.write_bytes(path.read_bytes()[:60])  # the header survives, the pixels do not
    assert image_size(truncated) == (30, 40)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"Could not read image file .*bad\.png"):
        image_size(bad)
