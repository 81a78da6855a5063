"""The page of ``hyra-lightning analyze``: one self-contained ``report.html`` rendered from the ``report.json``
document and its PNG figures (:func:`~hyra_lightning.commands.report.build_report`).

Figures are inlined (base64 PNG): the page needs no network and no other file. Undefined numbers are shown as
"n/a"; every table cell carries the exact value in ``data-value`` (the same ``repr`` as the JSON, ``null``
for an undefined one).
"""

from __future__ import annotations

import base64
import html
import math
from typing import Any

from hyra_lightning.commands.records import response_radius

__all__ = ["TABLE_COLUMNS", "render_html"]

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


def _finite(v: Any) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


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


def _model_section(k: int, m: dict[str, Any], size: int, pngs: dict[str, bytes]) -> str:
    """The section of one model: its figures, descriptors, per-image table, HyRA panels and errors."""
    name = m["name"]
    figs = m["figures"]
    parts: list[str] = []
    if "response" in figs:
        radius = response_radius(size)
        parts.append(
            '<div class="figs">'
            + _figure(
                pngs[figs["response"]],
                f"{name} impulse response",
                f"Impulse response (luminance, {radius} LR pixels on each side of the centre): red positive,"
                " blue negative, white zero; the colour bar gives the HR output per unit LR impulse.",
            )
            + _figure(
                pngs[figs["spectrum"]],
                f"{name} response spectrum",
                "Log-magnitude spectrum of the response (centred; 0 dB white, -60 dB black), axes in HR Nyquist"
                " units; the red square is the LR passband |fx|, |fy| &le; 1/s.",
            )
            + _figure(pngs[figs["profile"]], f"{name} magnitude profile", "Magnitude profile.")
            + "</div>"
        )
        parts.append("<h4>Descriptors</h4>" + _descriptor_list(m["descriptors"]))
    if m["images"]:
        parts.append("<h4>Scores and HyRA per image</h4>" + _image_table(m))
        panels = [
            _figure(
                pngs[figs["hyra"][img["name"]]],
                f"{name} HyRA panel on {img['name']}",
                f"HyRA of {html.escape(name)} on {html.escape(img['name'])}: N(x) = B + H(x) + G(x)."
                " Bottom row: log-magnitude spectra on one common level. A regular s x s grid in"
                " B + H(x) is the network's own per-phase DC gains (the line under the panel, and"
                " phase_gain_spread among the descriptors), not a rendering fault.",
            )
            for img in m["images"]
        ]
        parts.append('<h4>HyRA panels</h4><div class="panels">' + "".join(panels) + "</div>")
    errors = ([m["error"]] if m["error"] else []) + [e["message"] for e in m["image_errors"]]
    err_html = "".join(f'<div class="error">{html.escape(e)}</div>' for e in errors)
    meta = (
        f"source <code>{html.escape(m['source'])}</code>"
        + (f" &middot; architecture {html.escape(m['architecture'])}" if m["architecture"] else "")
        + (f" &middot; x{m['scale']}" if m["scale"] else "")
        + (f" &middot; loaded as {html.escape(m['kind'])}" if m["kind"] else "")
    )
    return (
        f'<section class="model" id="model-{k}" data-model="{html.escape(name)}">'
        f'<h3>{html.escape(name)}</h3><p class="meta">{meta}</p>{err_html}{"".join(parts)}</section>'
    )


def render_html(doc: dict[str, Any], pngs: dict[str, bytes]) -> str:
    """The self-contained page of a ``report.json`` document.

    Args:
        doc: the document of :func:`~hyra_lightning.commands.report.build_report`.
        pngs: ``{relative path: PNG bytes}`` of the figures the document names.

    Returns:
        The HTML text.
    """
    p = doc["probe"]
    figures = doc["figures"]
    probe_text = (
        f"probe: {p['size']} x {p['size']} LR impulse of amplitude {p['amplitude']:g} on background"
        f" {p['background']:g} (baseline removed, cross-channel); HyRA boundary {p['boundary']}; HR crops of at most"
        f" {p['max_size']} x {p['max_size']}, LR by antialiased bicubic downsampling; PSNR/SSIM/FSDS and the FSDS"
        " curves on RGB after cropping <i>scale</i> pixels per side, FSDS reference the HR image."
    )
    image_text = ", ".join(
        f"{html.escape(i['name'])} ({i['size'][1]} x {i['size'][0]})" for i in doc["images"]
    )
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
    sections = [_model_section(k, m, p["size"], pngs) for k, m in enumerate(doc["models"])]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>hyra-lightning analyze report</title>"
        f"<style>{_CSS}</style></head><body>"
        "<h1>hyra-lightning analyze</h1>"
        f'<p class="meta">{len(doc["models"])} model(s) &middot; images: {image_text}<br>{probe_text}</p>'
        "<h2>Comparison</h2>"
        '<p class="meta">Descriptors of the impulse response (ideal low-pass: dc_gain 1, cutoff 1/s, sinc'
        " similarity 1, negative lobe 0.217, leakage 0), HyRA scalars and scores (mean over images), each"
        " against bicubic upsampling of the same LR images; the reference rows give the closed-form bicubic"
        " kernel and the windowed sinc.</p>"
        + _comparison_table(doc)
        + "".join(overview)
        + "<h2>Models</h2>"
        + "".join(sections)
        + f'<p class="meta">hyra-lightning {html.escape(doc["version"])}</p></body></html>\n'
    )
