import pytest
import torch
import torch.nn.functional as F

from hyra_lightning.analysis import impulse_response
from hyra_lightning.models import BicubicUpsampler, SincUpsampler
from hyra_lightning.models.reference import kaiser_sinc_taps


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_upsampler_is_torch_interpolate(scale):
    x = torch.rand(2, 3, 7, 9)
    up = BicubicUpsampler(scale)
    expected = F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
    torch.testing.assert_close(up(x), expected)
    assert up(x).shape == (2, 3, 7 * scale, 9 * scale)
    assert list(up.parameters()) == [] and "scale=" in repr(up)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_sinc_upsampler_descriptors(scale):
    r = impulse_response(SincUpsampler(scale), in_channels=1, dtype=torch.float64)
    d = r.describe()
    assert d.sinc_similarity > 0.99
    assert abs(d.cutoff - 1 / scale) < 0.05 / scale
    assert d.stopband_leakage < 0.01
    assert d.dc_gain == pytest.approx(1.0, abs=1e-9)
    assert 0.18 < d.negative_lobe < 0.25


@pytest.mark.parametrize("scale", [1, 2, 3, 4])
def test_sinc_upsampler_is_centred_with_unity_dc_gain(scale):
    up = SincUpsampler(scale, taps=4).double()
    r = impulse_response(up, in_channels=1, size=11)
    g = r.luminance
    # the response is symmetric about X0 = s*c + (s-1)/2, the centre of the HR block of the LR pixel
    torch.testing.assert_close(g, g.flip(0))
    torch.testing.assert_close(g, g.flip(1))
    assert g.sum() / scale**2 == pytest.approx(1.0)
    flat = up(torch.full((1, 2, 5, 6), 0.3, dtype=torch.float64))
    torch.testing.assert_close(flat, torch.full_like(flat, 0.3))


def test_sinc_upsampler_interpolates_lr_samples_for_odd_scales():
    # for odd s the centre HR pixel of each block sits exactly on the LR sample: sinc(0) = 1, sinc(k) = 0
    up = SincUpsampler(3, taps=6, beta=0.0).double()
    x = torch.rand(1, 1, 20, 20, dtype=torch.float64)
    y = up(x)
    torch.testing.assert_close(y[..., 1::3, 1::3][..., 6:-6, 6:-6], x[..., 6:-6, 6:-6], atol=1e-12, rtol=0)


def test_sinc_upsampler_taps_and_dtypes():
    k = kaiser_sinc_taps(4, 3, 2.0)
    assert k.shape == (2 * 3 * 4 + 4,)
    torch.testing.assert_close(k.reshape(-1, 4).sum(0), torch.ones(4, dtype=torch.float64))
    up = SincUpsampler(2)
    x = torch.rand(1, 3, 8, 8)
    assert up(x).dtype == torch.float32
    assert up.half()(x.half()).dtype == torch.float16
    assert "taps=16" in repr(SincUpsampler(2))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scale": 0}, "`scale`"),
        ({"scale": 2.0}, "`scale`"),
        ({"scale": 2, "taps": 0}, "`taps`"),
        ({"scale": 2, "beta": -1.0}, "`beta`"),
        ({"scale": 2, "beta": float("nan")}, "`beta`"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SincUpsampler(**kwargs)


def test_bad_inputs():
    with pytest.raises(ValueError, match="`scale`"):
        BicubicUpsampler(0)
    with pytest.raises(ValueError, match="`x`"):
        BicubicUpsampler(2)(torch.zeros(3, 4, 4))
    with pytest.raises(ValueError, match="`x`"):
        SincUpsampler(2)(torch.zeros(3, 4, 4))
