"""The report of ``hyra-lightning analyze``: the ``report.json`` document and its PNG figures, built from the
records of :mod:`hyra_lightning.commands.records`; the HTML page is rendered from them by
:mod:`hyra_lightning.commands.report_html`.

Layout of the output folder::

    report.html             the page; figures inline (base64 PNG) up to 12 models, linked from figures/ beyond
    report.json             every number (schema in the README, section "Analyse trained networks")
    figures/profiles.png    magnitude profiles of all models, with the references
    figures/fsds_curves.png frequency-similarity curves of all models and of bicubic
    figures/scatter.png     the zoo view's scatter plot (``--scatter X Y``)
    figures/<model>_<sha256[:12]>_response.png, _spectrum.png, _profile.png, _hyra_<image>.png, _lam.png
                            (``ref_<model>_x<scale>_...`` for a reference)

``report.json`` is rewritten (atomically) after every model, so an interrupted sweep leaves its results behind for
``--resume``.

Undefined numbers (NaN, infinities) are written as ``null`` in ``report.json``.
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from hyra_lightning.commands.records import json_safe, response_radius
from hyra_lightning.commands.report_html import render_html

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from hyra_lightning.commands.records import AnalysedModel, AnalysisSettings, ReferenceProbe

__all__ = [
    "DEFAULT_SCATTER",
    "Report",
    "build_report",
    "figure_paths",
    "figure_stem",
    "model_entry",
    "write_figures",
    "write_json",
    "write_report",
]

#: The zoo view's scatter plot by default: the probe's cutoff against HyRA's high-frequency injection.
DEFAULT_SCATTER: tuple[str, str] = ("cutoff", "hf_injection")

_PROFILE_FFT = 512
_DASHES = ("--", "-.", (0, (6, 2, 1, 2, 1, 2)))
_DOTS = (":", (0, (1, 3)), (0, (2, 4)))
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "model"


def _png_bytes_of_image(img: Tensor) -> bytes:
    from PIL import Image

    arr = (img.detach().float().cpu().clamp(0, 1).permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _png_bytes_of_figure(fig: Figure, dpi: float | str = 110) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _mean_profile(response: Any) -> tuple[list[float], list[float], list[float]]:
    from hyra_lightning.analysis import magnitude_profiles

    n = max(_PROFILE_FFT, response.luminance.shape[-1] + response.luminance.shape[-1] % 2)
    f, mh, mv = magnitude_profiles(response, n_fft=n)
    return f.tolist(), mh.tolist(), mv.tolist()


def _profile_of(response: Any) -> tuple[list[float], list[float]]:
    """Horizontal magnitude profile of a (separable) reference's response."""
    f, mh, _ = _mean_profile(response)
    return f, mh


def _reference_profiles(reference: ReferenceProbe) -> dict[str, tuple[list[float], list[float]]]:
    """Magnitude profiles of the references, from the responses probed once by ``analyze``."""
    return {key: _profile_of(r) for key, r in reference.responses.items()}


# ----------------------------------------------------------------------------------------------- figures


def _profiles_figure(
    entries: list[tuple[str, int, list[float], list[float]]],
    references: dict[int, dict[str, tuple[list[float], list[float]]]],
    title: str,
) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.2))
    ax = fig.add_subplot()
    for k, (s, refs) in enumerate(sorted(references.items())):
        suffix = f" x{s}" if len(references) > 1 else ""
        f, m = refs["bicubic"]
        ax.plot(f, m, color="0.45", ls=_DASHES[k % len(_DASHES)], lw=1.2, label=f"bicubic reference{suffix}")
        f, m = refs["sinc"]
        ax.plot(f, m, color="0.1", ls=_DOTS[k % len(_DOTS)], lw=1.4, label=f"sinc reference{suffix}")
        ax.axvline(1 / s, color="0.7", lw=0.8)
        ax.text(1 / s, 0.02, f" 1/{s}", transform=ax.get_xaxis_transform(), fontsize=8, color="0.4")
    for k, (label, _, f, m) in enumerate(entries):
        ax.plot(f, m, color=_COLOURS[k % len(_COLOURS)], lw=1.8, label=label)
    ax.axhline(0.5, color="0.8", lw=0.8)
    ax.set_xlim(0, 1)
    top = max([1.2] + [min(max(m), 3.0) * 1.05 for *_, m in entries])
    ax.set_ylim(0, top)
    ax.set_xlabel("frequency (HR Nyquist units; LR Nyquist = 1/s)")
    ax.set_ylabel("magnitude |DFT(g)| / DC")
    ax.set_title(title)
    ax.grid(alpha=0.25)
    ax.legend(fontsize=8, loc="upper right")
    return fig


def _curves_figure(
    frequencies: list[float],
    entries: list[tuple[str, list[float]]],
    bicubic: dict[int, list[float]],
) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.2))
    ax = fig.add_subplot()
    for k, (s, curve) in enumerate(sorted(bicubic.items())):
        ls = _DASHES[k % len(_DASHES)]
        ax.axvline(1 / s, color="0.7", lw=0.8)
        baseline = np.asarray(curve, dtype=float)
        if any(np.allclose(np.asarray(c, dtype=float), baseline, equal_nan=True) for _, c in entries):
            continue  # a model is bicubic itself: its curve is this one, drawn once
        ax.plot(frequencies, curve, color="0.45", ls=ls, lw=1.2, marker=".", label=f"bicubic x{s}")
    for k, (label, curve) in enumerate(entries):
        ax.plot(frequencies, curve, color=_COLOURS[k % len(_COLOURS)], lw=1.8, marker="o", ms=3, label=label)
    ax.set_xlabel("radial frequency (HR Nyquist units)")
    ax.set_ylabel("FSDS per band (dB, higher is better)")
    ax.set_title("Frequency-similarity curves (mean over images)")
    ax.grid(alpha=0.25)
    ax.legend(fontsize=8)
    return fig


def _model_profile_figure(
    name: str, scale: int, f: list[float], mh: list[float], mv: list[float], refs: Any
) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.0, 3.4))
    ax = fig.add_subplot()
    ax.plot(*refs["bicubic"], color="0.45", ls="--", lw=1.2, label="bicubic reference")
    ax.plot(*refs["sinc"], color="0.1", ls=":", lw=1.4, label="sinc reference")
    ax.plot(f, mh, color=_COLOURS[0], lw=1.8, label="horizontal")
    ax.plot(f, mv, color=_COLOURS[1], lw=1.2, label="vertical")
    ax.axvline(1 / scale, color="0.7", lw=0.8)
    ax.axhline(0.5, color="0.8", lw=0.8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, max(1.2, min(max(mh + mv), 3.0) * 1.05))
    ax.set_xlabel("frequency (HR Nyquist units)")
    ax.set_ylabel("magnitude")
    ax.set_title(f"{name}: magnitude profile (x{scale})", fontsize=10)
    ax.grid(alpha=0.25)
    ax.legend(fontsize=8)
    return fig


# ----------------------------------------------------------------------------------------------- document


@dataclass
class Report:
    """The report of one ``analyze`` run before it is written.

    Attributes:
        document: the ``report.json`` document (strict JSON: NaN and infinities are None).
        pngs: ``{relative path: PNG bytes}`` of every figure the document names.
    """

    document: dict[str, Any]
    pngs: dict[str, bytes]


def figure_stem(res: AnalysedModel) -> str:
    """The stem of a model's figure files: its name and, for a file, its content hash (stable across runs, so a
    result reused by ``--resume`` keeps its figures and a new model never overwrites them)."""
    if res.sha256:
        return f"{_slug(res.name)}_{res.sha256[:12]}"
    return f"ref_{_slug(res.name)}_x{res.scale or 0}"


def model_entry(
    res: AnalysedModel, settings: AnalysisSettings, reference: ReferenceProbe | None
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The ``report.json`` entry of one model and its figures ``{relative path: PNG bytes}``.

    Built as soon as the model is analysed, so that its tensors can be freed before the next model. A figure
    that cannot be drawn (a network answering NaN, say) becomes the model's error instead of stopping the run.

    Args:
        res: the model's record.
        settings: the run's settings.
        reference: the references at the model's scale (for its profile figure); ``None`` when it has none.
    """
    from hyra_lightning.analysis import impulse_response_figure, impulse_spectrum_figure
    from hyra_lightning.functional import frequency_bands

    stem = figure_stem(res)
    entry: dict[str, Any] = {
        "name": res.name,
        "source": res.source,
        "sha256": res.sha256,
        "architecture": res.architecture,
        "kind": res.kind,
        "scale": res.scale,
        "details": res.details,
        "error": res.error,
        "descriptors": res.descriptors,
        "hyra": res.mean("hyra"),
        "scores": res.mean("scores"),
        "bicubic": res.mean("bicubic"),
        "images": [
            {
                "name": img.name,
                "crop": list(img.crop),
                "hyra": img.hyra,
                "scores": img.scores,
                "bicubic": img.bicubic,
            }
            for img in res.images
        ],
        "image_errors": res.image_errors,
        "profile": None,
        "fsds_curve": None,
        "figures": {},
    }
    if res.lam is not None:
        entry["lam"] = res.lam
    pngs: dict[str, bytes] = {}
    figs: dict[str, Any] = {}

    def save(rel: str, data: bytes) -> str:
        pngs[rel] = data
        return rel

    try:
        if res.error is None and res.response is not None and res.scale is not None and reference is not None:
            f, mh, mv = _mean_profile(res.response)
            entry["profile"] = {"frequencies": f, "horizontal": mh, "vertical": mv}
            radius = response_radius(settings.probe.size)
            figs["response"] = save(
                f"figures/{stem}_response.png",
                _png_bytes_of_figure(impulse_response_figure(res.response, radius), dpi=140),
            )
            figs["spectrum"] = save(
                f"figures/{stem}_spectrum.png",
                _png_bytes_of_figure(impulse_spectrum_figure(res.response), dpi=140),
            )
            refs = _reference_profiles(reference)
            figs["profile"] = save(
                f"figures/{stem}_profile.png",
                _png_bytes_of_figure(_model_profile_figure(res.name, res.scale, f, mh, mv, refs)),
            )
        if res.images:
            entry["fsds_curve"] = {
                "frequencies": frequency_bands(settings.num_bands)[0].tolist(),
                "model": res.mean_curve("curve"),
                "bicubic": res.mean_curve("bicubic_curve"),
            }
            for img in res.images:
                figs.setdefault("hyra", {})[img.name] = save(
                    f"figures/{stem}_hyra_{_slug(img.name)}.png", _png_bytes_of_image(img.panel)
                )
        if res.lam_panel is not None:
            figs["lam"] = save(f"figures/{stem}_lam.png", _png_bytes_of_image(res.lam_panel))
    except Exception as err:  # one model's figure never costs the others their sections
        entry["error"] = f"Its figures could not be drawn: {type(err).__name__}: {err}"
        entry["profile"] = entry["fsds_curve"] = None
        figs, pngs = {}, {}
    entry["figures"] = figs
    return json_safe(entry), pngs


def _number(entry: dict[str, Any], key: str) -> float | None:
    """The number ``key`` of a model entry: a dotted path (``descriptors.cutoff``, ``delta.psnr``) or a bare name
    looked up among the descriptors, the HyRA scalars, the scores and ``lam``."""
    if "." in key:
        group, name = key.split(".", 1)
        if group == "delta":
            a, b = entry.get("scores", {}).get(name), entry.get("bicubic", {}).get(name)
            return None if a is None or b is None else float(a) - float(b)
        value = (entry.get(group) or {}).get(name)
    else:
        value = None
        for group in SCATTER_GROUPS:
            if key in (entry.get(group) or {}):
                value = entry[group][key]
                break
    if value is None or isinstance(value, (list, dict, str)):
        return None
    value = float(value)
    return value if np.isfinite(value) else None


#: Where a bare ``--scatter`` name is looked up, in this order.
SCATTER_GROUPS = ("descriptors", "hyra", "scores", "lam")


def _scatter_figure(
    models: list[dict[str, Any]], references: dict[str, dict[str, dict[str, float]]], x: str, y: str
) -> Figure | None:
    """``y`` against ``x``, one point per model coloured by architecture; bicubic and the sinc marked (a point
    when both numbers are known for them, else a line at the one that is)."""
    from matplotlib.figure import Figure

    points = [(m, _number(m, x), _number(m, y)) for m in models if not m.get("error")]
    points = [(m, px, py) for m, px, py in points if px is not None and py is not None]
    if not points:
        return None
    fig = Figure(figsize=(7.5, 5.0))
    ax = fig.add_subplot()

    def group(m: dict[str, Any]) -> str:
        return str(m["source"]) if m.get("kind") == "reference" else str(m.get("architecture") or "?")

    groups = sorted({group(m) for m, *_ in points}, key=lambda g: (g in ("bicubic", "sinc"), g))
    networks = [g for g in groups if g not in ("bicubic", "sinc")]
    colour = {a: _COLOURS[k % len(_COLOURS)] for k, a in enumerate(networks)}
    marks = {"bicubic": ("0.1", "*", "bicubic"), "sinc": ("0.45", "*", "windowed sinc")}
    for g in groups:
        sel = [(px, py) for m, px, py in points if group(m) == g]
        c, marker, label = marks.get(g, (colour.get(g, "0.5"), "o", g))
        size = 160 if g in marks else 36
        ax.scatter(
            [p[0] for p in sel],
            [p[1] for p in sel],
            color=c,
            marker=marker,
            s=size,
            zorder=3,
            label=f"{label} ({len(sel)})",
        )
    drawn = set(groups)
    for s, refs in sorted(references.items(), key=lambda kv: int(kv[0])):
        for key, ls in (("bicubic", "--"), ("sinc", ":")):
            if key in drawn:
                continue
            ref = {"descriptors": refs.get(key, {})}
            rx, ry = _number(ref, x), _number(ref, y)
            label = f"{marks[key][2]} reference x{s}"
            if rx is not None and ry is not None:
                ax.scatter([rx], [ry], color=marks[key][0], marker="*", s=160, label=label, zorder=3)
            elif rx is not None:
                ax.axvline(rx, color="0.3", ls=ls, lw=1.0, label=label)
            elif ry is not None:
                ax.axhline(ry, color="0.3", ls=ls, lw=1.0, label=label)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(f"{y} against {x}, one point per model")
    ax.grid(alpha=0.25)
    ax.legend(fontsize=8, loc="best")
    return fig


def build_report(
    models: list[dict[str, Any]],
    settings: AnalysisSettings,
    images: list[dict[str, Any]],
    references: dict[int, ReferenceProbe],
    *,
    scatter: tuple[str, str] = DEFAULT_SCATTER,
    lam: dict[str, Any] | None = None,
) -> Report:
    """The ``report.json`` document and its overview figures, from the entries of every model.

    Args:
        models: the entries of :func:`model_entry`, in the order of the command line.
        settings: the run's settings (the document's ``probe`` section).
        images: ``[{"name", "path", "size", "sha256"}]`` of the HR images.
        references: the reference upsamplers probed at every scale of the run.
        scatter: the two numbers of the zoo view's scatter plot (``x``, ``y``).
        lam: the ``lam`` section (image, boxes per scale, settings) when ``--lam`` was given.

    Returns:
        A :class:`Report` (nothing is written); ``pngs`` holds the overview figures only.
    """
    from hyra_lightning import __version__
    from hyra_lightning.functional import frequency_bands

    pngs: dict[str, bytes] = {}
    frequencies = frequency_bands(settings.num_bands)[0].tolist()
    profiles = {s: _reference_profiles(ref) for s, ref in references.items()}
    overlay = [
        (
            m["name"],
            m["scale"],
            m["profile"]["frequencies"],
            [(a + b) / 2 for a, b in zip(m["profile"]["horizontal"], m["profile"]["vertical"], strict=True)],
        )
        for m in models
        if m["profile"] is not None
        and m["scale"] in profiles
        and all(v is not None for v in m["profile"]["horizontal"] + m["profile"]["vertical"])
    ]
    curves = [(m["name"], m["fsds_curve"]["model"]) for m in models if m["fsds_curve"] is not None]
    bicubic_curves: dict[int, list[float]] = {}
    for m in models:
        if m["fsds_curve"] is not None:
            bicubic_curves.setdefault(m["scale"], m["fsds_curve"]["bicubic"])
    figures: dict[str, str] = {}
    if overlay:
        title = "Magnitude profiles (mean of horizontal and vertical axes)"
        figures["profiles"] = "figures/profiles.png"
        pngs[figures["profiles"]] = _png_bytes_of_figure(_profiles_figure(overlay, profiles, title))
    if curves:
        figures["fsds_curves"] = "figures/fsds_curves.png"
        pngs[figures["fsds_curves"]] = _png_bytes_of_figure(
            _curves_figure(frequencies, curves, bicubic_curves)
        )
    ref_descriptors = {str(s): ref.descriptors() for s, ref in references.items()}
    scatter_fig = _scatter_figure(models, json_safe(ref_descriptors), *scatter)
    if scatter_fig is not None:
        figures["scatter"] = "figures/scatter.png"
        pngs[figures["scatter"]] = _png_bytes_of_figure(scatter_fig)
    document: dict[str, Any] = {
        "version": __version__,
        "models": models,
        "probe": settings.as_json(),
        "images": images,
        "references": ref_descriptors,
        "figures": figures,
        "scatter": list(scatter),
    }
    if lam is not None:
        document["lam"] = lam
    return Report(document=json_safe(document), pngs=pngs)


def write_json(out: Path, document: dict[str, Any]) -> None:
    """Write ``out/report.json`` atomically (a temporary file, then :func:`os.replace`), so that an interrupted
    run leaves the last complete document behind."""
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "report.json.tmp"
    tmp.write_text(json.dumps(json_safe(document), indent=2) + "\n")
    os.replace(tmp, out / "report.json")


def write_figures(out: Path, pngs: dict[str, bytes]) -> None:
    """Write the figures ``{relative path: PNG bytes}`` under ``out``."""
    (out / "figures").mkdir(parents=True, exist_ok=True)
    for rel, data in pngs.items():
        (out / rel).write_bytes(data)


def figure_paths(document: dict[str, Any]) -> list[str]:
    """The relative paths of every figure a document names (overview and per model)."""
    paths = list(document["figures"].values())
    for m in document["models"]:
        for rel in m["figures"].values():
            paths += list(rel.values()) if isinstance(rel, dict) else [rel]
    return paths


def write_report(
    out: Path,
    models: list[dict[str, Any]],
    settings: AnalysisSettings,
    images: list[dict[str, Any]],
    references: dict[int, ReferenceProbe],
    *,
    scatter: tuple[str, str] = DEFAULT_SCATTER,
    lam: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``report.json``, the overview figures and ``report.html`` into ``out``; return the JSON document.

    The models' own figures are already in ``out/figures`` (written as each model was analysed). The page
    inlines every figure up to :data:`~hyra_lightning.commands.report_html.INLINE_MODELS` models; beyond, it
    inlines the overview figures only and links the models' own from ``figures/``.
    """
    from hyra_lightning.commands.report_html import INLINE_MODELS

    report = build_report(models, settings, images, references, scatter=scatter, lam=lam)
    write_figures(out, report.pngs)
    write_json(out, report.document)
    doc = report.document
    inline = figure_paths(doc) if len(doc["models"]) <= INLINE_MODELS else list(doc["figures"].values())
    pngs = {rel: (out / rel).read_bytes() for rel in inline}
    (out / "report.html").write_text(render_html(doc, pngs), encoding="utf-8")
    return doc
