"""The report of ``hyra-lightning analyze``: ``report.json``, PNG figures and one self-contained ``report.html``.

Layout of the output folder::

    report.html             one file, figures inline (base64 PNG), no network needed to view it
    report.json             every number (schema in the README, section "Analyse trained networks")
    figures/profiles.png    magnitude profiles of all models, with the references
    figures/fsds_curves.png frequency-similarity curves of all models and of bicubic
    figures/<NN>_<model>_response.png, _spectrum.png, _profile.png, _hyra_<image>.png

Undefined numbers (NaN, infinities) are written as ``null`` in ``report.json`` and shown as "n/a" in the
HTML, whose table cells carry the exact value in ``data-value`` (the same ``repr`` as the JSON).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from hyra_lightning.commands.analyze import AnalysedModel

__all__ = ["write_report"]

#: Comparison-table columns: (JSON path in a model entry, header, format).
TABLE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("descriptors.dc_gain", "dc_gain", ".3f"),
    ("descriptors.cutoff", "cutoff", ".3f"),
    ("descriptors.sinc_similarity", "sinc sim.", ".3f"),
    ("descriptors.negative_lobe", "neg. lobe", ".3f"),
    ("descriptors.stopband_leakage", "leakage", ".4f"),
    ("hyra.nonlinear_energy_ratio", "non-lin. energy", ".4f"),
    ("hyra.hf_injection", "HF injection", ".3f"),
    ("scores.psnr", "PSNR", ".2f"),
    ("delta.psnr", "&Delta; bicubic", "+.2f"),
    ("scores.ssim", "SSIM", ".4f"),
    ("delta.ssim", "&Delta; bicubic", "+.4f"),
    ("scores.fsds", "FSDS", ".2f"),
    ("delta.fsds", "&Delta; bicubic", "+.2f"),
)

_PROFILE_FFT = 512
_DASHES = ("--", "-.", (0, (6, 2, 1, 2, 1, 2)))
_DOTS = (":", (0, (1, 3)), (0, (2, 4)))
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22")


def _finite(v: Any) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


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


def _reference_profiles(scale: int, probe: dict[str, Any]) -> dict[str, tuple[list[float], list[float]]]:
    from hyra_lightning.analysis import impulse_response, magnitude_profiles
    from hyra_lightning.models import BicubicUpsampler, SincUpsampler

    out = {}
    for key, model in (("bicubic", BicubicUpsampler(scale)), ("sinc", SincUpsampler(scale))):
        r = impulse_response(model, size=probe["size"], scale=scale, in_channels=1, dtype=torch.float64)
        n = max(_PROFILE_FFT, r.luminance.shape[-1] + r.luminance.shape[-1] % 2)
        f, mh, _ = magnitude_profiles(r, n_fft=n)
        out[key] = (f.tolist(), mh.tolist())
    return out


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


# ----------------------------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1300px;color:#222;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
.meta{color:#555;font-size:.9em}table{border-collapse:collapse;font-size:.85em;margin:.6em 0}
th,td{border:1px solid #ddd;padding:.3em .55em;text-align:right}th{background:#f4f4f4}
td.name,th.name{text-align:left}tr.reference td{color:#555;background:#fafafa;font-style:italic}
.good{color:#16794a}.bad{color:#b3261e}.error{background:#fdecea;border:1px solid #f5c2bd;padding:.6em .8em;border-radius:4px;white-space:pre-wrap}
figure{display:inline-table;margin:.5em 1em .5em 0;vertical-align:top}figcaption{display:table-caption;caption-side:bottom;font-size:.8em;color:#555;padding-top:.3em}
img{max-width:100%}section.model{border-top:2px solid #eee;margin-top:1.5em}
"""


def _fmt(value: Any, fmt: str) -> str:
    v = _finite(value)
    return "n/a" if v is None else format(v, fmt)


def _cell(key: str, value: Any, fmt: str) -> str:
    v = _finite(value)
    cls = ""
    if key.startswith("delta.") and v is not None and v != 0:
        cls = ' class="good"' if v > 0 else ' class="bad"'
    data = "null" if v is None else repr(v)
    return f'<td data-key="{key}" data-value="{data}"{cls}>{_fmt(value, fmt)}</td>'


def _lookup(entry: dict[str, Any], path: str) -> Any:
    group, key = path.split(".")
    if group == "delta":
        a = _finite(entry.get("scores", {}).get(key))
        b = _finite(entry.get("bicubic", {}).get(key))
        return None if a is None or b is None else a - b
    return entry.get(group, {}).get(key)


def _img_tag(data: bytes, alt: str) -> str:
    return (
        f'<img src="data:image/png;base64,{base64.b64encode(data).decode("ascii")}" alt="{html.escape(alt)}">'
    )


def _figure(data: bytes, alt: str, caption: str) -> str:
    return f"<figure>{_img_tag(data, alt)}<figcaption>{caption}</figcaption></figure>"


def _comparison_table(doc: dict[str, Any]) -> str:
    head = "".join(f"<th>{h}</th>" for _, h, _ in TABLE_COLUMNS)
    rows = [f'<tr><th class="name">model</th><th>scale</th>{head}</tr>']
    for m in doc["models"]:
        name = html.escape(m["name"])
        if m["error"]:
            rows.append(
                f'<tr data-model="{name}"><td class="name">{name}</td><td>{m["scale"] or "?"}</td>'
                f'<td colspan="{len(TABLE_COLUMNS)}" class="name bad">failed: see its section</td></tr>'
            )
            continue
        cells = "".join(_cell(key, _lookup(m, key), fmt) for key, _, fmt in TABLE_COLUMNS)
        rows.append(f'<tr data-model="{name}"><td class="name">{name}</td><td>{m["scale"]}</td>{cells}</tr>')
    for s, refs in sorted(doc["references"].items(), key=lambda kv: int(kv[0])):
        bicubic_scores = next(
            (m["bicubic"] for m in doc["models"] if not m["error"] and str(m["scale"]) == s and m["bicubic"]),
            {},
        )
        for key, label in (("bicubic", "bicubic (closed form)"), ("sinc", "ideal sinc (windowed)")):
            entry = {
                "descriptors": refs[key],
                "hyra": {},
                "scores": bicubic_scores if key == "bicubic" else {},
            }
            cells = "".join(
                _cell(f"reference.{k}", _lookup(entry, k), fmt) if not k.startswith("delta") else "<td></td>"
                for k, _, fmt in TABLE_COLUMNS
            )
            rows.append(
                f'<tr class="reference" data-reference="{key}" data-scale="{s}"><td class="name">{label}</td>'
                f"<td>{s}</td>{cells}</tr>"
            )
    return '<table id="comparison">' + "".join(rows) + "</table>"


def _image_table(m: dict[str, Any]) -> str:
    rows = [
        '<tr><th class="name">image</th><th>crop</th><th>PSNR</th><th>bicubic</th><th>SSIM</th><th>bicubic</th>'
        "<th>FSDS</th><th>bicubic</th><th>non-lin. energy</th><th>HF injection</th><th>FSDS linear part</th>"
        "<th>FSDS gain</th></tr>"
    ]
    for img in m["images"]:
        cells = [
            _cell("scores.psnr", img["scores"]["psnr"], ".2f"),
            _cell("bicubic.psnr", img["bicubic"]["psnr"], ".2f"),
            _cell("scores.ssim", img["scores"]["ssim"], ".4f"),
            _cell("bicubic.ssim", img["bicubic"]["ssim"], ".4f"),
            _cell("scores.fsds", img["scores"]["fsds"], ".2f"),
            _cell("bicubic.fsds", img["bicubic"]["fsds"], ".2f"),
            _cell("hyra.nonlinear_energy_ratio", img["hyra"].get("nonlinear_energy_ratio"), ".4f"),
            _cell("hyra.hf_injection", img["hyra"].get("hf_injection"), ".3f"),
            _cell("hyra.fsds_linear", img["hyra"].get("fsds_linear"), ".2f"),
            _cell("hyra.fsds_gain", img["hyra"].get("fsds_gain"), "+.2f"),
        ]
        crop = f"{img['crop'][1]} x {img['crop'][0]}"
        rows.append(
            f'<tr data-image="{html.escape(img["name"])}"><td class="name">{html.escape(img["name"])}</td>'
            f"<td>{crop}</td>{''.join(cells)}</tr>"
        )
    return '<table class="images">' + "".join(rows) + "</table>"


def _descriptor_list(d: dict[str, Any]) -> str:
    items = "".join(
        f'<tr><td class="name">{html.escape(k)}</td>{_cell("descriptors." + k, v, ".4f")}</tr>'
        for k, v in d.items()
    )
    return f'<table class="descriptors">{items}</table>'


# ----------------------------------------------------------------------------------------------- writer


def write_report(
    out: Path,
    results: list[AnalysedModel],
    probe: dict[str, Any],
    images: list[dict[str, Any]],
    references: dict[int, dict[str, dict[str, float]]],
) -> dict[str, Any]:
    """Write ``report.json``, the PNG figures and ``report.html`` into ``out``; return the JSON document."""
    from hyra_lightning import __version__
    from hyra_lightning.analysis import impulse_response_figure, impulse_spectrum_figure
    from hyra_lightning.commands.score import json_safe
    from hyra_lightning.functional import frequency_bands

    out.mkdir(parents=True, exist_ok=True)
    fig_dir = out / "figures"
    fig_dir.mkdir(exist_ok=True)
    pngs: dict[str, bytes] = {}

    def save(rel: str, data: bytes) -> str:
        (out / rel).write_bytes(data)
        pngs[rel] = data
        return rel

    frequencies = frequency_bands(probe["num_bands"])[0].tolist()
    ref_profiles = {s: _reference_profiles(s, probe) for s in references}
    doc_models: list[dict[str, Any]] = []
    html_sections: list[str] = []
    overlay: list[tuple[str, int, list[float], list[float]]] = []
    curves: list[tuple[str, list[float]]] = []
    bicubic_curves: dict[int, list[float]] = {}
    for k, res in enumerate(results):
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
        parts: list[str] = []
        if res.response is not None:
            s = res.scale
            f, mh, mv = _mean_profile(res.response)
            entry["profile"] = {"frequencies": f, "horizontal": mh, "vertical": mv}
            overlay.append((res.name, s, f, [(a + b) / 2 for a, b in zip(mh, mv, strict=True)]))
            radius = min(4, res.response.size // 2)
            response_png = _png_bytes_of_figure(impulse_response_figure(res.response, radius), dpi=140)
            spectrum_png = _png_bytes_of_figure(impulse_spectrum_figure(res.response), dpi=140)
            figs = entry["figures"]
            figs["response"] = save(f"figures/{stem}_response.png", response_png)
            figs["spectrum"] = save(f"figures/{stem}_spectrum.png", spectrum_png)
            figs["profile"] = save(
                f"figures/{stem}_profile.png",
                _png_bytes_of_figure(_model_profile_figure(res.name, s, f, mh, mv, ref_profiles[s])),
            )
            parts.append(
                '<div class="figs">'
                + _figure(
                    response_png,
                    f"{res.name} impulse response",
                    f"Impulse response (luminance, {radius} LR pixels on each side of the centre): red positive,"
                    " blue negative, white zero; the colour bar gives the HR output per unit LR impulse.",
                )
                + _figure(
                    spectrum_png,
                    f"{res.name} response spectrum",
                    "Log-magnitude spectrum of the response (centred; 0 dB white, -60 dB black), axes in HR Nyquist"
                    " units; the red square is the LR passband |fx|, |fy| &le; 1/s.",
                )
                + _figure(pngs[figs["profile"]], f"{res.name} magnitude profile", "Magnitude profile.")
                + "</div>"
            )
            parts.append("<h4>Descriptors</h4>" + _descriptor_list(res.descriptors))
        if res.images:
            entry["fsds_curve"] = {
                "frequencies": frequencies,
                "model": res.mean_curve("curve"),
                "bicubic": res.mean_curve("bicubic_curve"),
            }
            curves.append((res.name, entry["fsds_curve"]["model"]))
            bicubic_curves.setdefault(res.scale, entry["fsds_curve"]["bicubic"])
            parts.append("<h4>Scores and HyRA per image</h4>" + _image_table(entry))
            panels = []
            for img in res.images:
                rel = f"figures/{stem}_hyra_{_slug(img.name)}.png"
                data = _png_bytes_of_image(img.panel)
                entry["figures"].setdefault("hyra", {})[img.name] = save(rel, data)
                panels.append(
                    _figure(
                        data,
                        f"{res.name} HyRA panel on {img.name}",
                        f"HyRA of {html.escape(res.name)} on {html.escape(img.name)}: N(x) = B + H(x) + G(x)."
                        " Bottom row: log-magnitude spectra on one common level. A regular s x s grid in"
                        " B + H(x) is the network's own per-phase DC gains (the line under the panel, and"
                        " phase_gain_spread among the descriptors), not a rendering fault.",
                    )
                )
            parts.append('<h4>HyRA panels</h4><div class="panels">' + "".join(panels) + "</div>")
        errors = ([res.error] if res.error else []) + [e["message"] for e in res.image_errors]
        err_html = "".join(f'<div class="error">{html.escape(e)}</div>' for e in errors)
        meta = (
            f"source <code>{html.escape(res.source)}</code>"
            + (f" &middot; architecture {html.escape(res.architecture)}" if res.architecture else "")
            + (f" &middot; x{res.scale}" if res.scale else "")
            + (f" &middot; loaded as {html.escape(res.kind)}" if res.kind else "")
        )
        html_sections.append(
            f'<section class="model" id="model-{k}" data-model="{html.escape(res.name)}">'
            f'<h3>{html.escape(res.name)}</h3><p class="meta">{meta}</p>{err_html}{"".join(parts)}</section>'
        )
        doc_models.append(entry)

    figures: dict[str, str] = {}
    if overlay:
        title = "Magnitude profiles (mean of horizontal and vertical axes)"
        figures["profiles"] = save(
            "figures/profiles.png", _png_bytes_of_figure(_profiles_figure(overlay, ref_profiles, title))
        )
    if curves:
        figures["fsds_curves"] = save(
            "figures/fsds_curves.png",
            _png_bytes_of_figure(_curves_figure(frequencies, curves, bicubic_curves)),
        )
    doc = json_safe(
        {
            "version": __version__,
            "models": doc_models,
            "probe": probe,
            "images": images,
            "references": {str(s): refs for s, refs in references.items()},
            "figures": figures,
        }
    )
    (out / "report.json").write_text(json.dumps(doc, indent=2) + "\n")

    p = probe
    probe_text = (
        f"probe: {p['size']} x {p['size']} LR impulse of amplitude {p['amplitude']:g} on background"
        f" {p['background']:g} (baseline removed, cross-channel); HyRA boundary {p['boundary']}; HR crops of at most"
        f" {p['max_size']} x {p['max_size']}, LR by antialiased bicubic downsampling; PSNR/SSIM/FSDS on RGB after"
        " cropping <i>scale</i> pixels per side, FSDS reference the HR image."
    )
    image_text = ", ".join(f"{html.escape(i['name'])} ({i['size'][1]} x {i['size'][0]})" for i in images)
    overview = []
    if "profiles" in figures:
        overview.append(
            "<h2>Magnitude profiles</h2>"
            + _figure(
                pngs[figures["profiles"]],
                "overlaid magnitude profiles",
                "Magnitude response of every model's luminance impulse response; an ideal low-pass filter falls"
                " to 0.5 at the LR Nyquist frequency 1/s.",
            )
        )
    if "fsds_curves" in figures:
        overview.append(
            "<h2>FSDS curves</h2>"
            + _figure(
                pngs[figures["fsds_curves"]],
                "overlaid FSDS curves",
                "Frequency-similarity per radial band (dB); grey dashed: bicubic upsampling of the same LR images"
                " (drawn once: not where a model's curve is that one, as for the bicubic model).",
            )
        )
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>hyra-lightning analyze report</title>"
        f"<style>{_CSS}</style></head><body>"
        "<h1>hyra-lightning analyze</h1>"
        f'<p class="meta">{len(results)} model(s) &middot; images: {image_text}<br>{probe_text}</p>'
        "<h2>Comparison</h2>"
        '<p class="meta">Descriptors of the impulse response (ideal low-pass: dc_gain 1, cutoff 1/s, sinc'
        " similarity 1, negative lobe 0.217, leakage 0), HyRA scalars and scores (mean over images), each"
        " against bicubic upsampling of the same LR images; the reference rows give the closed-form bicubic"
        " kernel and the windowed sinc.</p>"
        + _comparison_table(doc)
        + "".join(overview)
        + "<h2>Models</h2>"
        + "".join(html_sections)
        + f'<p class="meta">hyra-lightning {html.escape(__version__)}</p></body></html>\n'
    )
    (out / "report.html").write_text(page, encoding="utf-8")
    return doc
