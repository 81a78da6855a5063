"""ssim_valid: BasicSR's SSIM (windows inside the image), checked against torchmetrics' full map, cropped."""

import pytest
import torch
from torchmetrics.functional.image import structural_similarity_index_measure

from hyra_lightning.functional.ssim import ssim_valid


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
