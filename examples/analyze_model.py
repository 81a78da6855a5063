"""Probe and decompose an SR model offline, print its descriptors and save a PNG panel (``outputs/analysis.png``).

    python examples/analyze_model.py                                  # reference upsamplers vs a fresh EDSR
    python examples/analyze_model.py --ckpt lightning_logs/quickstart/version_0/checkpoints/last.ckpt

With ``--ckpt``, the EDSR trained by ``hyra-lightning fit --config configs/quickstart.yaml`` (or any checkpoint
of a :class:`~hyra_lightning.SuperResolutionModule` whose network is an EDSR) is loaded; its architecture is
read from the checkpoint's saved config when there is one (``--n-resblocks``/``--n-feats`` otherwise).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from PIL import Image

from hyra_lightning.analysis import (
    hyra_decompose,
    impulse_response,
    impulse_response_image,
    log_magnitude_spectrum,
    make_panel,
)
from hyra_lightning.analysis.display import hyra_panel
from hyra_lightning.data import load_photo
from hyra_lightning.models import EDSR, BicubicUpsampler, SincUpsampler


def _load_edsr(ckpt: Path, scale: int, n_resblocks: int, n_feats: int) -> EDSR:
    config = ckpt.parent.parent / "config.yaml"  # written by the hyra-lightning command next to its logs
    if config.is_file():
        cfg = yaml.safe_load(config.read_text())
        init = cfg["model"]["model"]["init_args"]
        scale, n_resblocks, n_feats = init["scale"], init.get("n_resblocks", 16), init.get("n_feats", 64)
    model = EDSR(scale=scale, n_resblocks=n_resblocks, n_feats=n_feats)
    state = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]  # tensors only, no code
    model.load_state_dict({k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")})
    return model.eval()


def _save(img: torch.Tensor, path: Path) -> None:
    arr = (img.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--ckpt", type=Path, default=None, help="checkpoint of a SuperResolutionModule with an EDSR"
    )
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--n-resblocks", type=int, default=4)
    parser.add_argument("--n-feats", type=int, default=32)
    parser.add_argument("--photo", default="astronaut", help="bundled photograph to decompose")
    parser.add_argument(
        "--amplitude", type=float, default=1.0, help="impulse amplitude a (0.02 with --background 0.5)"
    )
    parser.add_argument("--background", type=float, default=0.0, help="probe background b")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("outputs/analysis.png"),
        help="where to save the panel (folder created)",
    )
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    models = {
        "bicubic": BicubicUpsampler(args.scale),
        "sinc": SincUpsampler(args.scale),
        "edsr": (
            _load_edsr(args.ckpt, args.scale, args.n_resblocks, args.n_feats)
            if args.ckpt
            else EDSR(scale=args.scale, n_resblocks=args.n_resblocks, n_feats=args.n_feats).eval()
        ),
    }
    scale = models["edsr"].scale
    if scale != args.scale:
        models["bicubic"], models["sinc"] = BicubicUpsampler(scale), SincUpsampler(scale)

    hr = load_photo(args.photo)[:, 128 : 128 + 96 * scale, 160 : 160 + 96 * scale][None]
    lr = F.interpolate(hr, scale_factor=1 / scale, mode="bicubic", antialias=True, align_corners=False).clamp(
        0, 1
    )

    rows = []
    print(
        f"{'model':<8} "
        + " ".join(
            f"{k:>16}"
            for k in (
                "dc_gain",
                "cutoff",
                "sinc_similarity",
                "negative_lobe",
                "stopband_leakage",
                "hf_injection",
                "fsds_gain",
            )
        )
    )
    for name, model in models.items():
        response = impulse_response(
            model, in_channels=3, scale=scale, amplitude=args.amplitude, background=args.background
        )
        d = response.describe()
        result = hyra_decompose(model, lr, hr=hr, response=response, boundary="reflect")
        s = result.scalars()
        values = (
            d.dc_gain,
            d.cutoff,
            d.sinc_similarity,
            d.negative_lobe,
            d.stopband_leakage,
            s["hf_injection"],
            s["fsds_gain"],
        )
        print(f"{name:<8} " + " ".join(f"{v:16.4f}" for v in values))
        rows.append(
            [
                impulse_response_image(response, crop_radius=3, zoom=8),
                log_magnitude_spectrum(response.luminance),
            ]
        )
        rows.append([hyra_panel(result, 0)])
    print(f"(cutoff: ideal 1/s = {1 / scale:.3f}; negative_lobe of a sinc: about 0.217)")
    panel = make_panel(rows, gap=6)
    _save(panel, args.out)
    print(
        f"saved {args.out}: per model, the impulse response (blue = negative lobes) and its spectrum, then the"
    )
    print("HyRA panel (LR, linear part, non-linear part, SR, HR; their spectra below)")


if __name__ == "__main__":
    main()
