"""The report of ``hyra-lightning analyze``: the ``report.json`` document and its PNG figures, built from the
records of :mod:`hyra_lightning.commands.records`; the HTML page is rendered from them by
:mod:`hyra_lightning.commands.report_html`.

Layout of the output folder::

    report.html             one file, figures inline (base64 PNG), no network needed to view it
    report.json             every number (schema in the README, section "Analyse trained networks")
    figures/profiles.png    magnitude profiles of all models, with the references
    figures/fsds_curves.png frequency-similarity curves of all models and of bicubic
    figures/<NN>_<model>_response.png, _spectrum.png, _profile.png, _hyra_<image>.png

Undefined numbers (NaN, infinities) are written as ``null`` in ``report.json``.
"""

from __future__ import annotations

import io
import json
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

__all__ = ["Report", "build_report", "write_report"]

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


def _model_entry(
    k: int,
    res: AnalysedModel,
    frequencies: list[float],
    size: int,
    profiles: dict[int, dict[str, tuple[list[float], list[float]]]],
    pngs: dict[str, bytes],
) -> dict[str, Any]:
    """The ``report.json`` entry of one model; its figures go into ``pngs``."""
    from hyra_lightning.analysis import impulse_response_figure, impulse_spectrum_figure

    stem = f"{k:02d}_{_slug(res.name)}"
    entry: dict[str, Any] = {
        "name": res.name,
        "source": res.source,
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
    figs = entry["figures"]

    def save(rel: str, data: bytes) -> str:
        pngs[rel] = data
        return rel

    if res.response is not None and res.scale is not None:
        s = res.scale
        f, mh, mv = _mean_profile(res.response)
        entry["profile"] = {"frequencies": f, "horizontal": mh, "vertical": mv}
        radius = response_radius(size)
        figs["response"] = save(
            f"figures/{stem}_response.png",
            _png_bytes_of_figure(impulse_response_figure(res.response, radius), dpi=140),
        )
        figs["spectrum"] = save(
            f"figures/{stem}_spectrum.png",
            _png_bytes_of_figure(impulse_spectrum_figure(res.response), dpi=140),
        )
        figs["profile"] = save(
            f"figures/{stem}_profile.png",
            _png_bytes_of_figure(_model_profile_figure(res.name, s, f, mh, mv, profiles[s])),
        )
    if res.images:
        entry["fsds_curve"] = {
            "frequencies": frequencies,
            "model": res.mean_curve("curve"),
            "bicubic": res.mean_curve("bicubic_curve"),
        }
        for img in res.images:
            figs.setdefault("hyra", {})[img.name] = save(
                f"figures/{stem}_hyra_{_slug(img.name)}.png", _png_bytes_of_image(img.panel)
            )
    return entry


def build_report(
    results: list[AnalysedModel],
    settings: AnalysisSettings,
    images: list[dict[str, Any]],
    references: dict[int, ReferenceProbe],
) -> Report:
    """The ``report.json`` document and its figures, from the records of one ``analyze`` run.

    Args:
        results: one record per model, in the order of the command line.
        settings: the run's settings (the document's ``probe`` section).
        images: ``[{"name", "path", "size"}]`` of the HR images.
        references: the reference upsamplers probed at every scale of the run.

    Returns:
        A :class:`Report` (nothing is written).
    """
    from hyra_lightning import __version__
    from hyra_lightning.functional import frequency_bands

    pngs: dict[str, bytes] = {}
    frequencies = frequency_bands(settings.num_bands)[0].tolist()
    profiles = {s: _reference_profiles(ref) for s, ref in references.items()}
    models = [
        _model_entry(k, res, frequencies, settings.probe.size, profiles, pngs)
        for k, res in enumerate(results)
    ]
    overlay = [
        (
            m["name"],
            m["scale"],
            m["profile"]["frequencies"],
            [(a + b) / 2 for a, b in zip(m["profile"]["horizontal"], m["profile"]["vertical"], strict=True)],
        )
        for m in models
        if m["profile"] is not None
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
    document = json_safe(
        {
            "version": __version__,
            "models": models,
            "probe": settings.as_json(),
            "images": images,
            "references": {str(s): ref.descriptors() for s, ref in references.items()},
            "figures": figures,
        }
    )
    return Report(document=document, pngs=pngs)


def write_report(
    out: Path,
    results: list[AnalysedModel],
    settings: AnalysisSettings,
    images: list[dict[str, Any]],
    references: dict[int, ReferenceProbe],
) -> dict[str, Any]:
    """Write ``report.json``, the PNG figures and ``report.html`` into ``out``; return the JSON document.

    The document and figures come from :func:`build_report`, the page from
    :func:`~hyra_lightning.commands.report_html.render_html`.
    """
    report = build_report(results, settings, images, references)
    out.mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)
    for rel, data in report.pngs.items():
        (out / rel).write_bytes(data)
    (out / "report.json").write_text(json.dumps(report.document, indent=2) + "\n")
    (out / "report.html").write_text(render_html(report.document, report.pngs), encoding="utf-8")
    return report.document
