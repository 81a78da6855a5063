"""``hyra-lightning analyze MODEL [MODEL ...]``: probe trained networks and write a report.

For every model (a published checkpoint, a checkpoint of ``hyra-lightning fit``, or the references
``bicubic`` / ``sinc``): the impulse response and its descriptors; HyRA on every image (the LR image made by
antialiased bicubic downsampling of an HR crop, as in the data module) with its scalars and panels; PSNR,
SSIM and FSDS of its output and of bicubic upsampling on the same crops (RGB, border of ``scale`` pixels
cropped, data range 1, FSDS reference the HR image); and the frequency-similarity curves of both. The
report (``report.html``, ``report.json`` and PNG figures) is written by :mod:`hyra_lightning.commands.report`.

A model that cannot be loaded or probed, or an image that does not fit, gets its error in the report; the
other models still get their sections.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from hyra_lightning.checks import check_choice, check_int
from hyra_lightning.options import BOUNDARIES, Boundary

__all__ = ["AnalysedImage", "AnalysedModel", "analyze", "build_parser", "main"]

_METRICS = ("psnr", "ssim", "fsds")


@dataclass
class AnalysedImage:
    """HyRA and scores of one model on one image (the tensors are kept for the figures)."""

    name: str
    crop: tuple[int, int]
    hyra: dict[str, float]
    scores: dict[str, float]
    bicubic: dict[str, float]
    curve: list[float]
    bicubic_curve: list[float]
    panel: Tensor


@dataclass
class AnalysedModel:
    """Everything measured on one model (``error`` set when it could not be loaded or probed)."""

    name: str
    source: str
    architecture: str | None = None
    kind: str | None = None
    scale: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    response: Any = None  # ImpulseResponse
    descriptors: dict[str, float] = field(default_factory=dict)
    images: list[AnalysedImage] = field(default_factory=list)
    image_errors: list[dict[str, str]] = field(default_factory=list)

    def mean(self, attr: str) -> dict[str, float]:
        """Mean over the analysed images of the dict attribute ``attr`` (``hyra``, ``scores``, ``bicubic``)."""
        if not self.images:
            return {}
        keys = getattr(self.images[0], attr).keys()
        out = {}
        for k in keys:
            vals = [getattr(img, attr)[k] for img in self.images if math.isfinite(getattr(img, attr)[k])]
            out[k] = float(sum(vals) / len(vals)) if vals else math.nan
        return out

    def mean_curve(self, attr: str) -> list[float]:
        """Per-band mean over images of ``curve`` or ``bicubic_curve`` (NaN bands left out)."""
        if not self.images:
            return []
        curves = torch.tensor([getattr(img, attr) for img in self.images], dtype=torch.float64)
        finite = torch.isfinite(curves)
        total = torch.where(finite, curves, torch.zeros_like(curves)).sum(0)
        count = finite.sum(0)
        return [float(t / c) if c > 0 else math.nan for t, c in zip(total, count, strict=True)]


def _resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise ValueError(
            f"Expected `--device` to be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}."
        ) from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"`--device {device}` asks for a GPU, but torch sees none. Use `--device cpu` or `auto`."
        )
    return dev


def _image_paths(images: Sequence[str | Path] | None) -> list[Path]:
    from hyra_lightning.data.datamodule import DEFAULT_VAL_PHOTOS
    from hyra_lightning.data.photos import photo_path
    from hyra_lightning.io import list_images

    if not images:
        return [Path(photo_path(name)) for name in DEFAULT_VAL_PHOTOS]
    paths: list[Path] = []
    for item in images:
        p = Path(item)
        if p.is_dir():
            found = list_images(p)
            if not found:
                raise ValueError(f"Expected `--images` folder {str(p)!r} to hold images, found none.")
            paths.extend(found)
        elif p.is_file():
            paths.append(p)
        else:
            raise ValueError(
                f"Expected `--images` to name image files or folders, got {str(item)!r} (no such path)."
            )
    return paths


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            out.append(f"{n}-{seen[n]}")
        else:
            seen[n] = 1
            out.append(n)
    return out


def _center_crop(hr: Tensor, max_size: int, scale: int) -> Tensor:
    """Centred crop of at most ``max_size`` pixels per side, both sides a multiple of ``scale``."""
    h, w = hr.shape[-2:]
    ch = (min(h, max_size) // scale) * scale
    cw = (min(w, max_size) // scale) * scale
    top, left = (h - ch) // 2, (w - cw) // 2
    return hr[..., top : top + ch, left : left + cw]


def _reference_descriptors(scale: int, probe: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Descriptors of the bicubic and windowed-sinc references at ``scale`` (float64 probes)."""
    from hyra_lightning.analysis import impulse_response
    from hyra_lightning.models import BicubicUpsampler, SincUpsampler

    out = {}
    for key, model in (("bicubic", BicubicUpsampler(scale)), ("sinc", SincUpsampler(scale))):
        r = impulse_response(
            model,
            size=probe["size"],
            amplitude=probe["amplitude"],
            background=probe["background"],
            scale=scale,
            in_channels=3,
            dtype=torch.float64,
        )
        out[key] = r.describe().as_dict()
    return out


def _analyse_image(
    model: Any,
    loaded: Any,
    response: Any,
    name: str,
    hr_full: Tensor,
    probe: dict[str, Any],
    device: torch.device,
) -> AnalysedImage:
    from hyra_lightning.analysis import hyra_decompose, hyra_panel
    from hyra_lightning.commands.score import image_scores
    from hyra_lightning.data.datamodule import bicubic_downsample
    from hyra_lightning.functional import frequency_similarity_curve

    s = loaded.scale
    need = s * probe["size"]
    h, w = hr_full.shape[-2:]
    side = min(h, w, probe["max_size"])
    if side < need:
        fit = side // s - (1 - (side // s) % 2)  # the largest odd probe size that fits
        hint = f"a smaller `--size` (at most {fit})" if fit >= 3 else "a larger image"
        raise ValueError(
            f"image {name!r} ({w} x {h}, cropped to at most {probe['max_size']} x {probe['max_size']}) is smaller"
            f" than the probe's output ({need} x {need} at x{s} with `--size {probe['size']}`). Use a larger"
            f" image or `--max-size`, or {hint}."
        )
    hr = _center_crop(hr_full, probe["max_size"], s).to(device)
    lr = bicubic_downsample(hr[None], s)
    if lr.shape[1] != loaded.in_channels:
        raise ValueError(
            f"image {name!r} has {lr.shape[1]} channels, but the model takes {loaded.in_channels}."
        )
    try:
        result = hyra_decompose(model, lr, hr=hr[None], response=response, boundary=probe["boundary"])
    except Exception as err:
        raise ValueError(
            f"the model failed on image {name!r} (LR crop {lr.shape[-1]} x {lr.shape[-2]}): {type(err).__name__}:"
            f" {err}. Try a smaller `--max-size`."
        ) from err
    sr = result.sr.float().clamp(0, 1)  # on the model's device (the CPU for a reference without buffers)
    bic = (
        F.interpolate(lr.float(), scale_factor=s, mode="bicubic", align_corners=False)
        .clamp(0, 1)
        .to(sr.device)
    )
    target = hr[None].float().to(sr.device)
    scores = {k: float(v[0]) for k, v in image_scores(sr, target, crop_border=s).items()}
    bicubic = {k: float(v[0]) for k, v in image_scores(bic, target, crop_border=s).items()}
    _, curve = frequency_similarity_curve(sr, target, num_bands=probe["num_bands"])
    _, bcurve = frequency_similarity_curve(bic, target, num_bands=probe["num_bands"])
    return AnalysedImage(
        name=name,
        crop=(int(hr.shape[-2]), int(hr.shape[-1])),
        hyra=result.scalars(),
        scores=scores,
        bicubic=bicubic,
        curve=[float(v) for v in curve],
        bicubic_curve=[float(v) for v in bcurve],
        panel=hyra_panel(result, 0).cpu(),
    )


def analyze(
    models: Sequence[str | Path],
    *,
    images: Sequence[str | Path] | None = None,
    scale: int | None = None,
    out: str | Path = "hyra_report",
    device: str = "auto",
    size: int = 33,
    amplitude: float = 1.0,
    background: float = 0.0,
    names: Sequence[str] | None = None,
    max_size: int = 256,
    boundary: Boundary = "reflect",
    num_bands: int = 16,
    progress: bool = True,
) -> dict[str, Any]:
    """Analyse models and write ``report.html``, ``report.json`` and PNG figures into ``out``.

    Args:
        models: checkpoint files (``.pth``, ``.pt``, ``.ckpt``, ``.safetensors``) or ``"bicubic"`` /
            ``"sinc"`` (see :func:`hyra_lightning.zoo.load_model`).
        images: HR image files or folders; default the two held-out bundled photographs.
        scale: expected scale; checked against every checkpoint and used by the references (which otherwise
            take the scale of the other models).
        out: output folder.
        device: ``"auto"`` (the GPU when there is one), ``"cpu"``, ``"cuda:N"``.
        size: LR probe size (odd), as in :func:`~hyra_lightning.analysis.impulse_response`.
        amplitude: impulse amplitude.
        background: probe background.
        names: labels of the models in the report; default the file stems (reference names for references).
        max_size: HR crops of at most ``max_size x max_size`` pixels (centred).
        boundary: HyRA boundary, ``"reflect"`` (the paper's) or ``"zero"``.
        num_bands: bands of the frequency-similarity curves.
        progress: show a progress bar on stderr.

    Returns:
        The ``report.json`` document (also written to ``out``).

    Raises:
        ValueError: for invalid options or unreadable images (errors of single models are reported instead).
    """
    from tqdm.auto import tqdm

    from hyra_lightning.analysis import ProbeOptions, impulse_response
    from hyra_lightning.commands.report import write_report
    from hyra_lightning.io import read_image
    from hyra_lightning.zoo import REFERENCES, ModelLoadError, load_model

    models = [str(m) for m in models]
    if not models:
        raise ValueError("Expected at least one MODEL (a checkpoint file, `bicubic` or `sinc`), got none.")
    ProbeOptions(size=size, amplitude=amplitude, background=background, scale=scale)
    check_int("--max-size", max_size, minimum=2)
    check_choice("--boundary", boundary, BOUNDARIES)
    if names is not None and len(names) != len(models):
        raise ValueError(f"Expected one `--name` per MODEL ({len(models)}), got {len(names)}: {list(names)}.")
    labels = _unique_names(list(names) if names else [m if m in REFERENCES else Path(m).stem for m in models])
    dev = _resolve_device(device)
    paths = _image_paths(images)
    hr_images = [(p.stem, p, read_image(p)) for p in paths]
    image_names = _unique_names([name for name, _, _ in hr_images])
    probe = {
        "size": size,
        "amplitude": float(amplitude),
        "background": float(background),
        "baseline": True,
        "mode": "cross_channel",
        "boundary": boundary,
        "max_size": max_size,
        "num_bands": num_bands,
        "lr_degradation": "bicubic_antialias",
        "crop_border": "scale",
    }

    results: list[AnalysedModel] = [
        AnalysedModel(name=n, source=m) for n, m in zip(labels, models, strict=True)
    ]
    loaded: list[Any] = [None] * len(models)
    bar = tqdm(
        total=len(models) * (1 + len(hr_images)),
        desc="analyze",
        unit="step",
        disable=not progress,
        file=sys.stderr,
    )
    try:
        # Checkpoints first: the references take their scale from them.
        order = [i for i, m in enumerate(models) if m not in REFERENCES] + [
            i for i, m in enumerate(models) if m in REFERENCES
        ]
        for i in order:
            res = results[i]
            bar.set_postfix_str(f"loading {res.name}")
            ref_scale = scale
            if models[i] in REFERENCES and scale is None:
                scales = sorted({lm.scale for lm in loaded if lm is not None})
                if len(scales) == 1:
                    ref_scale = scales[0]
                elif len(scales) > 1:
                    res.error = (
                        f"The reference {models[i]!r} needs one scale, but the other models have scales {scales};"
                        " pass `--scale S`."
                    )
                    bar.update(1 + len(hr_images))
                    continue
            try:
                loaded[i] = load_model(models[i], scale=ref_scale, device=dev)
            except (ModelLoadError, ValueError) as err:
                res.error = str(err)
                bar.update(1 + len(hr_images))
                continue
            lm = loaded[i]
            res.architecture, res.kind, res.scale, res.details = (
                lm.architecture,
                lm.kind,
                lm.scale,
                lm.details,
            )
            bar.set_postfix_str(f"probing {res.name}")
            try:
                res.response = impulse_response(
                    lm.model,
                    size=size,
                    amplitude=amplitude,
                    background=background,
                    scale=lm.scale,
                    in_channels=lm.in_channels,
                    dtype=torch.float64 if lm.kind == "reference" else None,
                )
            except (RuntimeError, ValueError) as err:
                res.error = f"The probe failed: {err}"
                bar.update(1 + len(hr_images))
                continue
            res.descriptors = res.response.describe().as_dict()
            bar.update(1)
            for (_, _, hr), image_name in zip(hr_images, image_names, strict=True):
                bar.set_postfix_str(f"{res.name} on {image_name}")
                try:
                    res.images.append(_analyse_image(lm.model, lm, res.response, image_name, hr, probe, dev))
                except ValueError as err:
                    res.image_errors.append({"image": image_name, "message": str(err)})
                bar.update(1)
    finally:
        bar.close()
    references = {
        s: _reference_descriptors(s, probe) for s in sorted({r.scale for r in results if r.scale is not None})
    }
    if scale is not None and scale not in references:
        references[scale] = _reference_descriptors(scale, probe)
    image_info = [
        {"name": n, "path": str(p), "size": [int(t.shape[-2]), int(t.shape[-1])]}
        for (_, p, t), n in zip(hr_images, image_names, strict=True)
    ]
    return write_report(Path(out), results, probe, image_info, references)


# ------------------------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``hyra-lightning analyze``."""
    from hyra_lightning.commands import HelpFormatter

    parser = argparse.ArgumentParser(
        prog="hyra-lightning analyze",
        description=(
            "Probe trained SR networks (impulse response, HyRA, PSNR/SSIM/FSDS against bicubic) and write"
            " report.html, report.json and PNG figures. MODEL is a checkpoint file (.pth, .pt, .ckpt,"
            " .safetensors) of a published architecture (read with spandrel: pip install"
            ' "hyra-lightning[zoo]"), a checkpoint of `hyra-lightning fit`, or a reference: bicubic or sinc.'
        ),
        epilog=(
            "examples:\n"
            "  hyra-lightning analyze lightning_logs/quickstart/version_0/checkpoints/last.ckpt bicubic\n"
            "  hyra-lightning analyze RealESRGAN_x4plus.pth bicubic sinc --images my_hr_photos/ --out my_report\n"
            "  hyra-lightning analyze bicubic sinc --scale 4\n"
            "The report is OUT/report.html (with report.json and PNG figures beside it)."
        ),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("models", nargs="+", metavar="MODEL", help="checkpoint files, or `bicubic` / `sinc`")
    parser.add_argument(
        "--images",
        nargs="+",
        default=None,
        metavar="PATH",
        help="HR image files or folders (default: the two held-out bundled photographs)",
    )
    parser.add_argument(
        "--scale",
        type=int,
        default=None,
        metavar="S",
        help="expected scale, checked against every checkpoint; the references' scale",
    )
    parser.add_argument("--out", default="hyra_report", metavar="DIR", help="output folder")
    parser.add_argument(
        "--device", default="auto", help="'auto' (the GPU when there is one), 'cpu', 'cuda:N'"
    )
    parser.add_argument("--size", type=int, default=33, help="odd LR probe size")
    parser.add_argument(
        "--amplitude",
        type=float,
        default=1.0,
        help="impulse amplitude (0.02 on --background 0.5 reads the local linear response)",
    )
    parser.add_argument("--background", type=float, default=0.0, help="probe background")
    parser.add_argument(
        "--name",
        nargs="+",
        default=None,
        metavar="NAME",
        dest="names",
        help="labels of the models in the report (default: the file stems)",
    )
    parser.add_argument(
        "--max-size", type=int, default=256, metavar="N", help="HR crops of at most N x N pixels (centred)"
    )
    parser.add_argument(
        "--boundary", choices=BOUNDARIES, default="reflect", help="HyRA boundary of the linear part"
    )
    parser.add_argument("--num-bands", type=int, default=16, help="bands of the FSDS curves")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``hyra-lightning analyze``; returns the exit code (1 when some model or image failed)."""
    args = build_parser().parse_args(argv)
    try:
        report = analyze(
            args.models,
            images=args.images,
            scale=args.scale,
            out=args.out,
            device=args.device,
            size=args.size,
            amplitude=args.amplitude,
            background=args.background,
            names=args.names,
            max_size=args.max_size,
            boundary=args.boundary,
            num_bands=args.num_bands,
            progress=not args.no_progress,
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    failed = 0
    for m in report["models"]:
        if m["error"]:
            failed += 1
            print(f"error: {m['name']}: {m['error']}", file=sys.stderr)
        for e in m["image_errors"]:
            failed += 1
            print(f"error: {m['name']}: {e['message']}", file=sys.stderr)
        if not m["error"]:
            d = m["descriptors"]
            print(
                f"{m['name']:<20} x{m['scale']}  dc_gain {d['dc_gain']:.3f}  cutoff {d['cutoff']:.3f}  sinc_similarity"
                f" {d['sinc_similarity']:.3f}  PSNR {m['scores'].get('psnr', math.nan):.2f} dB (bicubic"
                f" {m['bicubic'].get('psnr', math.nan):.2f})"
            )
    print(f"wrote {Path(args.out) / 'report.html'}")
    return 1 if failed else 0
