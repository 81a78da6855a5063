"""The ``analyze`` report as a person sees it: its figures, and the page in a real browser (headless Chromium).

The browser test needs Playwright's Python package and a Chromium binary (Debian: ``apt-get install chromium``;
``pip install playwright``, no browser download); it is skipped where either is missing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hyra_lightning.commands.report import _curves_figure
from hyra_lightning.data import load_photo
from tests.conftest import run_cli

#: Chromium's flags for a machine without a display, sandbox or network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _legend_labels(fig) -> list[str]:
    return [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_fsds_curves_draw_the_bicubic_baseline_once():
    frequencies = [0.1, 0.3, 0.5]
    baseline = [30.0, 25.0, float("nan")]
    fig = _curves_figure(
        frequencies, [("bicubic", list(baseline)), ("net", [32.0, 20.0, 10.0])], {2: baseline}
    )
    assert _legend_labels(fig) == ["bicubic", "net"]  # the bicubic model's curve is the baseline
    fig = _curves_figure(frequencies, [("net", [32.0, 20.0, 10.0])], {2: baseline})
    assert _legend_labels(fig) == ["bicubic x2", "net"]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    img = load_photo("coffee")[:, 40:104, 40:104]
    Image.fromarray((img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(folder / "coffee.png")
    out = folder / "out"
    args = ["analyze", "--no-progress", "bicubic", "sinc", "--scale", "2", "--size", "9"]
    with pytest.raises(SystemExit) as exc:
        run_cli([*args, "--images", str(folder / "coffee.png"), "--out", str(out)], capture=False)
    assert not exc.value.code
    return out / "report.html"


@pytest.mark.requires("playwright")
def test_report_in_a_browser_decodes_every_image_logs_no_error_and_fits_1280_pixels(report: Path):
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright's Python package is not installed"
    )
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no Chromium binary (Debian: apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.goto(report.resolve().as_uri())
            page.wait_for_load_state("load")
            images = page.evaluate(
                "() => Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])"
            )
            widths = page.evaluate(
                """() => ({table: document.getElementById('comparison').getBoundingClientRect().right,
                           page: document.documentElement.clientWidth,
                           scroll: document.documentElement.scrollWidth})"""
            )
        finally:
            browser.close()
    assert errors == []
    # two models: response, spectrum, profile and one HyRA panel each, plus the two overlays and the scatter
    assert len(images) == 11
    assert all(complete and width > 0 and height > 0 for _, complete, width, height in images), images
    assert widths["table"] <= widths["page"] and widths["scroll"] <= widths["page"], widths


def test_zoo_scatter_colours_by_architecture_and_marks_the_references():
    """One colour per architecture; a reference analysed as a model is a star; a reference that is not is a star
    where both numbers are defined for it, else a line at the one that is (references have no HyRA numbers)."""
    from hyra_lightning.commands.report import _scatter_figure

    def model(name, arch, kind, cutoff, hf, source=None):
        return {
            "name": name,
            "source": source or f"{name}.pth",
            "architecture": arch,
            "kind": kind,
            "error": None,
            "descriptors": {"cutoff": cutoff, "dc_gain": 1.0},
            "hyra": {"hf_injection": hf},
        }

    models = [
        model("a", "EDSR", "hyra-lightning", 0.4, 0.1),
        model("b", "EDSR", "hyra-lightning", 0.6, 0.2),
        model("c", "SwinIR", "spandrel", 0.5, None),  # no HyRA number: not drawn
        model("bicubic", "bicubic", "reference", 0.495, 0.01, source="bicubic"),
    ]
    refs = {"2": {"bicubic": {"cutoff": 0.495, "dc_gain": 1.0}, "sinc": {"cutoff": 0.5, "dc_gain": 1.0}}}
    fig = _scatter_figure(models, refs, "cutoff", "hf_injection")
    ax = fig.axes[0]
    assert _legend_labels(fig) == ["EDSR (2)", "bicubic (1)", "windowed sinc reference x2"]
    (vline,) = ax.get_lines()
    assert list(vline.get_xdata()) == [0.5, 0.5]  # the sinc's cutoff, its hf_injection undefined
    edsr, bicubic = ax.collections
    assert edsr.get_offsets().tolist() == [[0.4, 0.1], [0.6, 0.2]]
    assert bicubic.get_offsets().tolist() == [[0.495, 0.01]]
    # both numbers defined for the references: stars
    fig = _scatter_figure(models[:2], refs, "cutoff", "dc_gain")
    assert _legend_labels(fig) == ["EDSR (2)", "bicubic reference x2", "windowed sinc reference x2"]
    assert _scatter_figure([{**models[0], "error": "failed"}], refs, "cutoff", "hf_injection") is None
