"""Take the README's screenshot of an ``hyra-lightning analyze`` report in headless Chromium.

Usage (from the repository root)::

    python docs/make_report_screenshot.py                        # short quickstart fit, then analyze + shoot
    python docs/make_report_screenshot.py --models a.pth b.ckpt  # analyse your own checkpoints instead

By default it trains the quickstart EDSR for ``--steps`` optimizer steps (monitors off; a few minutes on a
CPU), runs
``hyra-lightning analyze <its last.ckpt> bicubic sinc`` on the two held-out bundled photographs, and
photographs the top of the resulting ``report.html`` (comparison table and overlaid profiles) as
``docs/images/analyze_report.png``. Needs Chromium (Debian: ``apt-get install chromium``, or ``--chromium``).
Nothing is drawn by this script: the picture is the report as a browser shows it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_screenshots import _find_chromium, headless_screenshot  # noqa: E402


def _quickstart_checkpoint(workdir: Path, steps: int) -> Path:
    """Train the quickstart EDSR for ``steps`` steps (monitors left out: only the checkpoint is needed)."""
    import yaml

    cfg = yaml.safe_load((ROOT / "configs" / "quickstart.yaml").read_text())
    trainer = cfg["trainer"]
    trainer.update(max_steps=steps, val_check_interval=steps, enable_progress_bar=False)
    trainer["logger"]["init_args"]["save_dir"] = str(workdir / "logs")
    trainer["callbacks"] = [cb for cb in trainer["callbacks"] if cb["class_path"].endswith("ModelCheckpoint")]
    config = workdir / "quickstart_short.yaml"
    config.write_text(yaml.safe_dump(cfg))
    subprocess.run(
        [sys.executable, "-m", "hyra_lightning.cli", "fit", "--config", str(config)], cwd=workdir, check=True
    )
    (ckpt,) = sorted((workdir / "logs").glob("quickstart/version_*/checkpoints/last.ckpt"))
    return ckpt


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--models", nargs="+", default=None, help="MODEL arguments of analyze (default: see above)"
    )
    parser.add_argument("--names", nargs="+", default=None, help="their --name labels")
    parser.add_argument("--steps", type=int, default=400, help="optimizer steps of the quickstart fit")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "analyze_report.png")
    parser.add_argument(
        "--keep", type=Path, default=None, help="write the report into this folder and keep it"
    )
    parser.add_argument("--window", default="1400,1500", help="browser window WIDTH,HEIGHT")
    parser.add_argument("--chromium", default=None, help="Chromium binary")
    args = parser.parse_args(argv)
    chromium = _find_chromium(args.chromium)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        models, names = args.models, args.names
        if models is None:
            models = [str(_quickstart_checkpoint(work, args.steps)), "bicubic", "sinc"]
            names = names or [f"EDSR quickstart ({args.steps} steps)", "bicubic", "sinc"]
        report = args.keep or work / "report"
        cmd = [
            sys.executable,
            "-m",
            "hyra_lightning.cli",
            "analyze",
            *models,
            "--out",
            str(report),
            "--no-progress",
        ]
        if names:
            cmd += ["--name", *names]
        subprocess.run(cmd, check=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as profile:
            headless_screenshot(
                chromium, (report / "report.html").resolve().as_uri(), args.out, args.window, profile
            )
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


if __name__ == "__main__":
    main()
