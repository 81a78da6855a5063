import pytest
import torch
from torch import nn

from hyra_lightning.analysis import (
    HyRAResult,
    hyra_decompose,
    impulse_response,
    linear_response,
    stopband_energy,
)
from hyra_lightning.data import load_photo
from hyra_lightning.models import BicubicUpsampler, SincUpsampler
from tests.analysis._models import ConvShuffle, MixedModes, ReLUNet


class CountCalls(nn.Module):
    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.body(x)


def _rel(x: torch.Tensor, ref: torch.Tensor) -> float:
    return float(x.abs().max() / ref.abs().max())


@pytest.mark.parametrize("scale", [2, 3])
def test_bias_free_conv_shuffle_is_exactly_linear(scale):
    model = ConvShuffle(3, 3, scale, kernel_size=5)
    lr = torch.rand(2, 3, 20, 23)
    res = hyra_decompose(model, lr, size=9)
    assert isinstance(res, HyRAResult)
    for t in (res.sr, res.linear, res.nonlinear, res.baseline):
        assert t.shape == (2, 3, 20 * scale, 23 * scale)
    assert _rel(res.nonlinear, res.sr) <= 1e-5
    assert res.baseline.abs().max() == 0
    assert res.scalars()["nonlinear_energy_ratio"] < 1e-10


def test_biases_are_removed_by_the_baseline():
    model = ConvShuffle(3, 3, 2, bias=True)
    nn.init.uniform_(model.conv.bias, 0.5, 1.0)
    lr = torch.rand(1, 3, 16, 16)
    res = hyra_decompose(model, lr, size=9, background=0.5, amplitude=0.1)
    assert _rel(res.nonlinear, res.sr) <= 1e-5
    assert res.baseline.abs().min() > 0.1
    torch.testing.assert_close(res.baseline + res.linear + res.nonlinear, res.sr)


def test_paper_mode_is_exact_for_a_depthwise_model():
    model = ConvShuffle(3, 3, 2, groups=3)
    lr = torch.rand(1, 3, 12, 14)
    res = hyra_decompose(model, lr, size=9, mode="paper", baseline=False)
    assert res.response.kernel.shape == (3, 1, 18, 18)
    assert _rel(res.nonlinear, res.sr) <= 1e-5
    # a model that mixes channels is not captured by one kernel per channel
    mixing = hyra_decompose(ConvShuffle(3, 3, 2), lr, size=9, mode="paper")
    assert _rel(mixing.nonlinear, mixing.sr) > 1e-2


def test_relu_network_identity_and_nonlinear_part():
    torch.manual_seed(1)
    model = ReLUNet()
    lr = load_photo("chelsea")[:, 100:132, 200:232]
    res = hyra_decompose(model, lr, size=9, amplitude=0.02, background=0.5)
    torch.testing.assert_close(res.baseline + res.linear + res.nonlinear, res.sr, atol=1e-6, rtol=0)
    assert _rel(res.nonlinear, res.sr) > 1e-3
    s = res.scalars()
    assert 0 < s["nonlinear_energy_ratio"] < 1 and 0 <= s["hf_injection"] <= 1


@pytest.mark.parametrize("scale", [2, 3])
@pytest.mark.parametrize("boundary", ["zero", "reflect"])
def test_bicubic_is_linear_away_from_the_border(scale, boundary):
    lr = load_photo("camera", mode="L", dtype=torch.float64)[:, 200:230, 180:214]
    res = hyra_decompose(BicubicUpsampler(scale), lr, size=7, boundary=boundary)
    assert res.sr.dtype == torch.float64
    m = 2 * scale
    assert res.nonlinear[..., m:-m, m:-m].abs().max() < 1e-12
    # at the border bicubic replicates the image, which neither boundary model reproduces exactly
    assert res.nonlinear.abs().max() > 1e-3


def test_reflect_boundary_is_exact_for_a_reflect_padded_model():
    model = ConvShuffle(3, 3, 2, bias=True, padding_mode="reflect")
    lr = torch.rand(1, 3, 10, 13)
    zero = hyra_decompose(model, lr, size=7)
    refl = hyra_decompose(model, lr, response=zero.response, boundary="reflect")
    assert _rel(refl.nonlinear, refl.sr) <= 1e-5
    assert _rel(zero.nonlinear, zero.sr) > 1e-2
    torch.testing.assert_close(zero.nonlinear[..., 2:-2, 2:-2], torch.zeros_like(zero.sr[..., 2:-2, 2:-2]))


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_shifted_impulse_lands_where_the_model_puts_it(scale):
    torch.manual_seed(scale)
    model = ConvShuffle(1, 1, scale, kernel_size=5)  # random, asymmetric kernel
    lr = torch.zeros(1, 1, 12, 15)
    lr[..., 3, 9] = 1.0
    res = hyra_decompose(model, lr, size=7)
    torch.testing.assert_close(res.linear, res.sr, atol=1e-6, rtol=0)
    assert res.linear.flatten().argmax() == res.sr.flatten().argmax()


def test_half_pixel_alignment_of_an_even_scale():
    lr = torch.zeros(1, 1, 10, 10, dtype=torch.float64)
    lr[..., 4, 6] = 1.0
    res = hyra_decompose(SincUpsampler(2, taps=3), lr, size=9)
    torch.testing.assert_close(res.linear, res.sr, atol=1e-12, rtol=0)
    peak = res.linear[0, 0]
    # centre of the response at HR (2*4 + 0.5, 2*6 + 0.5): four equal peak pixels
    assert torch.allclose(peak[8:10, 12:14], peak.max().expand(2, 2))


def test_response_is_reused():
    model = CountCalls(ConvShuffle(3, 3, 2))
    response = impulse_response(model, size=7)
    assert model.calls == 2  # the probe, and its second random stream (repeatability_error)
    lr = torch.rand(3, 8, 8)
    res = hyra_decompose(model, lr, response=response)
    assert model.calls == 3
    assert res.response is response
    assert res.sr.shape == (1, 3, 16, 16) and res.lr.shape == (1, 3, 8, 8)
    hyra_decompose(model, lr, size=5)
    assert model.calls == 6  # a probe of two passes, and the decomposition's one


def test_response_options_are_used():
    model = ReLUNet()
    lr = torch.rand(1, 3, 8, 8)
    r = impulse_response(model, size=7, background=0.5, amplitude=0.05, baseline=False)
    res = hyra_decompose(model, lr, response=r)
    assert res.baseline.abs().max() == 0
    lin = linear_response(lr, r)
    torch.testing.assert_close(res.linear, lin)
    # linear part acts on x - b: a constant image equal to the background has no linear part
    flat = hyra_decompose(model, torch.full((1, 3, 8, 8), 0.5), response=r)
    assert flat.linear.abs().max() < 1e-6


def test_scalars():
    torch.manual_seed(0)
    model = ReLUNet()
    lr = torch.rand(3, 3, 12, 12)
    res = hyra_decompose(model, lr, size=7)
    per = res.scalars(per_image=True)
    assert set(per) == {"nonlinear_energy_ratio", "hf_injection"}
    assert all(v.shape == (3,) for v in per.values())
    means = res.scalars()
    assert all(isinstance(v, float) for v in means.values())
    for k in per:
        assert means[k] == pytest.approx(float(per[k].mean()))
    g2 = (res.nonlinear[1] ** 2).sum()
    h2 = (res.linear[1] ** 2).sum()
    assert float(per["nonlinear_energy_ratio"][1]) == pytest.approx(float(g2 / (g2 + h2)), rel=1e-5)


def test_fsds_scalars():
    model = BicubicUpsampler(2)
    hr = load_photo("coffee")[:, :64, :64].unsqueeze(0)
    lr = torch.nn.functional.avg_pool2d(hr, 2)
    res = hyra_decompose(ReLUNet(), lr, hr=hr, size=7)
    s = res.scalars()
    assert {"fsds_linear", "fsds_sr", "fsds_gain"} <= set(s)
    assert s["fsds_gain"] == pytest.approx(s["fsds_sr"] - s["fsds_linear"])
    exact = hyra_decompose(model, lr[0], hr=hr[0], size=7, boundary="reflect").scalars(per_image=True)
    assert exact["fsds_sr"].shape == (1,)


@pytest.mark.parametrize("width", [8, 9])
@pytest.mark.parametrize("scale", [2, 3])
def test_stopband_energy_matches_full_fft(width, scale):
    x = torch.randn(2, 3, 12, width, dtype=torch.float64)
    spec = torch.fft.fft2(x)
    fy = torch.fft.fftfreq(12, dtype=torch.float64)[:, None] * 2
    fx = torch.fft.fftfreq(width, dtype=torch.float64)[None, :] * 2
    outside = (fy.abs() > 1 / scale + 1e-9) | (fx.abs() > 1 / scale + 1e-9)
    expected = (spec.abs() ** 2 * outside).sum(dim=(-3, -2, -1))
    torch.testing.assert_close(stopband_energy(x, scale), expected)


def test_mode_restore_and_float16():
    model = MixedModes()
    model.train()
    model.drop.eval()
    res = hyra_decompose(model, torch.rand(1, 3, 8, 8, requires_grad=True), size=7)
    assert model.training and model.bn.training and not model.drop.training
    assert not any(t.requires_grad for t in (res.sr, res.linear, res.nonlinear, res.baseline))
    torch.testing.assert_close(res.baseline + res.linear + res.nonlinear, res.sr)
    half = ConvShuffle(3, 3, 2).half()
    res = hyra_decompose(half, torch.rand(1, 3, 8, 8), size=7)
    assert res.sr.dtype == torch.float32 and res.linear.dtype == torch.float32
    assert _rel(res.nonlinear, res.sr) < 2e-3  # float16 rounding inside the model only


def test_bad_arguments():
    model = ConvShuffle(3, 3, 2)
    lr = torch.rand(1, 3, 8, 8)
    r = impulse_response(model, size=5)
    with pytest.raises(ValueError, match="`boundary`"):
        hyra_decompose(model, lr, response=r, boundary="wrap")
    with pytest.raises(ValueError, match="`hr`"):
        hyra_decompose(model, lr, response=r, hr=torch.rand(1, 3, 15, 16))
    with pytest.raises(ValueError, match="`hr`"):
        hyra_decompose(model, lr, response=r, hr=torch.rand(2, 3, 16, 16))
    with pytest.raises(ValueError, match="`lr`"):
        hyra_decompose(model, torch.rand(1, 2, 8, 8), response=r)
    with pytest.raises(ValueError, match="`lr`"):
        hyra_decompose(model, torch.ones(1, 3, 8, 8, dtype=torch.int64), response=r)
    with pytest.raises(ValueError, match="`lr`"):
        hyra_decompose(model, torch.rand(8, 8), response=r)
    with pytest.raises(ValueError, match="`probe_kwargs`"):
        hyra_decompose(model, lr, response=r, size=9)
    with pytest.raises(TypeError, match="`response`"):
        hyra_decompose(model, lr, response="r")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scale"):
        hyra_decompose(ConvShuffle(3, 3, 3), lr, response=r)


def test_paper_mode_with_different_channel_counts_suggests_cross_channel() -> None:
    model = ConvShuffle(in_channels=3, out_channels=1, scale=2)
    lr = torch.rand(1, 3, 8, 8)
    with pytest.raises(
        ValueError, match="cannot describe a model with 3 input channels and 1 output"
    ) as info:
        hyra_decompose(model, lr, mode="paper", size=9)
    assert 'mode="cross_channel"' in str(info.value)
    response = impulse_response(model, mode="paper", size=9)
    with pytest.raises(ValueError, match='mode="cross_channel"'):
        linear_response(lr, response)
    assert hyra_decompose(model, lr, size=9).linear.shape == (1, 1, 16, 16)
