"""The page of ``hyra-lightning analyze``: one self-contained ``report.html`` rendered from the ``report.json``
document and its PNG figures (:func:`~hyra_lightning.commands.report.build_report`).

Up to :data:`INLINE_MODELS` models, figures are inlined (base64 PNG): the page needs no network and no other
file. Beyond, the models' figures are linked from ``figures/`` (``loading="lazy"``), so that a page of a hundred
models opens at once; keep ``report.html`` and ``figures/`` together. No external asset either way: the comparison
table sorts by any column on a click on its header with a few lines of inline JavaScript. Undefined numbers are
shown as "n/a"; every table cell carries the exact value in ``data-value`` (the same ``repr`` as the JSON,
``null`` for an undefined one).
"""

from __future__ import annotations

import base64
import html
import math
from typing import Any

from hyra_lightning.commands.records import response_radius

__all__ = ["INLINE_MODELS", "TABLE_COLUMNS", "render_html"]

#: Up to this many models the page inlines every figure; beyond, the models' figures are linked from figures/.
INLINE_MODELS = 12

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
table.sortable thead th{cursor:pointer}table.sortable thead th[data-dir=asc]::after{content:" \\25B2"}
table.sortable thead th[data-dir=desc]::after{content:" \\25BC"}
"""

#: Click a header of a sortable table to sort its body by that column (numbers by data-value, n/a last).
_SORT_JS = """
document.querySelectorAll("table.sortable").forEach(function(t){
 t.querySelectorAll("thead th").forEach(function(th,i){th.addEventListener("click",function(){
  var asc=th.dataset.dir!=="asc",b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows);
  t.querySelectorAll("thead th").forEach(function(h){delete h.dataset.dir});th.dataset.dir=asc?"asc":"desc";
  function key(r){var c=r.cells[i];if(!c||c.colSpan>1)return null;var v=c.dataset.value;
   if(v===undefined)return c.textContent;return v==="null"?null:parseFloat(v)}
  rows.sort(function(a,b){var x=key(a),y=key(b);if(x===null)return y===null?0:1;if(y===null)return -1;
   var d=typeof x==="number"&&typeof y==="number"?x-y:String(x).localeCompare(String(y));return asc?d:-d});
  rows.forEach(function(r){b.appendChild(r)})})})});
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
    return (entry.get(group) or {}).get(key)


def _img_tag(data: bytes | str, alt: str) -> str:
    if isinstance(data, str):  # a relative path: linked, loaded when scrolled to
        return f'<img src="{html.escape(data)}" alt="{html.escape(alt)}" loading="lazy">'
    return (
        f'<img src="data:image/png;base64,{base64.b64encode(data).decode("ascii")}" alt="{html.escape(alt)}">'
    )


def _figure(data: bytes | str, alt: str, caption: str) -> str:
    return f"<figure>{_img_tag(data, alt)}<figcaption>{caption}</figcaption></figure>"


class _Figures:
    """The figures of a page: inline PNG bytes where given, else links to the relative paths."""

    def __init__(self, pngs: dict[str, bytes] | None) -> None:
        self.pngs = pngs or {}

    def __getitem__(self, rel: str) -> bytes | str:
        return self.pngs.get(rel, rel)


def _columns(doc: dict[str, Any]) -> tuple[tuple[str, str, str], ...]:
    extra = (("lam.di", "LAM DI", ".1f"),) if "lam" in doc else ()
    return TABLE_COLUMNS + extra


def _comparison_table(doc: dict[str, Any]) -> str:
    columns = _columns(doc)
    head = "".join(f"<th>{h}</th>" for _, h, _ in columns)
    rows = [
        f'<thead><tr><th class="name">model</th><th class="name">arch.</th><th>scale</th>{head}</tr></thead><tbody>'
    ]
    for m in doc["models"]:
        name = html.escape(m["name"])
        arch = html.escape(str(m.get("architecture") or "?"))
        scale = (
            f'<td data-value="{m["scale"] if m["scale"] is not None else "null"}">{m["scale"] or "?"}</td>'
        )
        if m["error"]:
            rows.append(
                f'<tr data-model="{name}"><td class="name">{name}</td><td class="name">{arch}</td>{scale}'
                f'<td colspan="{len(columns)}" class="name bad">failed: see its section</td></tr>'
            )
            continue
        cells = "".join(_cell(key, _lookup(m, key), fmt) for key, _, fmt in columns)
        rows.append(
            f'<tr data-model="{name}"><td class="name">{name}</td><td class="name">{arch}</td>{scale}{cells}</tr>'
        )
    rows.append("</tbody><tbody>")
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
                _cell(f"reference.{k}", _lookup(entry, k), fmt)
                if k.split(".")[0] in ("descriptors", "scores")
                else "<td></td>"
                for k, _, fmt in columns
            )
            rows.append(
                f'<tr class="reference" data-reference="{key}" data-scale="{s}"><td class="name">{label}</td>'
                f'<td class="name">{key}</td><td>{s}</td>{cells}</tr>'
            )
    return '<table id="comparison" class="sortable">' + "".join(rows) + "</tbody></table>"


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


def _lam_caption(name: str, lam: dict[str, Any]) -> str:
    di = _fmt(lam.get("di"), ".1f")
    y, x = lam["box"]
    return (
        f"Local attribution map of {html.escape(name)}: the LR image with the footprint of the HR box at ({y}, {x})"
        f" outlined, and the map over it (yellow to red as the attribution grows). DI {di}: the share of LR pixels"
        " the box's edges draw on (0 one pixel, 100 all alike)."
    )


def _model_section(k: int, m: dict[str, Any], size: int, pngs: _Figures) -> str:
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
    if "lam" in figs and m.get("lam"):
        parts.append(
            "<h4>Local attribution map</h4>"
            + _figure(pngs[figs["lam"]], f"{name} local attribution map", _lam_caption(name, m["lam"]))
        )
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


def _zoo_view(doc: dict[str, Any], pngs: _Figures) -> str:
    figures = doc["figures"]
    if "scatter" not in figures:
        return ""
    x, y = doc.get("scatter", ["cutoff", "hf_injection"])
    return "<h2>Zoo view</h2>" + _figure(
        pngs[figures["scatter"]],
        f"scatter of {x} and {y}",
        f"{html.escape(y)} against {html.escape(x)}, one point per analysed model, coloured by architecture;"
        " stars: bicubic and the windowed sinc (a line where only one of the two numbers is defined for them)."
        " Choose the numbers with <code>--scatter X Y</code>; click a header of the comparison table to sort it.",
    )


def _lam_overview(doc: dict[str, Any], pngs: _Figures) -> str:
    lam = doc.get("lam")
    panels = [
        _figure(
            pngs[m["figures"]["lam"]],
            f"{m['name']} local attribution map",
            html.escape(m["name"]) + f" (DI {_fmt(m['lam'].get('di'), '.1f')})",
        )
        for m in doc["models"]
        if m.get("lam") and "lam" in m["figures"]
    ]
    if lam is None or not panels:
        return ""
    boxes = ", ".join(
        f"x{s}: ({b[0]}, {b[1]})" for s, b in sorted(lam["boxes"].items(), key=lambda kv: int(kv[0]))
    )
    return (
        "<h2>Local attribution maps</h2>"
        f'<p class="meta">Every model on image {html.escape(lam["image"])}, box of {lam["window"]} x {lam["window"]}'
        f" HR pixels at (y, x) {boxes}; {lam['steps']} steps of the {html.escape(lam['path'])} path. DI: the"
        " diffusion index (0: one LR pixel, 100: all alike).</p>" + "".join(panels)
    )


def render_html(doc: dict[str, Any], pngs: dict[str, bytes] | None) -> str:
    """The page of a ``report.json`` document.

    Args:
        doc: the document of :func:`~hyra_lightning.commands.report.build_report`.
        pngs: ``{relative path: PNG bytes}`` of the figures to inline; a figure the document names but ``pngs``
            does not hold (all of them when ``None``) is linked, and the page then needs ``figures/`` beside it.

    Returns:
        The HTML text.
    """
    figs = _Figures(pngs)
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
                figs[figures["profiles"]],
                "overlaid magnitude profiles",
                "Magnitude response of every model's luminance impulse response; an ideal low-pass filter falls"
                " to 0.5 at the LR Nyquist frequency 1/s.",
            )
        )
    if "fsds_curves" in figures:
        overview.append(
            "<h2>FSDS curves</h2>"
            + _figure(
                figs[figures["fsds_curves"]],
                "overlaid FSDS curves",
                "Frequency-similarity per radial band (dB); grey dashed: bicubic upsampling of the same LR images"
                " (drawn once: not where a model's curve is that one, as for the bicubic model).",
            )
        )
    sections = [_model_section(k, m, p["size"], figs) for k, m in enumerate(doc["models"])]
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
        + _zoo_view(doc, figs)
        + "".join(overview)
        + _lam_overview(doc, figs)
        + "<h2>Models</h2>"
        + "".join(sections)
        + f'<p class="meta">hyra-lightning {html.escape(doc["version"])}</p>'
        + f"<script>{_SORT_JS}</script></body></html>\n"
    )
