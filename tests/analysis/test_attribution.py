"""Local attribution maps and the diffusion index, against ground truths: receptive fields, closed forms of
linear networks, the two ends of the diffusion index, captum's integrated gradients."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hyra_lightning.analysis import (
    box_footprint,
    default_box,
    diffusion_index,
    edge_energy,
    gaussian_blur,
    local_attribution,
)
from hyra_lightning.data import load_photo
from hyra_lightning.models import BicubicUpsampler
from tests.analysis._models import MixedModes, ReLUNet


class ConvStack(nn.Module):
    """``k`` 3x3 convolutions (zero padding), then a pixel shuffle: receptive field of ``k`` LR pixels around
    the pixel under an SR pixel; linear with ``relu=False, bias=False``."""

    def __init__(
        self, k: int, scale: int = 2, features: int = 8, relu: bool = True, bias: bool = True
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for i in range(k):
            out = 3 * scale**2 if i == k - 1 else features
            layers.append(nn.Conv2d(channels, out, 3, padding=1, bias=bias))
            if relu and i < k - 1:
                layers.append(nn.ReLU())
            channels = out
        self.body = nn.Sequential(*layers)
        self.shuffle = nn.PixelShuffle(scale)

    def forward(self, x: Tensor) -> Tensor:
        return self.shuffle(self.body(x))


def _photo_crop(size: int = 24) -> Tensor:
    photo = load_photo("astronaut")
    return F.avg_pool2d(photo[None, :, 60 : 60 + 2 * size, 120 : 120 + 2 * size], 2)[0]


# --------------------------------------------------------------------------------------- receptive field


@pytest.mark.parametrize("k", [1, 3])
def test_attribution_is_zero_outside_the_receptive_field(k):
    torch.manual_seed(0)
    model = ConvStack(k)
    lr = torch.rand(3, 20, 20)
    lam = local_attribution(model, lr, (14, 12), window=8, steps=6)
    top, left, bottom, right = box_footprint((14, 12), 8, 2, (20, 20), radius=k)
    outside = lam.attribution.clone()
    outside[:, top:bottom, left:right] = 0
    assert outside.abs().max() == 0
    assert lam.attribution[:, top:bottom, left:right].abs().sum() > 0
    assert (top, left, bottom, right) == (7 - k, 6 - k, 12 + k, 11 + k)


def test_footprint_at_the_image_edge_has_no_row_below():
    # the box's last SR row is the image's last: the forward differences there are 0, nothing below is read
    assert box_footprint((24, 0), 8, 2, (16, 16)) == (12, 0, 16, 5)


# --------------------------------------------------------------------------------------- linear networks


def _dct1_image(h: int, w: int, m: int, n: int) -> Tensor:
    """``cos(pi m y / (h - 1)) cos(pi n x / (w - 1))``: reflection padding keeps it, so a Gaussian blur only
    scales it by :func:`_gaussian_gain` per axis."""
    ys = torch.arange(h, dtype=torch.float64)
    xs = torch.arange(w, dtype=torch.float64)
    return torch.cos(math.pi * m * ys / (h - 1))[:, None] * torch.cos(math.pi * n * xs / (w - 1))[None]


def _gaussian_gain(sigma: float, kernel_size: int, m: int, length: int) -> float:
    taps = torch.arange(kernel_size, dtype=torch.float64) - kernel_size // 2
    g = torch.exp(-(taps**2) / (2 * sigma**2))
    g = g / g.sum()
    return float((g * torch.cos(math.pi * m * taps / (length - 1))).sum())


def _detector(sr: Tensor, y: int, x: int, window: int) -> Tensor:
    """The detector written out: forward differences, the last row/column replicated, summed magnitudes
    (whose gradient at a zero magnitude is 0)."""
    s = torch.cat([sr, sr[..., -1:, :]], dim=-2)
    s = torch.cat([s, s[..., -1:]], dim=-1)
    d_y = s[..., 1:, :-1] - s[..., :-1, :-1]
    d_x = s[..., :-1, 1:] - s[..., :-1, :-1]
    squared = d_y**2 + d_x**2
    nonzero = squared > 0
    magnitude = torch.where(nonzero, torch.sqrt(torch.where(nonzero, squared, 1.0)), 0.0)
    return magnitude[..., y : y + window, x : x + window].sum()


def test_linear_network_attribution_equals_the_closed_form():
    # A linear network and an image the blur only scales, lambda(alpha) = c(alpha) LR: the detector is
    # homogeneous of degree one, so its gradient is the same all along the path and the attribution is
    # grad D(F(LR)) * (LR - c(0) LR) exactly.
    torch.manual_seed(1)
    model = ConvStack(2, relu=False, bias=False).double()
    h, w, m, n = 16, 20, 2, 3
    lr = torch.stack([_dct1_image(h, w, m, n), 0.5 * _dct1_image(h, w, m, n), -_dct1_image(h, w, m, n)])
    lam = local_attribution(model, lr, (10, 14), window=8)
    c0 = _gaussian_gain(1.2, 9, m, h) * _gaussian_gain(1.2, 9, n, w)
    x = lr.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(_detector(model(x[None])[0], 10, 14, 8), x)
    expected = grad * (lr - c0 * lr)
    torch.testing.assert_close(lam.attribution, expected, rtol=1e-9, atol=1e-12)
    assert lam.completeness_error < 1e-9
    assert lam.detector == pytest.approx(float(_detector(model(lr[None])[0], 10, 14, 8).detach()), rel=1e-12)


def test_linear_network_completeness_error_is_small_at_the_default_steps():
    torch.manual_seed(2)
    model = ConvStack(2, relu=False, bias=False)
    lam = local_attribution(model, _photo_crop(), (16, 16))
    assert lam.steps == 50 and lam.completeness_error < 1e-3


def test_path_images_are_blurred_by_the_gaussian_of_the_given_taps():
    lr = torch.stack([_dct1_image(12, 14, 1, 2)])
    blurred = gaussian_blur(lr, torch.tensor([0.0, 0.7, 1.2], dtype=torch.float64), 9)
    torch.testing.assert_close(blurred[0], lr)
    for i, sigma in ((1, 0.7), (2, 1.2)):
        gain = _gaussian_gain(sigma, 9, 1, 12) * _gaussian_gain(sigma, 9, 2, 14)
        torch.testing.assert_close(blurred[i], gain * lr)


# --------------------------------------------------------------------------------------- diffusion index


def test_diffusion_index_of_one_pixel_is_zero_and_of_a_constant_map_is_one_hundred():
    one = torch.zeros(12, 12)
    one[5, 7] = 3.0
    assert diffusion_index(one) == 0.0
    assert diffusion_index(torch.full((12, 12), 0.3)) == pytest.approx(100.0)
    half = torch.cat([torch.ones(8), torch.zeros(8)])  # Gini (normalised) 8/15
    assert diffusion_index(half) == pytest.approx((1 - 8 / 15) * 100)
    assert math.isnan(diffusion_index(torch.zeros(4, 4)))


def test_diffusion_index_grows_with_the_receptive_field():
    lr = _photo_crop(32)
    dis = {}
    for k in (2, 8):
        torch.manual_seed(0)
        dis[k] = local_attribution(ConvStack(k), lr, (28, 28), window=8, steps=10).di
    assert dis[2] < dis[8]


def test_bicubic_diffusion_index_is_small():
    lr = _photo_crop(32)
    lam = local_attribution(BicubicUpsampler(2), lr, (28, 28), window=8, steps=10)
    # bicubic reads 4 x 4 LR pixels per SR pixel: the 8 x 8 box touches at most 9 x 9 of the 1024 pixels
    assert (lam.map > 0).sum() <= 81
    assert lam.di < 10


# --------------------------------------------------------------------------------------- integrated gradients


@pytest.mark.requires("captum")
def test_linear_path_agrees_with_captum_integrated_gradients():
    attr = pytest.importorskip("captum.attr")
    torch.manual_seed(3)
    model = ReLUNet().double()
    lr = _photo_crop(16).double()
    lam = local_attribution(model, lr, (10, 8), window=8, steps=20, path="linear")
    baseline = gaussian_blur(lr, 1.2, 9)
    ig = attr.IntegratedGradients(lambda x: edge_energy(model(x), (10, 8), 8))
    expected = ig.attribute(lr[None], baselines=baseline, n_steps=20, method="riemann_middle")[0]
    torch.testing.assert_close(lam.attribution, expected, rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------------------- the caller's state


def test_flags_rng_and_parameter_gradients_are_untouched():
    model = MixedModes(force_dropout=True)
    model.train()
    model.bn.eval()
    flags = {name: m.training for name, m in model.named_modules()}
    model.conv.weight.grad = torch.full_like(model.conv.weight, 0.25)
    lr = torch.rand(3, 12, 12)
    rng = torch.get_rng_state()
    with torch.inference_mode():
        lam = local_attribution(model, lr, (4, 4), window=8, steps=4)
    assert torch.isfinite(lam.attribution).all()
    assert {name: m.training for name, m in model.named_modules()} == flags
    assert torch.equal(torch.get_rng_state(), rng)
    assert torch.equal(model.conv.weight.grad, torch.full_like(model.conv.weight, 0.25))
    assert model.tail.weight.grad is None


def test_measured_in_full_precision_whatever_the_context():
    torch.manual_seed(4)
    model = ReLUNet()
    lr = torch.rand(3, 12, 12)
    plain = local_attribution(model, lr, (4, 6), window=8, steps=4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = local_attribution(model, lr, (4, 6), window=8, steps=4)
    half = local_attribution(
        ReLUNet().to(torch.bfloat16).requires_grad_(False), lr, (4, 6), window=8, steps=4
    )
    torch.testing.assert_close(under_autocast.attribution, plain.attribution)
    assert plain.attribution.dtype == torch.float32 and half.attribution.dtype == torch.float32


def test_batches_of_path_images_do_not_change_the_result():
    torch.manual_seed(5)
    model = ReLUNet().double()
    lr = torch.rand(3, 12, 12, dtype=torch.float64)
    one = local_attribution(model, lr, (6, 6), window=8, steps=7, batch_size=1)
    all_at_once = local_attribution(model, lr, (6, 6), window=8, steps=7, batch_size=7)
    torch.testing.assert_close(one.attribution, all_at_once.attribution)


# --------------------------------------------------------------------------------------- the default box


def test_default_box_is_the_window_with_the_most_edges():
    lr = torch.zeros(3, 20, 20)
    lr[:, 11:, :] = 1.0  # one horizontal edge between rows 10 and 11
    y, x = default_box(lr, 2, window=8)
    assert y // 2 <= 10 < (y + 8) // 2 and x == 0
    assert default_box(torch.rand(1, 3, 10, 10), 4, window=40) == (0, 0)


# --------------------------------------------------------------------------------------- guards


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"box": (20, 0)}, "Expected `box`"),
        ({"box": (0, -1)}, "Expected `box`"),
        ({"window": 1}, "Expected `window`"),
        ({"steps": 0}, "Expected `steps`"),
        ({"kernel_size": 4}, "Expected `kernel_size`"),
        ({"kernel_size": 31}, "Expected `kernel_size`"),
        ({"sigma_max": 0.0}, "Expected `sigma_max`"),
        ({"path": "straight"}, "Expected `path`"),
        ({"batch_size": 0}, "Expected `batch_size`"),
        ({"scale": 3}, "`scale` is 3"),
        ({"lr": torch.rand(2, 3, 12, 12)}, "Expected `lr`"),
    ],
)
def test_bad_arguments_are_refused_with_the_remedy(kwargs, match):
    args = {"model": ReLUNet(), "lr": torch.rand(3, 12, 12), "box": (0, 0), "window": 8, "steps": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        local_attribution(args.pop("model"), args.pop("lr"), args.pop("box"), **args)


def test_a_model_that_does_not_return_an_image_batch_is_refused():
    class Scalar(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 1)

        def forward(self, x: Tensor) -> Tensor:
            return self.conv(x).mean()

    with pytest.raises(TypeError, match="Expected `model` to return"):
        local_attribution(Scalar(), torch.rand(3, 12, 12), (0, 0), window=8, steps=2)


# --------------------------------------------------------------------------------------- the panel


def test_panel_shows_the_footprint_and_the_map_with_the_index():
    from hyra_lightning.analysis import lam_panel
    from hyra_lightning.analysis.display import LABEL_FONT_PX, LAM_MIN_SIDE, LR_NYQUIST_RGB

    lam = local_attribution(BicubicUpsampler(2), _photo_crop(16), (10, 6), window=8, steps=4)
    zoom = LAM_MIN_SIDE // 16
    bare = lam_panel(lam, labels=False)
    assert bare.shape == (3, 16 * zoom + 4, 2 * 16 * zoom + 6)
    top, left, bottom, right = lam.footprint()
    red = torch.tensor(LR_NYQUIST_RGB)
    for offset in (2, 2 + 16 * zoom + 2):  # the outline's corners, in both cells
        corners = [(top * zoom, left * zoom), (bottom * zoom - 1, right * zoom - 1)]
        for y, x in corners:
            torch.testing.assert_close(bare[:, 2 + y, offset + x], red)
    # the map is hottest inside the footprint: the right cell differs from grey there, not far away
    right_cell = bare[:, 2:-2, 2 + 16 * zoom + 2 : -2]
    assert (right_cell.std(0)[zoom * 13 :, zoom * 13 :] < 1e-6).all()  # grey: no attribution there
    assert right_cell.std(0)[zoom * top : zoom * bottom, zoom * left : zoom * right].max() > 0.1
    labelled = lam_panel(lam)
    assert labelled.shape[-2] == bare.shape[-2] + round(1.6 * LABEL_FONT_PX)
