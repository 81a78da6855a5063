"""Score an SR image against its HR image with FSDS and save the frequency-similarity curve.

The curve goes to ``outputs/fsds_curve.png`` unless ``--out`` says otherwise.

    python examples/fsds_on_images.py                       # two bundled photographs: bicubic x2 vs HR
    python examples/fsds_on_images.py sr.png hr.png --scale 4 --out curve.png

With no files, the HR image is the bundled ``camera`` photograph and the SR image its bicubic x2
reconstruction (antialiased bicubic downsampling, then bicubic upsampling), next to a second photograph,
``coffee``, treated the same way.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from hyra_lightning.data import load_photo
from hyra_lightning.functional import fsds
from hyra_lightning.io import read_image
from hyra_lightning.metrics import FSDS


def _bicubic_roundtrip(hr: torch.Tensor, scale: int) -> tuple[torch.Tensor, torch.Tensor]:
    h, w = (d - d % scale for d in hr.shape[-2:])
    hr = hr[..., :h, :w][None]
    lr = F.interpolate(hr, scale_factor=1 / scale, mode="bicubic", antialias=True, align_corners=False)
    sr = F.interpolate(lr.clamp(0, 1), scale_factor=scale, mode="bicubic", align_corners=False).clamp(0, 1)
    return sr, hr


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "sr", nargs="?", type=Path, help="SR image file (8/16-bit or float PNG, TIFF, JPEG, ...)"
    )
    parser.add_argument("hr", nargs="?", type=Path, help="HR image file of the same size")
    parser.add_argument(
        "--scale", type=int, default=2, help="SR scale, marks the LR Nyquist frequency (default 2)"
    )
    parser.add_argument("--bands", type=int, default=16, help="number of frequency bands of the curve")
    parser.add_argument("--reference", choices=["target", "preds"], default="target")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("outputs/fsds_curve.png"),
        help="where to save the curve (folder created)",
    )
    args = parser.parse_args(argv)
    if (args.sr is None) != (args.hr is None):
        parser.error("give both an SR and an HR image, or neither")

    if args.sr is None:
        pairs = {name: _bicubic_roundtrip(load_photo(name), args.scale) for name in ("camera", "coffee")}
        label = f"bicubic x{args.scale}"
    else:
        sr, hr = read_image(args.sr)[None], read_image(args.hr)[None]
        if sr.shape != hr.shape:
            parser.error(f"the images differ in size: SR {tuple(sr.shape[-2:])}, HR {tuple(hr.shape[-2:])}")
        pairs = {args.sr.name: (sr, hr)}
        label = args.sr.name

    metric = FSDS(num_bands=args.bands, reference=args.reference)
    for name, (sr, hr) in pairs.items():
        score = fsds(sr, hr, reference=args.reference)
        print(f"FSDS({label} {name} vs HR) = {score.item():.3f} dB")
        metric.update(sr, hr)
    freqs, values = metric.compute_curve()  # per-band mean over the pairs
    print(f"mean FSDS: {metric.compute().item():.3f} dB")
    print("frequency-similarity curve (radial frequency in Nyquist units: FSDS dB)")
    for f, v in zip(freqs.tolist(), values.tolist(), strict=True):
        bar = "#" * max(0, round(v)) if v == v else "(no coefficients)"
        print(f"  {f:5.3f}: {v:7.2f}  {bar}")
    fig, ax = metric.plot((freqs, values), scale=args.scale)
    ax.set_title(f"FSDS per frequency band, {label} (mean {metric.compute().item():.2f} dB)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=120, bbox_inches="tight")
    print(f"saved the curve to {args.out}")


if __name__ == "__main__":
    main()
