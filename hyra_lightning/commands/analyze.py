"""``hyra-lightning analyze MODEL [MODEL ...]``: probe trained networks and write a report.

For every model (a published checkpoint, a checkpoint of ``hyra-lightning fit``, or the references
``bicubic`` / ``sinc``): the impulse response and its descriptors; HyRA on every image (the LR image made by
antialiased bicubic downsampling of an HR crop, as in the data module) with its scalars and panels; PSNR,
SSIM and FSDS of its output and of bicubic upsampling on the same crops (RGB, data range 1, FSDS reference
the HR image); and the frequency-similarity curves of both. Everything scored (the three scores, the curves
and HyRA's FSDS of the linear part) is measured after one cropping of ``scale`` pixels per side, so a curve's
bands add up to the FSDS of the table. The records go to :mod:`hyra_lightning.commands.records`, the report
(``report.html``, ``report.json`` and PNG figures) is written by :mod:`hyra_lightning.commands.report`.

A MODEL may be a folder, searched recursively for checkpoint files. Models are analysed one at a time: each
model's entry and figures are written, and the model freed, before the next, and ``report.json`` is rewritten
atomically after every model, so that ``--resume`` continues an interrupted sweep (a file is known by the
SHA-256 of its bytes). ``--lam`` adds a local attribution map per model, on the same image and box.

A model that cannot be loaded or probed, or an image that does not fit, gets its error in the report; the
other models still get their sections. Checks that need no probe (the options, the images, the probe size
against the crops) run before any probe.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
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

__all__ = ["analyze", "build_parser", "file_sha256", "main"]


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


def _run_label(path: Path) -> str | None:
    """The run's name of a checkpoint in the lightning_logs layout ``<save_dir>/<name>/<version>/checkpoints/``:
    ``<name>/<version>`` for ``last.ckpt``, ``<name>/<version>/<stem>`` for another file; ``None`` elsewhere."""
    parts = path.parts
    if len(parts) < 4 or parts[-2] != "checkpoints":
        return None
    run = f"{parts[-4]}/{parts[-3]}"
    return run if path.stem == "last" else f"{run}/{path.stem}"


def _expand_models(models: Sequence[str]) -> list[tuple[str, str]]:
    """``(source, default label)`` of every model: a folder gives every checkpoint file under it (recursively,
    sorted), labelled by its path in the folder; a lightning_logs checkpoint is labelled by its run."""
    from hyra_lightning.zoo import CHECKPOINT_SUFFIXES, REFERENCES

    out: list[tuple[str, str]] = []
    for m in models:
        path = Path(m)
        if m not in REFERENCES and path.is_dir():
            found = sorted(
                f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in CHECKPOINT_SUFFIXES
            )
            if not found:
                raise ValueError(
                    f"Expected the MODEL folder {m!r} to hold checkpoint files ({', '.join(CHECKPOINT_SUFFIXES)}),"
                    " found none."
                )
            for f in found:
                rel = f.relative_to(path)
                out.append((str(f), _run_label(f) or str(rel.with_suffix("")).replace("\\", "/")))
        elif m in REFERENCES:
            out.append((m, m))
        else:
            out.append((m, _run_label(path) or path.stem))
    return out


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes (hex), read in chunks: the key ``--resume`` reuses a model's result by."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_sizes(settings: AnalysisSettings, hr_images: list[tuple[str, Path, Tensor]]) -> None:
    """Before any probe: the probe's output must fit the crop of at least one image at scale 1."""
    size = settings.probe.size
    sides = [min(int(t.shape[-2]), int(t.shape[-1]), settings.max_size) for _, _, t in hr_images]
    if size > max(sides):
        raise ValueError(
            f"Expected `--size` to fit the HR crops (at most {max(sides)} pixels per side with `--max-size"
            f" {settings.max_size}`; at scale s the probe's output is s x size), got {size}. Use a smaller"
            " `--size`."
        )


def _fits_any(settings: AnalysisSettings, hr_images: list[tuple[str, Path, Tensor]], scale: int) -> bool:
    """Whether the probe's output at ``scale`` fits the crop of at least one image (checked before probing)."""
    need = scale * settings.probe.size
    return any(min(int(t.shape[-2]), int(t.shape[-1]), settings.max_size) >= need for _, _, t in hr_images)


def _lam_lr(hr_full: Tensor, settings: AnalysisSettings, scale: int) -> Tensor:
    from hyra_lightning.data.datamodule import bicubic_downsample

    hr = _center_crop(hr_full, settings.max_size, scale)
    return bicubic_downsample(hr[None], scale)[0]


def _lam_box(lr: Tensor, settings: AnalysisSettings, scale: int) -> tuple[int, int]:
    """The box attributed at ``scale``: ``--lam-box`` or the window with the most edge energy of the LR image."""
    from hyra_lightning.analysis import default_box

    if settings.lam_box is not None:
        y, x = settings.lam_box
        h, w = (scale * n for n in lr.shape[-2:])
        if y + LAM_WINDOW > h or x + LAM_WINDOW > w:
            raise ValueError(
                f"Expected `--lam-box` Y X to leave the {LAM_WINDOW} x {LAM_WINDOW} box inside the SR image"
                f" ({w} x {h} at x{scale}), got {y} {x}. Use Y <= {h - LAM_WINDOW} and X <= {w - LAM_WINDOW}."
            )
        return int(y), int(x)
    return default_box(lr, scale, window=LAM_WINDOW)


#: Side of the box of ``--lam`` in HR pixels (Gu and Dong's 16).
LAM_WINDOW = 16


def _lam_defaults() -> dict[str, Any]:
    """The settings ``--lam`` leaves at :func:`~hyra_lightning.analysis.local_attribution`'s defaults."""
    import inspect

    from hyra_lightning.analysis import local_attribution

    params = inspect.signature(local_attribution).parameters
    return {k: params[k].default for k in ("steps", "path", "sigma_max", "kernel_size")}


def _analyse_model(
    source: str,
    name: str,
    settings: AnalysisSettings,
    *,
    scale: int | None,
    dev: torch.device,
    trust_modules: tuple[str, ...],
    hr_images: list[tuple[str, Path, Tensor]],
    image_names: list[str],
    lam_boxes: dict[int, tuple[int, int]],
) -> tuple[AnalysedModel, int | None]:
    """Load, probe and analyse one model; every failure becomes its record's error. Returns the record and the
    model's scale (``None`` when it could not be loaded)."""
    from hyra_lightning.analysis import impulse_response, lam_panel, local_attribution
    from hyra_lightning.zoo import load_model

    res = AnalysedModel(name=name, source=source)
    try:
        lm = load_model(source, scale=scale, device=dev, trust_modules=trust_modules)
    except Exception as err:
        res.error = str(err) if isinstance(err, ValueError) else f"{type(err).__name__}: {err}"
        return res, None
    res.architecture, res.kind, res.scale, res.details = lm.architecture, lm.kind, lm.scale, lm.details
    try:
        s = lm.scale
        fits = _fits_any(settings, hr_images, s)
        if not fits:
            raise _ModelError(
                f"The probe's output ({s * settings.probe.size} x {s * settings.probe.size} at x{s} with `--size"
                f" {settings.probe.size}`) is larger than every HR crop (`--max-size {settings.max_size}`). Use a"
                " smaller `--size` or larger images."
            )
        options = settings.probe.replace(
            scale=s, in_channels=lm.in_channels, dtype=torch.float64 if lm.kind == "reference" else None
        )
        try:
            res.response = impulse_response(lm.model, options=options)
        except (RuntimeError, ValueError) as err:
            raise _ModelError(f"The probe failed: {err}") from err
        if not bool(torch.isfinite(res.response.luminance).all()):
            raise _ModelError(
                "The network's output holds NaN or infinite values on the probe: nothing it computes can be"
                " measured. Check the checkpoint's weights (a diverged training run?)."
            )
        res.descriptors = res.response.describe().as_dict()
        for (_, _, hr), image_name in zip(hr_images, image_names, strict=True):
            try:
                res.images.append(_analyse_image(lm, res.response, image_name, hr, settings, dev))
            except ValueError as err:
                res.image_errors.append({"image": image_name, "message": str(err)})
        if settings.lam:
            lr = _lam_lr(hr_images[0][2], settings, s).to(dev)
            box = lam_boxes[s] if s in lam_boxes else _lam_box(lr, settings, s)
            lam_boxes[s] = box
            try:
                attribution = local_attribution(lm.model, lr, box, window=LAM_WINDOW, scale=s)
            except (RuntimeError, ValueError) as err:
                raise _ModelError(f"The local attribution map failed: {err}") from err
            res.lam = {
                "di": float(attribution.di),
                "box": list(box),
                "completeness_error": float(attribution.completeness_error),
            }
            res.lam_panel = lam_panel(attribution)
            del attribution
    except _ModelError as err:
        res.error = str(err)
    except Exception as err:
        res.error = f"{type(err).__name__}: {err}"
    finally:
        del lm
    return res, res.scale


class _ModelError(Exception):
    """One model's failure, with its message for the report."""


def _previous_results(out: Path, key: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The entries of ``out/report.json`` that ``--resume`` may reuse, by hash (or reference name and scale):
    only from a run with the same settings and images, only those without an error and whose figures are on
    disk."""
    path = out / "report.json"
    if not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    found_key = {k: doc.get(k) for k in key}
    if isinstance(found_key.get("lam"), dict):
        found_key["lam"] = {k: v for k, v in found_key["lam"].items() if k != "boxes"}
    if found_key != key:
        return {}
    from hyra_lightning.commands.report import figure_paths

    found: dict[str, dict[str, Any]] = {}
    for m in doc.get("models", []):
        if m.get("error") or not isinstance(m.get("figures"), dict):
            continue
        if not all((out / rel).is_file() for rel in figure_paths({"figures": {}, "models": [m]})):
            continue
        found[_resume_key(m["source"], m.get("sha256"), m.get("scale"))] = m
    return found


def _resume_key(source: str, sha256: str | None, scale: int | None) -> str:
    return f"sha256:{sha256}" if sha256 else f"reference:{source}:x{scale}"


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
    resume: bool = False,
    scatter: Sequence[str] | None = None,
    lam: bool = False,
    lam_box: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Analyse models and write ``report.html``, ``report.json`` and PNG figures into ``out``.

    Models are analysed one at a time, each freed before the next; ``report.json`` is rewritten (atomically)
    after every model, so an interrupted sweep can be continued with ``resume``.

    Args:
        models: checkpoint files (``.pth``, ``.pt``, ``.ckpt``, ``.safetensors``), folders of them (searched
            recursively) or ``"bicubic"`` / ``"sinc"`` (see :func:`hyra_lightning.zoo.load_model`).
        images: HR image files or folders; default the two held-out bundled photographs.
        scale: expected scale; checked against every checkpoint and used by the references (which otherwise
            take the scale of the other models).
        out: output folder.
        device: ``"auto"`` (the GPU when there is one), ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
        size: LR probe size (odd), as in :class:`~hyra_lightning.analysis.ProbeOptions`.
        amplitude: impulse amplitude.
        background: probe background.
        names: labels of the models in the report, one per checkpoint file (after folders are expanded); default
            the run's name for a checkpoint of ``hyra-lightning fit`` in its lightning_logs folder
            (``quickstart/version_0``), the path in the folder for a folder's files, else the file stem.
        max_size: HR crops of at most ``max_size x max_size`` pixels (centred).
        boundary: HyRA boundary, ``"reflect"`` (the paper's) or ``"zero"``.
        num_bands: bands of the frequency-similarity curves.
        progress: show a progress bar over models on stderr.
        trust_modules: module prefixes whose ``nn.Module`` classes a checkpoint of ``hyra-lightning fit`` may
            name besides this package's and spandrel's (see :func:`hyra_lightning.zoo.load_model`).
        resume: reuse the results in ``out/report.json`` of files whose SHA-256 is unchanged (and of the
            references), when that run had the same settings and images; failed models are analysed again.
        scatter: the two numbers ``(x, y)`` of the zoo view's scatter plot (default ``cutoff``,
            ``hf_injection``): a descriptor, HyRA scalar, score or ``di``, or a dotted path such as ``delta.psnr``.
        lam: draw a local attribution map of every model, on the first image and the same box per scale.
        lam_box: ``(y, x)``, HR position of the box of ``lam``; default the window with the most edge energy.

    Returns:
        The ``report.json`` document (also written to ``out``).

    Raises:
        ValueError: for invalid options or unreadable images (errors of single models are reported instead).
    """
    from tqdm.auto import tqdm

    from hyra_lightning.analysis import ProbeOptions
    from hyra_lightning.commands.report import (
        DEFAULT_SCATTER,
        model_entry,
        write_figures,
        write_json,
        write_report,
    )
    from hyra_lightning.io import read_image
    from hyra_lightning.zoo import REFERENCES, check_trust_modules

    trust_modules = check_trust_modules(trust_modules)
    sources = [str(m) for m in models]
    if not sources:
        raise ValueError(
            "Expected at least one MODEL (a checkpoint file or folder, `bicubic` or `sinc`), got none."
        )
    scatter_xy = tuple(scatter) if scatter is not None else DEFAULT_SCATTER
    if len(scatter_xy) != 2 or not all(isinstance(v, str) and v for v in scatter_xy):
        raise ValueError(
            f"Expected `--scatter` to be two names X Y (e.g. cutoff hf_injection), got {scatter!r}."
        )
    settings = AnalysisSettings(
        probe=ProbeOptions(size=size, amplitude=amplitude, background=background, scale=scale),
        boundary=boundary,
        max_size=max_size,
        num_bands=num_bands,
        lam=bool(lam),
        lam_box=tuple(lam_box) if lam_box is not None else None,
    )
    expanded = _expand_models(sources)
    if names is not None and len(names) != len(expanded):
        raise ValueError(
            f"Expected one `--name` per MODEL ({len(expanded)}, folders counted by their checkpoint files), got"
            f" {len(names)}: {list(names)}."
        )
    labels = _unique_names(list(names) if names else [label for _, label in expanded])
    dev = resolve_device(device)
    paths = _image_paths(images)
    hr_images = [(p.stem, p, read_image(p)) for p in paths]
    image_names = _unique_names([name for name, _, _ in hr_images])
    _check_sizes(settings, hr_images)
    out = Path(out)
    image_info = [
        {"name": n, "path": str(p), "size": [int(t.shape[-2]), int(t.shape[-1])], "sha256": file_sha256(p)}
        for (_, p, t), n in zip(hr_images, image_names, strict=True)
    ]
    lam_section: dict[str, Any] | None = None
    if settings.lam:
        lam_section = {
            "image": image_names[0],
            "window": LAM_WINDOW,
            "box": list(settings.lam_box) if settings.lam_box is not None else None,
            **_lam_defaults(),
            "boxes": {},
        }
    resume_key = {
        "probe": settings.as_json(),
        "images": image_info,
        "lam": None if lam_section is None else {k: v for k, v in lam_section.items() if k != "boxes"},
    }
    previous = _previous_results(out, resume_key) if resume else {}
    if previous and lam_section is not None:
        old = json.loads((out / "report.json").read_text()).get("lam") or {}
        lam_boxes = {int(k): (int(v[0]), int(v[1])) for k, v in (old.get("boxes") or {}).items()}
    else:
        lam_boxes = {}

    entries: list[dict[str, Any] | None] = [None] * len(expanded)
    references: dict[int, ReferenceProbe] = {}
    model_scales: set[int] = set()

    def reference_at(s: int) -> ReferenceProbe:
        if s not in references:
            references[s] = _reference_probe(s, settings)
        return references[s]

    def snapshot() -> dict[str, Any]:
        doc = {
            "models": [e for e in entries if e is not None],
            "probe": settings.as_json(),
            "images": image_info,
            "lam": None
            if lam_section is None
            else {**lam_section, "boxes": {str(k): list(v) for k, v in lam_boxes.items()}},
            "complete": False,
        }
        return doc

    bar = tqdm(total=len(expanded), desc="analyze", unit="model", disable=not progress, file=sys.stderr)
    try:
        # Checkpoints first: the references take their scale from them.
        order = [i for i, (m, _) in enumerate(expanded) if m not in REFERENCES] + [
            i for i, (m, _) in enumerate(expanded) if m in REFERENCES
        ]
        for i in order:
            source, name = expanded[i][0], labels[i]
            bar.set_postfix_str(name[-40:])
            is_ref = source in REFERENCES
            ref_scale = scale
            if is_ref and scale is None:
                scales = sorted(model_scales)
                if len(scales) == 1:
                    ref_scale = scales[0]
                elif len(scales) > 1:
                    res = AnalysedModel(name=name, source=source)
                    res.error = (
                        f"The reference {source!r} needs one scale, but the other models have scales {scales};"
                        " pass `--scale S`."
                    )
                    entries[i], _ = model_entry(res, settings, None)
                    write_json(out, snapshot())
                    bar.update(1)
                    continue
            sha = None
            if not is_ref:
                try:
                    sha = file_sha256(source)
                except OSError:
                    sha = None
            key = _resume_key(source, sha, ref_scale) if (sha or is_ref) else None
            if key is not None and key in previous:
                entry = dict(previous[key])
                entry["name"], entry["source"] = name, source
                entries[i] = entry
                if entry.get("scale"):
                    model_scales.add(int(entry["scale"]))
                write_json(out, snapshot())
                bar.update(1)
                continue
            res, s = _analyse_model(
                source,
                name,
                settings,
                scale=ref_scale,
                dev=dev,
                trust_modules=trust_modules,
                hr_images=hr_images,
                image_names=image_names,
                lam_boxes=lam_boxes,
            )
            res.sha256 = sha
            if s is not None and not is_ref:
                model_scales.add(s)
            reference = None
            if res.response is not None and res.scale is not None:
                try:
                    reference = reference_at(res.scale)
                except Exception as err:
                    res.error = (
                        f"The references at x{res.scale} could not be probed: {type(err).__name__}: {err}"
                    )
                    res.response = None
            entry, pngs = model_entry(res, settings, reference)
            del res  # free the model's tensors before the next one
            write_figures(out, pngs)
            del pngs
            entries[i] = entry
            write_json(out, snapshot())
            gc.collect()
            bar.update(1)
    finally:
        bar.close()
    done = [e for e in entries if e is not None]
    scales = {int(e["scale"]) for e in done if e.get("scale") and not e.get("error")} | (
        {scale} if scale is not None else set()
    )
    for s in sorted(scales):
        if not _fits_any(settings, hr_images, s):
            continue  # as for the models: no probe whose output fits no image
        try:
            reference_at(s)
        except Exception:
            pass
    if lam_section is not None:
        lam_section["boxes"] = {str(k): list(v) for k, v in sorted(lam_boxes.items())}
    return write_report(out, done, settings, image_info, references, scatter=scatter_xy, lam=lam_section)


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
            "  hyra-lightning analyze my_zoo/ bicubic sinc --scale 4 --out zoo_report --resume\n"
            "The report is OUT/report.html (with report.json and PNG figures beside it)."
        ),
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "models",
        nargs="+",
        metavar="MODEL",
        help="checkpoint files, folders of them (searched recursively), or `bicubic` / `sinc`",
    )
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
        help="labels of the models in the report, one per checkpoint file (default: the run's name for a"
        " lightning_logs checkpoint, e.g. quickstart/version_0; the path in the folder for a folder's files; else"
        " the file stem)",
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
    parser.add_argument(
        "--resume",
        action="store_true",
        help="reuse the results in OUT/report.json of checkpoint files whose SHA-256 is unchanged (same settings"
        " and images): an interrupted sweep continues, a new file costs one model",
    )
    parser.add_argument(
        "--scatter",
        nargs=2,
        default=None,
        metavar=("X", "Y"),
        help="the two numbers of the zoo view's scatter plot: a descriptor, HyRA scalar, score or di, or a dotted"
        " path such as delta.psnr (default: cutoff hf_injection)",
    )
    parser.add_argument(
        "--lam",
        action="store_true",
        help="add a local attribution map of every model (same image and box for all) and its diffusion index",
    )
    parser.add_argument(
        "--lam-box",
        nargs=2,
        type=int,
        default=None,
        metavar=("Y", "X"),
        help="HR position of the 16 x 16 box of --lam (default: the window with the most edge energy of the"
        " first image)",
    )
    return parser


def _num(value: Any, fmt: str) -> str:
    """A number of report.json for the summary: ``n/a`` when undefined (``None``, NaN)."""
    if value is None or not math.isfinite(float(value)):
        return "n/a"
    return format(float(value), fmt)


def _first_line(text: str, width: int = 100) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 3] + "..."


def _failure_table(report: dict[str, Any]) -> list[str]:
    """The lines of the table of what failed and why (empty when nothing did)."""
    rows: list[tuple[str, str, str]] = []
    for m in report["models"]:
        if m["error"]:
            rows.append((m["name"], "model", _first_line(m["error"])))
        for e in m["image_errors"]:
            rows.append((m["name"], f"image {e['image']}", _first_line(e["message"])))
    if not rows:
        return []
    w0 = max(5, *(len(r[0]) for r in rows))
    w1 = max(4, *(len(r[1]) for r in rows))
    lines = [f"{'model':<{w0}}  {'what':<{w1}}  why", f"{'-' * w0}  {'-' * w1}  {'-' * 3}"]
    lines += [f"{a:<{w0}}  {b:<{w1}}  {c}" for a, b, c in rows]
    return lines


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
            resume=args.resume,
            scatter=args.scatter,
            lam=args.lam,
            lam_box=args.lam_box,
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"interrupted: {Path(args.out) / 'report.json'} holds the models done so far; run the same command with"
            " --resume to continue.",
            file=sys.stderr,
        )
        return 130
    failed = 0
    for m in report["models"]:
        if m["error"]:
            failed += 1
            print(f"error: {m['name']}: {m['error']}", file=sys.stderr)
        for e in m["image_errors"]:
            failed += 1
            print(f"error: {m['name']}: {e['message']}", file=sys.stderr)
        if not m["error"]:
            d, scores, bicubic = m["descriptors"] or {}, m["scores"] or {}, m["bicubic"] or {}
            line = (
                f"{m['name']:<20} x{m['scale']}  dc_gain {_num(d.get('dc_gain'), '.3f')}  cutoff"
                f" {_num(d.get('cutoff'), '.3f')}  sinc_similarity {_num(d.get('sinc_similarity'), '.3f')}  PSNR"
                f" {_num(scores.get('psnr'), '.2f')} dB (bicubic {_num(bicubic.get('psnr'), '.2f')})"
            )
            if m.get("lam"):
                line += f"  LAM DI {_num(m['lam'].get('di'), '.1f')}"
            print(line)
    table = _failure_table(report)
    if table:
        print(f"\n{failed} failure(s):", file=sys.stderr)
        for line in table:
            print(line, file=sys.stderr)
    ok = sum(1 for m in report["models"] if not m["error"])
    print(f"{ok} of {len(report['models'])} model(s) analysed; wrote {Path(args.out) / 'report.html'}")
    return 1 if failed else 0
