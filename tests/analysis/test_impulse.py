import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hyra_lightning.analysis import (
    MAX_LINEARITY_ERROR,
    MAX_REPEATABILITY_ERROR,
    READING_ERRORS,
    ImpulseDescriptors,
    ImpulseResponse,
    ProbeOptions,
    describe_luminance,
    impulse_response,
    is_filter_reading,
    magnitude_profiles,
    phase_gains,
    reading_problem,
)
from hyra_lightning.models import BicubicUpsampler, SincUpsampler
from hyra_lightning.tags import IMPULSE_SCALARS
from tests.analysis._models import (
    BiasFreeReLUNet,
    ChannelProduct,
    ConvShuffle,
    MixedModes,
    NoisySR,
    ReLUNet,
    bicubic_closed_form,
)


class Interpolate(nn.Module):
    def __init__(self, scale_factor: float | tuple[float, float]) -> None:
        super().__init__()
        self.scale_factor = scale_factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=self.scale_factor, mode="nearest")


class PadToMultiple(nn.Module):
    """Runs only on multiples of 8, but pads internally and crops back (like SwinIR)."""

    def __init__(self, scale: int = 2) -> None:
        super().__init__()
        self.body = ConvShuffle(3, 3, scale)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = F.pad(x, (0, -w % 8, 0, -h % 8), mode="reflect")
        assert x.shape[-1] % 8 == 0 and x.shape[-2] % 8 == 0
        return self.body(x)[..., : self.scale * h, : self.scale * w]


class NeedsMultipleOf8(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = ConvShuffle(3, 3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 8:
            raise ValueError("input size must be a multiple of 8")
        return self.body(x)


class Subsample(nn.Module):
    """Keeps every other LR pixel, then upsamples by 4: x2 overall and not shift-invariant."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1, bias=False)
        nn.init.ones_(self.conv.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.conv(x)[..., ::2, ::2], scale_factor=4, mode="nearest")[..., :-2, :-2]


# ------------------------------------------------------------------------------------ ground truth


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_kernel_equals_closed_form(scale):
    r = impulse_response(BicubicUpsampler(scale), in_channels=2, size=9, dtype=torch.float64)
    assert r.kernel.dtype == torch.float64
    assert r.kernel.shape == (2, 2, 9 * scale, 9 * scale)
    expected = bicubic_closed_form(scale, 9)
    torch.testing.assert_close(r.kernel[0, 0], expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(r.kernel[1, 1], expected, atol=1e-6, rtol=0)
    assert r.kernel[0, 1].abs().max() == 0 and r.kernel[1, 0].abs().max() == 0
    torch.testing.assert_close(r.luminance, expected, atol=1e-6, rtol=0)
    assert r.center == (scale * 4 + (scale - 1) / 2,) * 2


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_descriptors(scale):
    d = impulse_response(BicubicUpsampler(scale), in_channels=1, dtype=torch.float64).describe()
    assert d.dc_gain == pytest.approx(1.0, abs=1e-9)
    assert abs(d.cutoff - 1 / scale) < 0.03 / scale
    assert d.cutoff_h == pytest.approx(d.cutoff_v, abs=1e-12)
    assert d.anisotropy == pytest.approx(0.0, abs=1e-9)
    assert 0.05 < d.negative_lobe < 0.2  # the cubic kernel has shallow negative lobes
    assert d.stopband_leakage > 0.03  # and it is a poor low-pass filter compared to a sinc


def test_response_is_centred_and_symmetric():
    r = impulse_response(BicubicUpsampler(2), in_channels=1, size=11, dtype=torch.float64)
    g = r.luminance
    torch.testing.assert_close(g, g.flip(0))
    torch.testing.assert_close(g, g.flip(1))
    # peak pixels straddle the half-pixel centre
    assert r.center == (10.5, 10.5)
    assert g[10, 10] == g.max() and g[11, 11] == g.max()


def test_paper_mode_without_baseline_equals_model_output():
    model = ConvShuffle(3, 3, 2, bias=True)
    r = impulse_response(model, mode="paper", baseline=False, size=9)
    assert r.kernel.shape == (3, 1, 18, 18)
    delta = torch.zeros(1, 3, 9, 9)
    delta[..., 4, 4] = 1.0
    with torch.no_grad():
        expected = model(delta)[0]
    torch.testing.assert_close(r.kernel[:, 0], expected)
    assert r.mode == "paper" and r.baseline is False


def test_paper_mode_equals_sum_over_input_channels_for_a_linear_model():
    model = ConvShuffle(3, 2, 3, bias=True)
    cross = impulse_response(model, size=7)
    paper = impulse_response(model, size=7, mode="paper")
    torch.testing.assert_close(paper.kernel[:, 0], cross.kernel.sum(1), atol=1e-6, rtol=0)
    torch.testing.assert_close(paper.luminance, cross.luminance, atol=1e-6, rtol=0)


def test_baseline_removes_biases():
    model = ConvShuffle(3, 3, 2, bias=True)
    nn.init.constant_(model.conv.bias, 0.7)
    bias_free = ConvShuffle(3, 3, 2, bias=False)
    bias_free.conv.weight.data.copy_(model.conv.weight.data)
    r = impulse_response(model, size=9, background=0.3, amplitude=0.5)
    r0 = impulse_response(bias_free, size=9)
    torch.testing.assert_close(r.kernel, r0.kernel, atol=1e-5, rtol=0)
    raw = impulse_response(model, size=9, baseline=False)
    assert (raw.kernel - r0.kernel).abs().max() > 0.5


def test_probe_options_are_recorded():
    r = impulse_response(ReLUNet(), size=7, amplitude=0.02, background=0.5, mode="paper", baseline=True)
    assert (r.size, r.amplitude, r.background, r.baseline, r.mode) == (7, 0.02, 0.5, True, "paper")
    assert r.scale == 2 and r.in_channels == 1 and r.out_channels == 3
    assert isinstance(r, ImpulseResponse)


def test_in_channels_is_read_from_the_first_conv():
    r = impulse_response(ConvShuffle(4, 2, 2), size=5)
    assert r.kernel.shape == (2, 4, 10, 10)
    r = impulse_response(ConvShuffle(4, 2, 2), size=5, in_channels=4, scale=2)
    assert r.kernel.shape == (2, 4, 10, 10)


def test_model_that_pads_internally():
    r = impulse_response(PadToMultiple(2), size=9)
    assert r.kernel.shape == (3, 3, 18, 18)
    assert torch.isfinite(r.kernel).all()


def test_reading_errors_are_measured_at_every_probe_and_can_be_left_out():
    d = impulse_response(BicubicUpsampler(3), in_channels=1, size=9).describe()
    assert set(d.as_dict()) >= set(READING_ERRORS)
    assert d.shift_variance == pytest.approx(0.0, abs=1e-6)
    assert d.homogeneity_error == pytest.approx(0.0, abs=1e-6)

    d = impulse_response(Subsample(), size=9).describe()
    assert d.shift_variance > 0.5  # not shift-invariant: a sibling of the verdict, not part of it
    assert d.linearity_error < 1e-6 and d.filter_reading

    torch.manual_seed(1)
    model = ReLUNet()
    plain = impulse_response(model, size=9, checks=False)
    r = impulse_response(model, size=9)
    torch.testing.assert_close(r.kernel, plain.kernel, atol=1e-6, rtol=0)
    assert r.homogeneity_error > 1e-3
    assert r.shift_variance < 1e-5  # convolutions and pixel shuffle are shift-invariant by s

    d = plain.describe()
    assert all(getattr(d, name) is None for name in READING_ERRORS)
    assert d.filter_reading and d.reading_problem is None  # nothing measured, nothing against it
    assert set(d.as_dict()) == set(IMPULSE_SCALARS)
    assert all(isinstance(v, float) for v in r.describe().as_dict().values())


# ------------------------------------------------------------------------------------ side effects


def _flags(model):
    return {name: m.training for name, m in model.named_modules()}


def test_train_eval_flags_are_restored():
    model = MixedModes()
    model.train()
    model.drop.eval()
    model.tail.eval()
    before = _flags(model)
    impulse_response(model, size=7)
    assert _flags(model) == before
    model.eval()
    model.bn.train()
    before = _flags(model)
    impulse_response(model, size=7)
    assert _flags(model) == before


def test_flags_are_restored_when_the_forward_raises():
    model = MixedModes(raise_in_forward=True)
    model.train()
    model.drop.eval()
    before = _flags(model)
    with pytest.raises(RuntimeError, match=r"could not run on a 9 x 9 probe.*size=33") as info:
        impulse_response(model, size=9)
    assert isinstance(info.value.__cause__, RuntimeError) and "boom" in str(info.value.__cause__)
    assert _flags(model) == before


def test_model_failing_at_the_probe_size_suggests_a_size():
    with pytest.raises(RuntimeError, match=r"33 x 33 probe.*size=65"):
        impulse_response(NeedsMultipleOf8())


def test_rng_parameters_buffers_and_grads_are_untouched():
    model = MixedModes(force_dropout=True)
    model.train()
    model.conv.weight.grad = torch.ones_like(model.conv.weight)
    params = {k: v.detach().clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    r1 = impulse_response(model, size=7)
    assert torch.equal(torch.get_rng_state(), rng)
    for k, v in model.state_dict().items():
        assert torch.equal(v, params[k]), k
    assert torch.equal(model.conv.weight.grad, torch.ones_like(model.conv.weight))
    assert model.tail.weight.grad is None
    assert not r1.kernel.requires_grad
    # the forked RNG starts from the same state every time, so even forced dropout is reproducible
    torch.testing.assert_close(impulse_response(model, size=7).kernel, r1.kernel)


def test_float16_model_on_cpu():
    torch.manual_seed(3)
    model = ConvShuffle(3, 3, 2, bias=True)
    ref = impulse_response(model, size=9, amplitude=0.5, background=0.25)
    r = impulse_response(model.half(), size=9, amplitude=0.5, background=0.25)
    assert model.conv.weight.dtype == torch.float16
    assert r.kernel.dtype == torch.float32 and r.luminance.dtype == torch.float32
    peak = ref.kernel.abs().max()
    assert (r.kernel - ref.kernel).abs().max() < 5e-3 * peak
    d = r.describe()
    assert math.isfinite(d.cutoff) and math.isfinite(d.dc_gain)


def test_float64_model_gives_float64_kernel():
    r = impulse_response(ConvShuffle(3, 3, 2).double(), size=5)
    assert r.kernel.dtype == torch.float64


# ------------------------------------------------------------------------------------ bad arguments


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"size": 32}, "`size`"),
        ({"size": 1}, "`size`"),
        ({"size": 9.0}, "`size`"),
        ({"amplitude": 0.0}, "`amplitude`"),
        ({"amplitude": -1.0}, "`amplitude`"),
        ({"amplitude": math.nan}, "`amplitude`"),
        ({"amplitude": math.inf}, "`amplitude`"),
        ({"background": math.nan}, "`background`"),
        ({"mode": "rgb"}, "`mode`"),
        ({"scale": 0}, "`scale`"),
        ({"scale": 3}, "`scale` is 3"),
        ({"in_channels": 0}, "`in_channels`"),
        ({"dtype": torch.int64}, "`dtype`"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        impulse_response(ConvShuffle(3, 3, 2), **{"size": 5, **kwargs})


def test_in_channels_cannot_be_inferred():
    with pytest.raises(ValueError, match="`in_channels`"):
        impulse_response(BicubicUpsampler(2))


@pytest.mark.parametrize("factor", [1.5, (2.0, 3.0)])
def test_non_integer_or_anisotropic_scale(factor):
    with pytest.raises(ValueError, match="one integer factor"):
        impulse_response(Interpolate(factor), in_channels=1, size=5)


def test_not_a_module():
    with pytest.raises(TypeError, match="`model`"):
        impulse_response(lambda x: x, in_channels=1)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ descriptors


def _ideal_sinc(scale: int, size: int, stretch_x: float = 1.0) -> torch.Tensor:
    """Unit-DC ideal low-pass response (cutoff 1/s; 1/(s*stretch_x) along x)."""
    x0 = scale * (size // 2) + (scale - 1) / 2
    t = (torch.arange(scale * size, dtype=torch.float64) - x0) / scale
    return torch.sinc(t)[:, None] * torch.sinc(t / stretch_x)[None, :] / stretch_x


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_describe_ideal_sinc(scale):
    g = _ideal_sinc(scale, 33)
    d = describe_luminance(g, scale)
    assert isinstance(d, ImpulseDescriptors)
    assert d.sinc_similarity == pytest.approx(1.0, abs=1e-12)
    # -min/max of the continuous sinc is 0.217; the sampled one depends on where the samples fall
    assert d.negative_lobe == pytest.approx(float(-g.min() / g.max()))
    assert 0.2 < d.negative_lobe < 0.225
    assert abs(d.cutoff - 1 / scale) < 0.02 / scale
    assert d.stopband_leakage < 2e-3
    assert d.dc_gain == pytest.approx(1.0, abs=0.02)


def test_describe_anisotropic_and_scaled_response():
    d = describe_luminance(_ideal_sinc(2, 33, stretch_x=1.5), 2)
    assert d.cutoff_h == pytest.approx(1 / 3, abs=0.01)
    assert d.cutoff_v == pytest.approx(1 / 2, abs=0.01)
    assert d.anisotropy == pytest.approx(abs(d.cutoff_h - d.cutoff_v) / d.cutoff)
    assert d.anisotropy == pytest.approx(0.4, abs=0.03)
    g = _ideal_sinc(2, 17)
    d2 = describe_luminance(3 * g, 2)
    d1 = describe_luminance(g, 2)
    assert d2.dc_gain == pytest.approx(3 * d1.dc_gain)
    for name in ("cutoff", "sinc_similarity", "negative_lobe", "stopband_leakage"):
        assert getattr(d2, name) == pytest.approx(getattr(d1, name))


def test_describe_positive_and_zero_responses():
    g = torch.zeros(12, 12)
    g[5:7, 5:7] = 1.0
    d = describe_luminance(g, 2)
    assert d.negative_lobe == 0.0
    assert d.dc_gain == pytest.approx(1.0)
    d = describe_luminance(torch.zeros(12, 12), 2)
    assert d.dc_gain == 0.0
    assert math.isnan(d.cutoff) and math.isnan(d.sinc_similarity) and math.isnan(d.negative_lobe)


def test_describe_bad_arguments():
    with pytest.raises(ValueError, match="`g`"):
        describe_luminance(torch.zeros(4, 6), 2)
    with pytest.raises(ValueError, match="multiple of `scale`"):
        describe_luminance(torch.zeros(9, 9), 2)
    with pytest.raises(ValueError, match="`scale`"):
        describe_luminance(torch.zeros(8, 8), 0)


def test_magnitude_profiles():
    r = impulse_response(BicubicUpsampler(4), in_channels=1, size=9, dtype=torch.float64)
    f, mh, mv = magnitude_profiles(r)
    f2, mh2, _ = r.profiles()
    assert torch.equal(f, f2) and torch.equal(mh, mh2)
    assert f[0] == 0 and f[-1] == 1 and f.shape == mh.shape == mv.shape
    assert mh[0] == pytest.approx(1.0) and mv[0] == pytest.approx(1.0)
    torch.testing.assert_close(mh, mv)
    # the profile is the DTFT of the separable 1-D kernel
    w = bicubic_closed_form(4, 9)[18]
    t = torch.arange(36, dtype=torch.float64)
    for k in (10, 100, 500):
        expected = (w * torch.exp(-1j * torch.pi * f[k] * t)).sum().abs() / w.sum()
        assert mh[k] == pytest.approx(float(expected), abs=1e-10)
    f3, _, _ = magnitude_profiles(r.luminance, n_fft=64)
    assert f3.shape == (33,)
    with pytest.raises(ValueError, match="`n_fft`"):
        magnitude_profiles(r.luminance, n_fft=35)
    with pytest.raises(ValueError, match="`n_fft`"):
        magnitude_profiles(r.luminance, n_fft=16)


# ------------------------------------------------------------------------------------ issue 9 (i, j, p)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_negative_lobe_of_a_non_negative_response_is_plus_zero(mode: str) -> None:
    model = nn.Upsample(scale_factor=2, mode=mode)
    lobe = impulse_response(model, in_channels=3, size=9).describe().negative_lobe
    assert lobe == 0.0 and math.copysign(1.0, lobe) == 1.0
    assert f"{lobe:.3f}" == "0.000"


class SRMDLike(nn.Module):
    """Takes 3-channel images; its first layer sees them with 15 degradation maps appended (like SRMD)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(18, 12, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = torch.zeros(x.shape[0], 15, *x.shape[-2:], dtype=x.dtype, device=x.device)
        return self.shuffle(self.conv(torch.cat([x, maps], dim=1)))


def test_channel_mismatch_says_first_that_in_channels_may_be_wrong() -> None:
    with pytest.raises(RuntimeError) as info:
        impulse_response(SRMDLike(), size=9)
    message = str(info.value)
    assert message.startswith("The model could not run on a probe with 18 input channels (read from")
    assert message.index("`in_channels`") < message.index("Original error")
    assert "size=" not in message  # not the advice for networks that downsample
    assert impulse_response(SRMDLike(), size=9, in_channels=3).kernel.shape == (3, 3, 18, 18)
    with pytest.raises(
        RuntimeError, match=r"^The model could not run on a probe with 5 input channels \(the"
    ):
        impulse_response(SRMDLike(), size=9, in_channels=5)


def test_phase_gains_sum_each_sub_pixel_phase() -> None:
    k = torch.arange(36.0).reshape(6, 6)
    gains = phase_gains(k, 3)
    assert gains.shape == (3, 3) and gains.dtype == torch.float64
    assert gains[1, 2] == k[1::3, 2::3].sum()
    assert gains.mean() * 9 == pytest.approx(float(k.sum()))
    with pytest.raises(ValueError, match="`k`"):
        phase_gains(torch.zeros(5, 6), 3)
    with pytest.raises(ValueError, match="`scale`"):
        phase_gains(k, 0)


def _grid_network() -> ConvShuffle:
    """1x1 conv + pixel shuffle whose sub-pixel gains differ per output channel: a colour checkerboard."""
    model = ConvShuffle(in_channels=3, out_channels=3, scale=2, kernel_size=1)
    weight = torch.zeros(12, 3, 1, 1)
    gains = torch.tensor([[0.93, 1.13, 0.97, 0.97], [1.0, 1.0, 1.05, 0.95], [1.0, 1.0, 1.0, 1.0]])
    for o in range(3):
        for phase in range(4):
            weight[4 * o + phase, o] = gains[o, phase]
    with torch.no_grad():
        model.conv.weight.copy_(weight)
    return model


def test_phase_gain_spread_sees_a_colour_grid_that_dc_gain_hides() -> None:
    r = impulse_response(_grid_network(), size=9)
    assert r.phase_gains.shape == (3, 2, 2)
    torch.testing.assert_close(
        r.phase_gains[0].flatten(), torch.tensor([0.93, 1.13, 0.97, 0.97], dtype=torch.float64)
    )
    d = r.describe()
    assert d.dc_gain == pytest.approx(1.0, abs=1e-6)  # the mean hides the grid
    assert d.phase_gain_spread == pytest.approx(0.20, abs=1e-5)
    assert d.as_dict()["phase_gain_spread"] == d.phase_gain_spread
    # what HyRA's linear part makes of a flat grey image: the per-channel s x s pattern of the gains
    from hyra_lightning.analysis import linear_response

    flat = linear_response(torch.full((1, 3, 6, 6), 0.5), r, boundary="reflect")
    block = (0.5 * r.phase_gains).float()
    torch.testing.assert_close(flat[0], block.repeat(1, 6, 6), atol=1e-6, rtol=0)
    # an ideal interpolator has equal gains
    assert impulse_response(BicubicUpsampler(2), in_channels=3, size=9).describe().phase_gain_spread < 1e-5
    # describe_luminance: the gains of the channel-mean luminance only
    assert describe_luminance(r.luminance, 2).phase_gain_spread == pytest.approx(
        float(phase_gains(r.luminance, 2).max() - phase_gains(r.luminance, 2).min()), abs=1e-6
    )


# ------------------------------------------------------------------------------------- ProbeOptions


def test_probe_options_validate_and_name_the_argument():
    from hyra_lightning.analysis import ProbeOptions

    bad = {
        "size": [8, 1, True, 9.0],
        "amplitude": [0, -1.0, float("inf"), True],
        "background": [float("nan"), "0", False],
        "baseline": [1, "yes"],
        "mode": ["cross", None],
        "scale": [0, True, 2.0],
        "in_channels": [0, False],
        "checks": [0],
        "dtype": [torch.int64, "float32"],
    }
    for name, values in bad.items():
        for value in values:
            with pytest.raises(ValueError, match=rf"^Expected `{name}` to be .*, got "):
                ProbeOptions(**{name: value})
    options = ProbeOptions(size=9, scale=None, dtype=torch.float64)
    assert options == ProbeOptions(size=9, dtype=torch.float64)
    assert hash(options) == hash(ProbeOptions(size=9, dtype=torch.float64))
    with pytest.raises(ValueError, match="`size`"):
        options.replace(size=4)
    with pytest.raises(AttributeError):
        options.size = 11  # frozen


def test_impulse_response_keeps_its_options_and_accepts_them():
    from hyra_lightning.analysis import ProbeOptions

    model = BicubicUpsampler(2)
    r = impulse_response(model, size=9, in_channels=3, amplitude=0.5, background=0.25)
    assert r.options == ProbeOptions(
        size=9, amplitude=0.5, background=0.25, scale=2, in_channels=3, dtype=torch.float32
    )
    again = impulse_response(model, options=r.options)
    assert torch.equal(again.kernel, r.kernel)
    assert again.options == r.options
    paper = impulse_response(model, options=ProbeOptions(size=9, in_channels=3, mode="paper"))
    assert paper.mode == "paper" and paper.kernel.shape == (3, 1, 18, 18)
    with pytest.raises(ValueError, match=r"either `options` or the probe keyword arguments.*\['size'\]"):
        impulse_response(model, size=11, options=r.options)
    with pytest.raises(TypeError, match="`options`"):
        impulse_response(model, options={"size": 9})
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['extra'\].*'checks'"):
        impulse_response(model, extra=True)
    # one way in: the options, positional or by name; single settings only build them
    assert impulse_response(model, r.options).options == r.options
    assert impulse_response(model, size=9, in_channels=3, amplitude=0.5, background=0.25).options == r.options


def test_hyra_decompose_accepts_probe_options():
    from hyra_lightning.analysis import ProbeOptions, hyra_decompose

    lr = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    res = hyra_decompose(BicubicUpsampler(2), lr, options=ProbeOptions(size=9))
    assert res.response.options.in_channels == 3
    assert res.response.options.dtype == torch.float64


# ------------------------------------------------------------------------------------ reading errors


@pytest.mark.parametrize(
    ("model", "options"),
    [
        (BicubicUpsampler(2), ProbeOptions(size=9, in_channels=3)),
        (BicubicUpsampler(3), ProbeOptions(size=9, in_channels=3, amplitude=0.02, background=0.5)),
        (BicubicUpsampler(2), ProbeOptions(size=9, in_channels=3, mode="paper", baseline=False)),
        (SincUpsampler(2), ProbeOptions(size=17, in_channels=1)),
        (SincUpsampler(3), ProbeOptions(size=9, in_channels=3, amplitude=0.02, background=0.5)),
        (ConvShuffle(3, 3, 2, bias=False), ProbeOptions(size=9)),
        (ConvShuffle(3, 3, 3, bias=True), ProbeOptions(size=9, amplitude=0.02, background=0.5)),
        (ConvShuffle(1, 1, 2, kernel_size=5), ProbeOptions(size=11, mode="paper")),
    ],
    ids=[
        "bicubic",
        "bicubic-grey",
        "bicubic-paper",
        "sinc",
        "sinc-grey",
        "conv",
        "affine-grey",
        "conv-paper",
    ],
)
def test_reading_errors_vanish_for_linear_upsamplers(model, options):
    torch.manual_seed(0)
    d = impulse_response(model, options).describe()
    # float32 rounding of b + a: relative errors of 1e-5 at a = 0.02 on b = 0.5
    assert 0 <= d.linearity_error < 1e-4
    assert d.linearity_error == max(d.homogeneity_error, d.superposition_error)
    assert d.repeatability_error < 1e-4  # 0, or float rounding where a batch of 2 is computed differently
    assert d.shift_variance < 1e-4
    assert d.filter_reading and d.reading_problem is None


def test_noise_injection_is_caught_by_two_random_streams():
    """The deterministic part reads dc_gain 1-ish; noise of 0.01 on the output, probed with 0.02 on 0.5, moves
    it far away: the reading says it is not repeatable, hence not a filter, and says to switch the noise off."""
    torch.manual_seed(0)
    noisy = NoisySR(sigma=0.01)
    options = ProbeOptions(size=9, amplitude=0.02, background=0.5)
    clean = impulse_response(noisy.body, options).describe()
    rng = torch.get_rng_state()
    r = impulse_response(noisy, options)
    assert torch.equal(torch.get_rng_state(), rng)  # the global RNG is untouched
    d = r.describe()
    assert abs(d.dc_gain - clean.dc_gain) > 0.2  # the noise is in the descriptors
    assert d.repeatability_error > 0.5 and d.linearity_error > 0.5
    assert not d.filter_reading and not r.filter_reading
    assert "repeatability_error" in d.reading_problem and "eval()" in d.reading_problem
    assert "amplitude=0.02" not in d.reading_problem  # the noise, not the amplitude, is the cause
    # the two streams are fixed: probing again reads the same numbers, whatever the caller's RNG state
    torch.manual_seed(123)
    again = impulse_response(noisy, options)
    torch.testing.assert_close(again.kernel, r.kernel)
    assert again.repeatability_error == r.repeatability_error


def test_randomness_drawn_once_per_forward_pass_is_caught():
    """One random gain per forward pass treats every image of the batch alike: only a second pass on another
    random stream shows it."""
    torch.manual_seed(0)
    d = impulse_response(NoisySR(sigma=0.2, per_element=False), size=9).describe()
    assert d.linearity_error < 1e-5  # within one pass the network is linear
    assert d.repeatability_error > 0.01 and not d.filter_reading


def test_forced_dropout_is_not_repeatable():
    torch.manual_seed(0)
    d = impulse_response(MixedModes(force_dropout=True), size=7).describe()
    assert d.repeatability_error > 0.1 and not d.filter_reading


def test_relu_network_on_black_with_a_unit_impulse_is_not_linear():
    torch.manual_seed(0)
    model = BiasFreeReLUNet()
    d = impulse_response(model, size=9).describe()
    assert d.homogeneity_error < 1e-6  # positively homogeneous: a and a/2 agree ...
    assert d.superposition_error > 0.05  # ... but two impulses do not add up
    assert d.linearity_error == d.superposition_error
    assert d.repeatability_error < 1e-5
    assert not d.filter_reading
    assert "linearity_error" in d.reading_problem and "amplitude=0.02, background=0.5" in d.reading_problem

    torch.manual_seed(1)
    biased = impulse_response(ReLUNet(), size=9).describe()
    assert biased.homogeneity_error > 0.05 and not biased.filter_reading


def test_superposition_across_input_channels():
    """A product of two channels at one pixel: two impulses at different pixels never meet in it, but the
    impulse in every channel differs from the sum of the per-channel responses."""
    d = impulse_response(ChannelProduct(), size=9).describe()
    assert d.superposition_error > 0.05 and not d.filter_reading
    paper = impulse_response(ChannelProduct(), size=9, mode="paper").describe()
    assert paper.superposition_error < 1e-6  # spatial superposition alone does not see it ...
    assert paper.homogeneity_error > 0.05 and not paper.filter_reading  # ... homogeneity does


def test_filter_reading_thresholds():
    assert is_filter_reading(0.0, 0.0) and is_filter_reading(None, None)
    assert is_filter_reading(MAX_LINEARITY_ERROR, MAX_REPEATABILITY_ERROR)
    assert not is_filter_reading(MAX_LINEARITY_ERROR * 1.01, 0.0)
    assert not is_filter_reading(0.0, MAX_REPEATABILITY_ERROR * 1.01)
    assert not is_filter_reading(math.nan, 0.0) and not is_filter_reading(0.0, math.inf)
    assert reading_problem(0.0, None) is None
    assert "linearity_error 0.3 > 0.05" in reading_problem(0.3, 0.0)
