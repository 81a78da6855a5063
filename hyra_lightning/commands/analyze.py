"""``hyra-lightning analyze MODEL [MODEL ...]``: probe trained networks and write a report.

For every model (a published checkpoint, a checkpoint of ``hyra-lightning fit``, or the references
``bicubic`` / ``sinc``): the impulse response and its descriptors; HyRA on every image (the LR image made by
antialiased bicubic downsampling of an HR crop, as in the data module) with its scalars and panels; PSNR,
SSIM and FSDS of its output and of bicubic upsampling on the same crops (RGB, data range 1, FSDS reference
the HR image); and the frequency-similarity curves of both. Everything scored (the three scores, the curves
and HyRA's FSDS of the linear part) is measured after one cropping of ``scale`` pixels per side, so a curve's
bands add up to the FSDS of the table. The records go to :mod:`hyra_lightning.commands.records`, the report
(``report.html``, ``report.json`` and PNG figures) is written by :mod:`hyra_lightning.commands.report`.

A model that cannot be loaded or probed, or an image that does not fit, gets its error in the report; the
other models still get their sections.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor

from hyra_lightning.commands.device import resolve_device
from hyra_lightning.commands.records import AnalysedImage, AnalysedModel, AnalysisSettings, ReferenceProbe
from hyra_lightning.options import BOUNDARIES, Boundary

if TYPE_CHECKING:
    from torch import nn

    from hyra_lightning.analysis import ImpulseResponse
    from hyra_lightning.zoo import LoadedModel

__all__ = ["analyze", "build_parser", "main"]


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


def _reference_probe(scale: int, settings: AnalysisSettings) -> ReferenceProbe:
    """The bicubic and windowed-sinc references at ``scale``, probed once (float64) with the run's options."""
    from hyra_lightning.analysis import impulse_response
    from hyra_lightning.models import BicubicUpsampler, SincUpsampler

    options = settings.probe.replace(scale=scale, in_channels=3, dtype=torch.float64)
    return ReferenceProbe(
        scale=scale,
        responses={
            "bicubic": impulse_response(BicubicUpsampler(scale), options=options),
            "sinc": impulse_response(SincUpsampler(scale), options=options),
        },
    )


def _analyse_image(
    loaded: LoadedModel,
    response: ImpulseResponse,
    name: str,
    hr_full: Tensor,
    settings: AnalysisSettings,
    device: torch.device,
) -> AnalysedImage:
    from hyra_lightning.analysis import hyra_decompose, hyra_figure
    from hyra_lightning.analysis.figures import render_figure
    from hyra_lightning.data.datamodule import bicubic_downsample
    from hyra_lightning.functional import crop_border_pixels, frequency_similarity_curve, fsds, image_scores

    model: nn.Module = loaded.model
    s = loaded.scale
    size, max_size = settings.probe.size, settings.max_size
    need = s * size
    h, w = hr_full.shape[-2:]
    side = min(h, w, max_size)
    if side < need:
        fit = side // s - (1 - (side // s) % 2)  # the largest odd probe size that fits
        hint = f"a smaller `--size` (at most {fit})" if fit >= 3 else "a larger image"
        raise ValueError(
            f"image {name!r} ({w} x {h}, cropped to at most {max_size} x {max_size}) is smaller"
            f" than the probe's output ({need} x {need} at x{s} with `--size {size}`). Use a larger"
            f" image or `--max-size`, or {hint}."
        )
    hr = _center_crop(hr_full, max_size, s).to(device)
    lr = bicubic_downsample(hr[None], s)
    if lr.shape[1] != loaded.in_channels:
        raise ValueError(
            f"image {name!r} has {lr.shape[1]} channels, but the model takes {loaded.in_channels}."
        )
    try:
        result = hyra_decompose(model, lr, hr=hr[None], response=response, boundary=settings.boundary)
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
    # One cropping for everything scored: the scores, the curves and HyRA's FSDS of the linear part.
    target = crop_border_pixels(hr[None].float().to(sr.device), s)
    sr, bic = crop_border_pixels(sr, s), crop_border_pixels(bic, s)
    scores = {k: float(v[0]) for k, v in image_scores(sr, target).items()}
    bicubic = {k: float(v[0]) for k, v in image_scores(bic, target).items()}
    _, curve = frequency_similarity_curve(sr, target, num_bands=settings.num_bands)
    _, bcurve = frequency_similarity_curve(bic, target, num_bands=settings.num_bands)
    hyra = result.scalars()
    linear = crop_border_pixels((result.baseline + result.linear).float().to(sr.device), s)
    hyra["fsds_linear"] = float(fsds(linear, target))
    hyra["fsds_sr"] = scores["fsds"]
    hyra["fsds_gain"] = scores["fsds"] - hyra["fsds_linear"]
    figure = hyra_figure(result, 0)
    figure.set_dpi(150)  # shown at its own size in the report: 660 pixels wide, text about 15 pixels
    return AnalysedImage(
        name=name,
        crop=(int(hr.shape[-2]), int(hr.shape[-1])),
        hyra=hyra,
        scores=scores,
        bicubic=bicubic,
        curve=[float(v) for v in curve],
        bicubic_curve=[float(v) for v in bcurve],
        panel=render_figure(figure),
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
    trust_modules: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Analyse models and write ``report.html``, ``report.json`` and PNG figures into ``out``.

    Args:
        models: checkpoint files (``.pth``, ``.pt``, ``.ckpt``, ``.safetensors``) or ``"bicubic"`` /
            ``"sinc"`` (see :func:`hyra_lightning.zoo.load_model`).
        images: HR image files or folders; default the two held-out bundled photographs.
        scale: expected scale; checked against every checkpoint and used by the references (which otherwise
            take the scale of the other models).
        out: output folder.
        device: ``"auto"`` (the GPU when there is one), ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
        size: LR probe size (odd), as in :class:`~hyra_lightning.analysis.ProbeOptions`.
        amplitude: impulse amplitude.
        background: probe background.
        names: labels of the models in the report; default the file stems (reference names for references).
        max_size: HR crops of at most ``max_size x max_size`` pixels (centred).
        boundary: HyRA boundary, ``"reflect"`` (the paper's) or ``"zero"``.
        num_bands: bands of the frequency-similarity curves.
        progress: show a progress bar on stderr.
        trust_modules: module prefixes whose ``nn.Module`` classes a checkpoint of ``hyra-lightning fit`` may
            name besides this package's and spandrel's (see :func:`hyra_lightning.zoo.load_model`).

    Returns:
        The ``report.json`` document (also written to ``out``).

    Raises:
        ValueError: for invalid options or unreadable images (errors of single models are reported instead).
    """
    from tqdm.auto import tqdm

    from hyra_lightning.analysis import ProbeOptions, impulse_response
    from hyra_lightning.commands.report import write_report
    from hyra_lightning.io import read_image
    from hyra_lightning.zoo import REFERENCES, ModelLoadError, check_trust_modules, load_model

    trust_modules = check_trust_modules(trust_modules)
    models = [str(m) for m in models]
    if not models:
        raise ValueError("Expected at least one MODEL (a checkpoint file, `bicubic` or `sinc`), got none.")
    settings = AnalysisSettings(
        probe=ProbeOptions(size=size, amplitude=amplitude, background=background, scale=scale),
        boundary=boundary,
        max_size=max_size,
        num_bands=num_bands,
    )
    if names is not None and len(names) != len(models):
        raise ValueError(f"Expected one `--name` per MODEL ({len(models)}), got {len(names)}: {list(names)}.")
    labels = _unique_names(list(names) if names else [m if m in REFERENCES else Path(m).stem for m in models])
    dev = resolve_device(device)
    paths = _image_paths(images)
    hr_images = [(p.stem, p, read_image(p)) for p in paths]
    image_names = _unique_names([name for name, _, _ in hr_images])

    results: list[AnalysedModel] = [
        AnalysedModel(name=n, source=m) for n, m in zip(labels, models, strict=True)
    ]
    loaded: list[LoadedModel | None] = [None] * len(models)
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
                lm = load_model(models[i], scale=ref_scale, device=dev, trust_modules=trust_modules)
            except (ModelLoadError, ValueError) as err:
                res.error = str(err)
                bar.update(1 + len(hr_images))
                continue
            loaded[i] = lm
            res.architecture, res.kind, res.scale, res.details = (
                lm.architecture,
                lm.kind,
                lm.scale,
                lm.details,
            )
            bar.set_postfix_str(f"probing {res.name}")
            options = settings.probe.replace(
                scale=lm.scale,
                in_channels=lm.in_channels,
                dtype=torch.float64 if lm.kind == "reference" else None,
            )
            try:
                res.response = impulse_response(lm.model, options=options)
            except (RuntimeError, ValueError) as err:
                res.error = f"The probe failed: {err}"
                bar.update(1 + len(hr_images))
                continue
            res.descriptors = res.response.describe().as_dict()
            bar.update(1)
            for (_, _, hr), image_name in zip(hr_images, image_names, strict=True):
                bar.set_postfix_str(f"{res.name} on {image_name}")
                try:
                    res.images.append(_analyse_image(lm, res.response, image_name, hr, settings, dev))
                except ValueError as err:
                    res.image_errors.append({"image": image_name, "message": str(err)})
                bar.update(1)
    finally:
        bar.close()
    scales = {r.scale for r in results if r.scale is not None} | ({scale} if scale is not None else set())
    references = {s: _reference_probe(s, settings) for s in sorted(scales)}
    image_info = [
        {"name": n, "path": str(p), "size": [int(t.shape[-2]), int(t.shape[-1])]}
        for (_, p, t), n in zip(hr_images, image_names, strict=True)
    ]
    return write_report(Path(out), results, settings, image_info, references)


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
    parser.add_argument(
        "--trust-module",
        action="append",
        default=None,
        metavar="PREFIX",
        dest="trust_modules",
        help="module prefix (e.g. mypkg.models) whose nn.Module classes a checkpoint of `hyra-lightning fit` may"
        " name, besides hyra_lightning.models and spandrel.architectures; repeatable. Its code is imported:"
        " trust only your own",
    )
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
            trust_modules=args.trust_modules,
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
