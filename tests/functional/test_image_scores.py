"""Image scores: BasicSR's SSIM (windows inside the image) against torchmetrics' full map, cropped; the BT.601
luma; the border crop; PSNR/SSIM/FSDS of a batch against the functions they are made of."""

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
