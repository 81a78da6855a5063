import pytest
import torch
from torch import nn

from hyra_lightning.models.edsr import DIV2K_RGB_MEAN, EDSR, MeanShift, ResBlock, Upsampler


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_output_shape(scale: int) -> None:
    model = EDSR(scale=scale, n_resblocks=2, n_feats=8)
    out = model(torch.rand(2, 3, 7, 10))
    assert out.shape == (2, 3, 7 * scale, 10 * scale)
    assert model.scale == scale


def test_x8_uses_three_x2_stages() -> None:
    model = EDSR(scale=8, n_resblocks=1, n_feats=4)
    shuffles = [m for m in model.modules() if isinstance(m, nn.PixelShuffle)]
    assert [m.upscale_factor for m in shuffles] == [2, 2, 2]
    assert model(torch.rand(1, 3, 3, 4)).shape == (1, 3, 24, 32)


@pytest.mark.parametrize(("scale", "expected"), [(2, 1_369_859), (3, 1_554_499), (4, 1_517_571)])
def test_edsr_baseline_parameter_count(scale: int, expected: int) -> None:
    # head 1,792 + 16 blocks x 73,856 + body conv 36,928 + upsampler + tail 1,731 (the paper's "1.37M" at x2).
    model = EDSR(scale=scale)
    assert sum(p.numel() for p in model.parameters()) == expected
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == expected
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert sum(isinstance(m, ResBlock) for m in model.modules()) == 16


def test_first_conv_reports_input_channels() -> None:
    model = EDSR(scale=2, n_resblocks=1, n_feats=8, n_colors=1)
    first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    assert first.in_channels == 1
    assert model(torch.rand(1, 1, 5, 5)).shape == (1, 1, 10, 10)


def test_mean_shift_exact() -> None:
    x = torch.rand(2, 3, 4, 5)
    mean = torch.tensor(DIV2K_RGB_MEAN).view(1, 3, 1, 1)
    sub, add = MeanShift(DIV2K_RGB_MEAN, sign=-1), MeanShift(DIV2K_RGB_MEAN, sign=1)
    assert torch.equal(sub(x), x - mean)
    assert torch.equal(add(x), x + mean)
    assert torch.equal(MeanShift(DIV2K_RGB_MEAN, sign=-1, rgb_range=255.0)(x), x - 255.0 * mean)
    # a buffer, saved in the state dict, never trained
    assert "shift" in dict(sub.named_buffers())
    assert list(sub.parameters()) == []


def test_zero_tail_outputs_the_mean() -> None:
    model = EDSR(scale=2, n_resblocks=2, n_feats=8, rgb_range=2.0)
    last = model.tail[-1]
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    out = model(torch.rand(1, 3, 4, 4))
    expected = (2.0 * torch.tensor(DIV2K_RGB_MEAN)).view(1, 3, 1, 1).expand_as(out)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)


def test_residual_scaling() -> None:
    block = ResBlock(4, res_scale=0.1)
    x = torch.randn(1, 4, 6, 6)
    torch.testing.assert_close(block(x), x + 0.1 * block.body(x))


def test_zero_padding_shift_equivariance_in_the_interior() -> None:
    # shifting the input by one LR pixel shifts the output by `scale` HR pixels away from the border
    model = EDSR(scale=2, n_resblocks=1, n_feats=8).eval()
    x = torch.rand(1, 3, 24, 24)
    with torch.no_grad():
        a = model(x)[..., 20:28, 20:28]
        b = model(torch.roll(x, shifts=1, dims=-1))[..., 20:28, 22:30]
    torch.testing.assert_close(a, b)


def test_gradients_flow() -> None:
    model = EDSR(scale=2, n_resblocks=1, n_feats=4)
    model(torch.rand(1, 3, 6, 6)).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"scale": 0}, "scale"),
        ({"scale": 5}, "scale"),
        ({"scale": 2.0}, "scale"),
        ({"scale": 2, "n_resblocks": 0}, "n_resblocks"),
        ({"scale": 2, "n_feats": -1}, "n_feats"),
        ({"scale": 2, "n_colors": 0}, "n_colors"),
        ({"scale": 2, "res_scale": 0.0}, "res_scale"),
        ({"scale": 2, "rgb_range": -1.0}, "rgb_range"),
    ],
)
def test_bad_arguments(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=f"`{name}`"):
        EDSR(**kwargs)


def test_bad_input_shape() -> None:
    with pytest.raises(ValueError, match=r"`x` of shape \(N, 3, h, w\)"):
        EDSR(scale=2, n_resblocks=1, n_feats=4)(torch.rand(1, 1, 4, 4))


def test_upsampler_and_mean_shift_arguments() -> None:
    with pytest.raises(ValueError, match="`scale`"):
        Upsampler(6, 4)
    with pytest.raises(ValueError, match="`sign`"):
        MeanShift((0.5,), sign=0)
