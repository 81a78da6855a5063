"""Published architectures through spandrel: random-initialised SwinIR, RCAN, SPAN and ESRGAN from spandrel's own
classes, saved as plain and ``params_ema``-wrapped ``.pth`` and as ``.safetensors``, analysed by the command.

Needs the optional extra (``pip install "hyra-lightning[zoo]"``: spandrel, and a torchvision built for the
installed torch); skipped without it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hyra_lightning.analysis import impulse_response
from hyra_lightning.data import load_photo
from tests.conftest import run_cli

pytestmark = pytest.mark.requires("spandrel", "torchvision", "safetensors")

DESCRIPTORS = ("dc_gain", "cutoff", "sinc_similarity", "negative_lobe", "stopband_leakage")


def _networks() -> dict[str, tuple[torch.nn.Module, str, int]]:
    from spandrel.architectures.ESRGAN import ESRGAN
    from spandrel.architectures.RCAN import RCAN
    from spandrel.architectures.SPAN import SPAN
    from spandrel.architectures.SwinIR import SwinIR

    torch.manual_seed(0)
    return {
        "swinir": (
            SwinIR(
                img_size=16,
                embed_dim=12,
                depths=[1],
                num_heads=[2],
                window_size=4,
                mlp_ratio=2.0,
                upscale=2,
                upsampler="pixelshuffledirect",
            ),
            "SwinIR",
            2,
        ),
        "rcan": (RCAN(scale=2, n_resgroups=1, n_resblocks=1, n_feats=8, reduction=4), "RCAN", 2),
        "span": (SPAN(num_in_ch=3, num_out_ch=3, feature_channels=8, upscale=4), "SPAN", 4),
        "esrgan": (ESRGAN(num_filters=8, num_blocks=1, scale=4), "ESRGAN", 4),
    }


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    from safetensors.torch import save_file

    root = tmp_path_factory.mktemp("zoo")
    nets = _networks()
    for name, (net, _, _) in nets.items():
        sd = net.state_dict()
        torch.save(sd, root / f"{name}.pth")
        torch.save({"params_ema": sd, "params": sd}, root / f"{name}_ema.pth")
        save_file({k: v.contiguous() for k, v in sd.items()}, str(root / f"{name}.safetensors"))
    img = load_photo("coffee")[:, 40:136, 60:164]
    Image.fromarray((img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(root / "coffee.png")
    return root, nets


@pytest.mark.parametrize("arch", ["swinir", "rcan", "span", "esrgan"])
def test_published_architectures_in_every_file_format(zoo, arch, tmp_path):
    root, nets = zoo
    net, arch_name, scale = nets[arch]
    files = [root / f"{arch}.pth", root / f"{arch}_ema.pth", root / f"{arch}.safetensors"]
    out = tmp_path / "report"
    with pytest.raises(SystemExit) as exc:
        run_cli(
            [
                "analyze",
                *map(str, files),
                "--size",
                "17",
                "--images",
                str(root / "coffee.png"),
                "--out",
                str(out),
                "--no-progress",
            ],
            capture=False,
        )
    assert exc.value.code == 0
    doc = json.loads((out / "report.json").read_text())
    expected = impulse_response(net, size=17, scale=scale).describe().as_dict()
    for entry in doc["models"]:
        assert entry["error"] is None, entry["error"]
        assert entry["architecture"] == arch_name and entry["kind"] == "spandrel" and entry["scale"] == scale
        for key in DESCRIPTORS:
            assert entry["descriptors"][key] == pytest.approx(expected[key], rel=1e-4, abs=1e-6), (
                entry["name"],
                key,
            )
        (img,) = entry["images"]
        assert img["crop"] == [96 // scale * scale, 104 // scale * scale]
        assert all(v is not None for v in img["scores"].values())
    assert [m["name"] for m in doc["models"]] == [arch, f"{arch}_ema", f"{arch}-2"]
    page = (out / "report.html").read_text()
    assert page.count('<section class="model"') == 3 and arch_name in page


def test_unknown_architecture_lists_the_known_ones(tmp_path):
    from hyra_lightning.zoo import ModelLoadError, load_model, spandrel_architectures

    path = tmp_path / "mystery.pth"
    torch.save({"encoder.weight": torch.randn(4, 3, 3, 3), "decoder.bias": torch.randn(3)}, path)
    with pytest.raises(ModelLoadError, match="does not recognise the architecture") as exc:
        load_model(path)
    known = spandrel_architectures()
    assert {"SwinIR", "RCAN", "SPAN", "ESRGAN"} <= set(known)
    assert all(name in str(exc.value) for name in ("SwinIR", "ESRGAN", "HAT"))
    tensor_file = tmp_path / "tensor.pth"
    torch.save(torch.randn(3), tensor_file)
    with pytest.raises(ModelLoadError, match="not a checkpoint"):
        load_model(tensor_file)


def test_scale_mismatch_of_a_published_checkpoint(zoo):
    from hyra_lightning.zoo import ModelLoadError, load_model

    root, _ = zoo
    with pytest.raises(ModelLoadError, match=r"Scale mismatch: `--scale` is 2, .* x4 SPAN"):
        load_model(root / "span.safetensors", scale=2)
