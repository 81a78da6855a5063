"""Take the README's screenshot of the zoo view of an ``hyra-lightning analyze`` report in headless Chromium.

Usage (from the repository root)::

    python docs/make_zoo_screenshot.py                  # a demonstration zoo of random-initialised networks
    python docs/make_zoo_screenshot.py --zoo my_models/  # a folder of your own checkpoints instead

By default it writes a folder of 14 checkpoints shaped like those of ``hyra-lightning fit`` (EDSR and ESPCN
of several widths and depths, random weights: a demonstration of the page, not of trained networks), runs
``hyra-lightning analyze <folder> bicubic sinc --scale 2``, sorts the comparison table by its ``cutoff`` column
with a click, and photographs the comparison table and the zoo view's scatter plot as
``docs/images/analyze_zoo.png``. Needs Chromium (Debian: ``apt-get install chromium``, or ``--chromium``) and
Playwright's Python package. Nothing is drawn by this script: the picture is the report as a browser shows it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_screenshots import _find_chromium  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _demo_zoo(folder: Path) -> None:
    """14 random-initialised x2 networks of `hyra-lightning fit`'s checkpoint layout, in two sub-folders."""
    from hyra_lightning.models import EDSR, ESPCN

    specs: list[tuple[str, type, dict]] = []
    for blocks, feats in ((1, 8), (2, 16), (4, 16), (4, 32), (8, 32), (8, 64), (16, 64), (2, 8)):
        specs.append(
            (f"edsr/edsr_b{blocks}_f{feats}", EDSR, {"scale": 2, "n_resblocks": blocks, "n_feats": feats})
        )
    for act in ("tanh", "relu", "tanh", "relu", "tanh", "relu"):
        specs.append((f"espcn/espcn_{act}_{len(specs)}", ESPCN, {"scale": 2, "activation": act}))
    for k, (name, cls, args) in enumerate(specs):
        torch.manual_seed(k)
        net = cls(**args)
        path = folder / f"{name}.ckpt"
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "state_dict": {f"model.{n}": v for n, v in net.state_dict().items()},
                "hyper_parameters": {
                    "model": {"class_path": f"hyra_lightning.models.{cls.__name__}", "init_args": args},
                    "scale": 2,
                },
            },
            path,
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--zoo", type=Path, default=None, help="a folder of checkpoints (default: see above)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "analyze_zoo.png")
    parser.add_argument(
        "--keep", type=Path, default=None, help="write the report into this folder and keep it"
    )
    parser.add_argument("--max-size", default="96", help="analyze's --max-size (small: a quick run)")
    parser.add_argument("--chromium", default=None, help="Chromium binary")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    chromium = _find_chromium(args.chromium)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        zoo = args.zoo
        if zoo is None:
            zoo = work / "zoo"
            _demo_zoo(zoo)
        report = args.keep or work / "report"
        cmd = [
            sys.executable,
            "-m",
            "hyra_lightning.cli",
            "analyze",
            str(zoo),
            "bicubic",
            "sinc",
            "--scale",
            "2",
        ]
        cmd += ["--max-size", args.max_size, "--out", str(report), "--no-progress"]
        subprocess.run(cmd, check=False)  # exit code 1 when a model failed: the page is still written
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto((report / "report.html").resolve().as_uri())
                page.wait_for_load_state("load")
                page.click("#comparison thead th:text-is('cutoff')")
                box = page.evaluate(
                    """() => {const t = [...document.querySelectorAll('h2')].find(h => h.textContent === 'Comparison').getBoundingClientRect();
                              const s = document.querySelector('img[alt^="scatter of"]').getBoundingClientRect();
                              return {x: 0, y: t.top + window.scrollY - 10, width: 1400,
                                      height: s.bottom - t.top + 50};}"""
                )
                page.screenshot(path=str(args.out), clip=box, full_page=True)
            finally:
                browser.close()
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


if __name__ == "__main__":
    main()
