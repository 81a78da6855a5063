"""Probes measure the network, not the arithmetic of the moment (autocast, TF32, half weights)."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch.plugins.precision import HalfPrecision, MixedPrecision
from torch import Tensor, nn

from hyra_lightning.analysis import full_precision, hyra_decompose, impulse_response, probe_dtype
from hyra_lightning.analysis.precision import forward_in, tf32_state
from hyra_lightning.data import load_photo
from hyra_lightning.models import EDSR

SETTINGS = [(0.02, 0.5), (1.0, 0.0)]  # SPEC's setting for ReLU networks, and the paper's


class NearestX2(nn.Module):
    """Exact nearest-neighbour x2 upsampling as a 1x1 convolution (weights 1) and a pixel shuffle."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 12, 1, bias=False)
        with torch.no_grad():
            self.conv.weight.zero_()
            for c in range(3):
                self.conv.weight[4 * c : 4 * c + 4, c] = 1.0
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x: Tensor) -> Tensor:
        return self.shuffle(self.conv(x))


def _representable(model: nn.Module) -> nn.Module:
    """Round every weight and buffer to a value that float16 and bfloat16 both hold exactly: then `16-true`
    and `bf16-true` hold the same weights as `32-true`, and only the arithmetic differs."""
    with torch.no_grad():
        for p in [*model.parameters(), *model.buffers()]:
            rounded = p.bfloat16().float()
            rounded[rounded.abs() < 2**-14] = 0.0  # below float16's normal range
            p.copy_(rounded)
    return model


def _trained_edsr(steps: int) -> nn.Module:
    torch.manual_seed(0)
    model = EDSR(scale=2, n_resblocks=2, n_feats=16)
    if steps:
        hr = load_photo("coffee")[:, :96, :96][None]
        lr = F.interpolate(hr, scale_factor=0.5, mode="bicubic", antialias=True)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        for _ in range(steps):
            optimizer.zero_grad()
            F.l1_loss(model(lr), hr).backward()
            optimizer.step()
    return _representable(model)


@pytest.fixture(scope="module", params=[0, 5], ids=["init", "5-steps"])
def edsr(request: pytest.FixtureRequest) -> nn.Module:
    return _trained_edsr(request.param)


def _probe_under(model: nn.Module, precision: str, amplitude: float, background: float):
    """Probe as a monitor does under a Lightning precision plugin: its module conversion and forward context."""
    model = copy.deepcopy(model)
    if precision == "32-true":
        return impulse_response(model, size=17, amplitude=amplitude, background=background)
    plugin = MixedPrecision(precision, "cpu") if precision.endswith("mixed") else HalfPrecision(precision)
    model = plugin.convert_module(model)
    with plugin.forward_context():
        return impulse_response(model, size=17, amplitude=amplitude, background=background)


@pytest.mark.parametrize(("amplitude", "background"), SETTINGS)
@pytest.mark.parametrize("precision", ["bf16-mixed", "16-true", "bf16-true"])
def test_descriptors_do_not_depend_on_the_trainer_precision(edsr, precision, amplitude, background):
    reference = _probe_under(edsr, "32-true", amplitude, background).describe().as_dict()
    response = _probe_under(edsr, precision, amplitude, background)
    for name, value in response.describe().as_dict().items():
        assert math.isclose(value, reference[name], abs_tol=1e-3), (name, value, reference[name])
    assert response.kernel.dtype == torch.float32
    assert response.precision == torch.float32


def test_half_weights_measured_through_a_copy_and_left_untouched(edsr):
    model = copy.deepcopy(edsr).to(torch.bfloat16).train()
    before = {name: (p.data_ptr(), p.detach().clone()) for name, p in model.named_parameters()}
    response = impulse_response(model, size=17, amplitude=0.02, background=0.5)
    assert (response.precision, response.model_dtype) == (torch.float32, torch.bfloat16)
    assert model.training and all(m.training for m in model.modules())
    for name, p in model.named_parameters():
        assert p.dtype == torch.bfloat16
        assert p.data_ptr() == before[name][0] and torch.equal(p, before[name][1])
    reference = impulse_response(copy.deepcopy(edsr), size=17, amplitude=0.02, background=0.5)
    torch.testing.assert_close(response.kernel, reference.kernel, atol=1e-6, rtol=1e-5)


def test_nearest_neighbour_reads_dc_gain_one_under_bf16_autocast():
    with torch.autocast("cpu", dtype=torch.bfloat16):
        response = impulse_response(NearestX2(), size=9, amplitude=0.02, background=0.5)
        hyra = hyra_decompose(NearestX2(), load_photo("camera")[:, :24, :24], size=9, boundary="reflect")
    descriptors = response.describe()
    assert abs(descriptors.dc_gain - 1.0) < 1e-6
    assert hyra.sr.dtype == torch.float32
    assert hyra.nonlinear.abs().max() < 1e-6


def test_float64_stays_float64_and_dtype_is_never_half():
    model = NearestX2().double()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        response = impulse_response(model, size=9, amplitude=0.02, background=0.5)
    assert response.precision == response.kernel.dtype == torch.float64
    assert impulse_response(NearestX2(), size=9, dtype=torch.float16).precision == torch.float32
    assert impulse_response(NearestX2(), size=9, dtype=torch.float64).precision == torch.float64
    assert probe_dtype(torch.float16) == probe_dtype(None) == torch.float32


class Recorder(nn.Module):
    """NearestX2 that records, during its forward, the dtype of a convolution and the TF32 settings."""

    def __init__(self) -> None:
        super().__init__()
        self.net = NearestX2()
        self.seen: list[tuple[torch.dtype, dict, torch.dtype]] = []

    def forward(self, x: Tensor) -> Tensor:
        y = self.net(x)
        self.seen.append((y.dtype, tf32_state(), torch.get_default_dtype()))
        return y


def _full_precision_state() -> dict:
    with full_precision():
        return tf32_state()


def test_probe_runs_without_autocast_and_tf32_and_restores_them():
    model = Recorder()
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high")  # what users set to enable TF32 matmuls
    try:
        before = tf32_state()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            impulse_response(model, size=9)
            hyra_decompose(model, torch.rand(1, 3, 12, 12), size=9)
            assert (
                torch.is_autocast_enabled("cpu")
                if hasattr(torch, "get_autocast_dtype")
                else torch.is_autocast_cpu_enabled()
            )
        assert tf32_state() == before
        assert before["float32_matmul_precision"] == "high"
    finally:
        torch.set_float32_matmul_precision(previous)
    assert len(model.seen) == 5  # probe (two random streams), probe of hyra (two), hyra forward
    for dtype, state, default in model.seen:
        assert dtype == torch.float32
        assert state["float32_matmul_precision"] == "highest"
        assert all(
            value in (False, "ieee") for key, value in state.items() if key != "float32_matmul_precision"
        )
        assert default == torch.float32


def test_full_precision_raises_a_half_default_dtype_and_restores_it():
    torch.set_default_dtype(torch.float32)
    plugin = HalfPrecision("bf16-true")
    with plugin.forward_context():
        assert torch.get_default_dtype() == torch.bfloat16
        with full_precision():
            assert torch.get_default_dtype() == torch.float32
        assert torch.get_default_dtype() == torch.bfloat16
    assert torch.get_default_dtype() == torch.float32


def test_forward_in_leaves_matching_models_alone():
    model = NearestX2()
    x = torch.rand(1, 3, 4, 4)
    assert torch.equal(forward_in(model, x, torch.float32), model(x))
    half = NearestX2().half()
    assert forward_in(half, x, torch.float32).dtype == torch.float32
    assert half.conv.weight.dtype == torch.float16


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize(("amplitude", "background"), SETTINGS)
def test_tf32_enabled_globally_does_not_reach_the_probe(amplitude, background):
    """On a GPU with TF32 on for cuBLAS and cuDNN, a float32 probe matches the float64 probe of the same weights."""
    torch.manual_seed(0)
    model = EDSR(scale=2, n_resblocks=4, n_feats=64).cuda()
    reference = impulse_response(
        copy.deepcopy(model).double(), size=33, amplitude=amplitude, background=background
    )
    previous = (torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32)
    torch.set_float32_matmul_precision("high")
    torch.backends.cudnn.allow_tf32 = True
    try:
        before = tf32_state()
        response = impulse_response(model, size=33, amplitude=amplitude, background=background)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            mixed = impulse_response(model, size=33, amplitude=amplitude, background=background)
        assert tf32_state() == before
    finally:
        torch.set_float32_matmul_precision(previous[0])
        torch.backends.cudnn.allow_tf32 = previous[1]
    expected = reference.describe().as_dict()
    for measured in (response, mixed):
        assert measured.precision == torch.float32
        for name, value in measured.describe().as_dict().items():
            assert math.isclose(value, expected[name], abs_tol=1e-4), (name, value, expected[name])
