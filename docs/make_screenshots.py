"""Take the README's dashboard screenshots from a real TensorBoard session in headless Chromium.

Usage (from the repository root)::

    python docs/make_screenshots.py                      # runs the quickstart first, then shoots
    python docs/make_screenshots.py --logdir lightning_logs/version_0   # shoots an existing run
    python docs/make_screenshots.py --shots ablation --logdir outputs/loss_ablation   # the loss ablation's runs

Needs the ``tensorboard`` command (a dependency of the package) and Chromium (Debian: ``apt-get install
chromium``; any Chromium or Chrome binary can be given with ``--chromium``). The pictures land in
``docs/images/``. Every screenshot is of the live TensorBoard web app serving the run's event files: nothing
is drawn by this script.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: (file name, TensorBoard URL fragment, window size). The fragment selects the dashboard and filters tags.
SHOTS: list[tuple[str, str, tuple[int, int]]] = [
    (
        "dashboard_impulse_scalars.png",
        "scalars&tagFilter=impulse%2F(dc_gain|cutoff$|sinc|negative)&_smoothingWeight=0",
        (1500, 700),
    ),
    ("dashboard_impulse_images.png", "images&tagFilter=impulse%2F", (1500, 1000)),
    ("dashboard_hyra_images.png", "images&tagFilter=hyra%2Fsample_0", (1500, 900)),
    ("dashboard_hyra_scalars.png", "scalars&tagFilter=hyra%2F&_smoothingWeight=0", (1500, 700)),
    ("dashboard_fsds_curve.png", "images&tagFilter=fsds%2Fcurve", (1500, 900)),
    ("dashboard_fsds_bands.png", "custom_scalars&_smoothingWeight=0", (1500, 900)),
]


#: ``--shots ablation``: the loss ablation's runs side by side (``--logdir`` the ablation's ``--out`` folder).
ABLATION_SHOTS: list[tuple[str, str, tuple[int, int]]] = [
    (
        "loss_ablation_dashboard.png",
        "scalars&tagFilter=%5E(fsds%2Fval%7Cval%2Fpsnr%7Cimpulse%2Fcutoff)%24&regexInput=seed_0&_smoothingWeight=0",
        (1500, 1000),
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _find_chromium(given: str | None) -> str:
    for cand in [given, "chromium", "chromium-browser", "google-chrome", "chrome"]:
        if cand and shutil.which(cand):
            return shutil.which(cand)  # type: ignore[return-value]
    sys.exit("Chromium not found: install it (Debian: apt-get install chromium) or pass --chromium PATH.")


def headless_screenshot(
    chromium: str, url: str, target: Path, window: str, profile: str, budget_ms: int | None = None
) -> None:
    """One screenshot of ``url`` by headless Chromium: ``window`` is ``"WIDTH,HEIGHT"``, ``profile`` a fresh
    user-data folder, ``budget_ms`` the virtual time the page gets (Chromium's default when ``None``)."""
    cmd = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={window}",
    ]
    if budget_ms is not None:
        cmd.append(f"--virtual-time-budget={budget_ms}")
    cmd += [f"--screenshot={target}", url]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ)


def _latest_run(root: Path) -> Path:
    runs = sorted(root.glob("**/events.out.tfevents.*"), key=lambda p: p.stat().st_mtime)
    if not runs:
        sys.exit(f"No TensorBoard event files under {root}.")
    return runs[-1].parent


def _wait_for(url: str, timeout: float = 60.0) -> None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"TensorBoard did not answer at {url} within {timeout:.0f} s.")


def _run_count(logdir: Path) -> int:
    return len({p.parent for p in logdir.glob("**/events.out.tfevents.*")})


def _wait_for_scalars(base: str, runs: int, timeout: float = 120.0) -> None:
    """Wait until TensorBoard serves the scalars of every run (it reads a folder of runs one after another)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            with urllib.request.urlopen(base + "/data/plugin/scalars/tags", timeout=5) as r:
                if len(json.loads(r.read())) >= runs:
                    return
        except (OSError, ValueError):
            pass
        time.sleep(1)
    print(
        f"warning: TensorBoard served fewer than {runs} runs' scalars after {timeout:.0f} s", file=sys.stderr
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--logdir", type=Path, default=None, help="a run (or a folder of runs) to show")
    parser.add_argument(
        "--config", default="configs/quickstart.yaml", help="config of the run made when no --logdir"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images", help="where the PNGs go")
    parser.add_argument("--chromium", default=None, help="Chromium binary")
    parser.add_argument("--budget-ms", type=int, default=15000, help="virtual time Chromium gives the page")
    parser.add_argument(
        "--shots",
        choices=["dashboard", "ablation"],
        default="dashboard",
        help="the quickstart dashboard (one run), or the loss ablation's runs (--logdir its output folder)",
    )
    args = parser.parse_args(argv)
    shots = SHOTS if args.shots == "dashboard" else ABLATION_SHOTS

    chromium = _find_chromium(args.chromium)
    if args.logdir is None:
        subprocess.run(["hyra-lightning", "fit", "--config", args.config], cwd=ROOT, check=True)
        args.logdir = _latest_run(ROOT / "lightning_logs")
    if args.shots == "ablation" or any(args.logdir.glob("events.out.tfevents.*")):
        logdir = args.logdir  # a folder of runs is shown whole for the ablation
    else:
        logdir = _latest_run(args.logdir)
    args.out.mkdir(parents=True, exist_ok=True)

    # TensorBoard shows the logdir it was given: pass it relative to the current folder when it lies below it.
    logdir = logdir.resolve()
    shown = logdir.relative_to(Path.cwd()) if logdir.is_relative_to(Path.cwd()) else logdir
    port = _free_port()
    tb = subprocess.Popen(
        [
            "tensorboard",
            "--logdir",
            str(shown),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--load_fast=false",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(base + "/data/runs")
        _wait_for_scalars(base, _run_count(logdir))
        time.sleep(3)  # let the multiplexer finish reading the event files
        with tempfile.TemporaryDirectory() as profile:
            for name, fragment, (width, height) in shots:
                target = args.out / name
                headless_screenshot(
                    chromium, f"{base}/#{fragment}", target, f"{width},{height}", profile, args.budget_ms
                )
                print(f"wrote {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
    finally:
        tb.terminate()
        tb.wait(timeout=10)


if __name__ == "__main__":
    main()
