"""Image scores: BasicSR's SSIM (windows inside the image) against torchmetrics' full map, cropped; the BT.601
luma; the border crop; PSNR/SSIM/FSDS of a batch against the functions they are made of."""

import numpy as np
import pytest
import torch
from torchmetrics.functional.image import structural_similarity_index_measure

from hyra_lightning.functional import fsds
from hyra_lightning.functional.image_scores import crop_border_pixels, image_scores, rgb_to_y, ssim_valid


@pytest.mark.parametrize("shape", [(2, 3, 40, 53), (1, 1, 11, 30)])
def test_equals_torchmetrics_map_over_the_valid_windows(shape):
    g = torch.Generator().manual_seed(0)
    target = torch.rand(shape, generator=g, dtype=torch.float64)
    preds = (target + 0.1 * torch.randn(shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    _, full = structural_similarity_index_measure(
        preds, target, data_range=1.0, reduction="none", return_full_image=True
    )
    expected = full[..., 5:-5, 5:-5].flatten(1).mean(1)
    assert torch.allclose(ssim_valid(preds, target), expected, atol=1e-12)
    assert torch.allclose(ssim_valid(preds.float(), target.float()).double(), expected, atol=1e-6)


def test_identical_images_and_errors():
    x = torch.rand(1, 3, 16, 16)
    assert ssim_valid(x, x).item() == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="at least 11 x 11"):
        ssim_valid(torch.rand(1, 1, 10, 20), torch.rand(1, 1, 10, 20))
    with pytest.raises(ValueError, match="one \\(N, C, H, W\\) shape"):
        ssim_valid(torch.rand(1, 1, 12, 12), torch.rand(1, 1, 12, 13))
    with pytest.raises(ValueError, match="data_range"):
        ssim_valid(x, x, data_range=0)


def test_rgb_to_y_is_bt601_studio_range():
    rgb = torch.tensor([[[0.0]], [[0.0]], [[0.0]]]), torch.tensor([[[1.0]], [[0.0]], [[0.0]]])
    assert rgb_to_y(rgb[0]).item() * 255 == pytest.approx(16.0)
    assert rgb_to_y(rgb[1]).item() * 255 == pytest.approx(16.0 + 65.481)
    with pytest.raises(ValueError, match="RGB"):
        rgb_to_y(torch.zeros(1, 4, 4))


def test_crop_border_pixels_removes_the_border_or_names_the_argument():
    hr = torch.rand(1, 3, 8, 8)
    assert crop_border_pixels(hr, 0) is hr
    assert crop_border_pixels(hr, 2).shape == (1, 3, 4, 4)
    with pytest.raises(ValueError, match="`crop_border` \\(4\\)"):
        crop_border_pixels(hr, 4)
    with pytest.raises(ValueError, match="crop_border"):
        crop_border_pixels(hr, -1)


def test_image_scores_crop_once_for_all_three_scores():
    g = torch.Generator().manual_seed(1)
    target = torch.rand(2, 3, 40, 36, generator=g)
    preds = (target + 0.05 * torch.randn(2, 3, 40, 36, generator=g)).clamp(0, 1)
    got = image_scores(preds, target, crop_border=3)
    p, t = preds[..., 3:-3, 3:-3], target[..., 3:-3, 3:-3]
    mse = ((p - t) ** 2).mean(dim=(1, 2, 3)).double()
    assert torch.allclose(got["psnr"], -10 * torch.log10(mse), atol=1e-4)
    assert torch.allclose(got["ssim"], ssim_valid(p, t).double(), atol=1e-6)
    assert torch.allclose(got["fsds"], fsds(p, t, reduction="none").double(), atol=1e-5)
    luma = image_scores(preds, target, y_channel=True)
    assert torch.allclose(luma["ssim"], ssim_valid(rgb_to_y(preds), rgb_to_y(target)).double(), atol=1e-6)


def _photo_and_sr() -> tuple[torch.Tensor, torch.Tensor]:
    """An 8-bit crop of a real photograph and an 8-bit bicubic x2 reconstruction of it (an SR-like result)."""
    import torch.nn.functional as F

    from hyra_lightning.data import load_photo

    hr = load_photo("coffee")[None, :, 100:196, 150:278]
    lr = F.interpolate(hr, scale_factor=0.5, mode="bicubic", antialias=True, align_corners=False)
    sr = F.interpolate(lr, scale_factor=2, mode="bicubic", align_corners=False).clamp(0, 1)
    return (sr * 255).round() / 255, (hr * 255).round() / 255


def test_matlab_rounded_y_is_y_on_0_255_rounded_half_up():
    sr, _ = _photo_and_sr()
    x = sr.double().numpy()[0]
    y255 = 16.0 + 65.481 * x[0] + 128.553 * x[1] + 24.966 * x[2]  # MATLAB: Y of the 8-bit image, in [0, 255]
    expected = torch.from_numpy(np.floor(y255 + 0.5) / 255.0)
    got = rgb_to_y(sr, "matlab")
    assert got.shape == (1, 1, 96, 128) and got.dtype == sr.dtype
    assert torch.equal(got[0, 0].double(), expected.float().double())
    assert torch.allclose(got.double() * 255, (got.double() * 255).round(), atol=1e-4)  # integers on 0-255
    assert not torch.equal(got, rgb_to_y(sr))  # the float convention keeps the fractions
    assert (rgb_to_y(sr) - got).abs().max() * 255 <= 0.5 + 1e-4
    with pytest.raises(ValueError, match="rounding"):
        rgb_to_y(sr, "round")


def test_the_two_y_conventions_differ_by_a_small_nonzero_ssim_on_a_photograph():
    sr, hr = _photo_and_sr()
    as_float = image_scores(sr, hr, y_channel=True)
    as_matlab = image_scores(sr, hr, y_channel=True, y_rounding="matlab")
    assert 1e-5 < abs(as_float["ssim"] - as_matlab["ssim"]).item() < 3e-3
    assert 0 < abs(as_float["psnr"] - as_matlab["psnr"]).item() < 0.1
    rounded = ssim_valid(rgb_to_y(sr, "matlab").double(), rgb_to_y(hr, "matlab").double())
    assert as_matlab["ssim"].item() == pytest.approx(rounded.item(), abs=1e-6)
    rgb = image_scores(sr, hr, y_rounding="matlab")  # the convention is about Y only
    assert torch.equal(rgb["ssim"], image_scores(sr, hr)["ssim"])


@pytest.mark.requires("pyiqa")
def test_matlab_rounded_y_ssim_equals_pyiqa():
    from pyiqa.archs.ssim_arch import ssim
    from pyiqa.utils.color_util import to_y_channel

    sr, hr = _photo_and_sr()
    # pyiqa's SSIM (BT.601 "ycbcr" luma rounded on 0-255, valid 11 x 11 Gaussian windows) in float64: in float32
    # its uncentred moments on the 0-255 scale alone move it by about 2e-5.
    theirs = float(
        ssim(to_y_channel(sr.double(), 255, "ycbcr"), to_y_channel(hr.double(), 255, "ycbcr"), data_range=255)
    )
    ours = image_scores(sr, hr, y_channel=True, y_rounding="matlab")["ssim"].item()
    assert ours == pytest.approx(theirs, abs=1e-6)
    assert abs(image_scores(sr, hr, y_channel=True)["ssim"].item() - theirs) > 1e-4  # float Y is not pyiqa's
