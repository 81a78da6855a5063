"""End to end: after a short fit, a real TensorBoard server serves every tag of the dashboard."""

from __future__ import annotations

import json
import socket
import threading
import urllib.parse
import urllib.request

import pytest

pytestmark = pytest.mark.slow

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def tensorboard_server(quickstart_run):
    from tensorboard import program

    tb = program.TensorBoard()
    port = _free_port()
    tb.configure(
        argv=[
            None,
            "--logdir",
            str(quickstart_run.logdir),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--load_fast=false",
        ]
    )
    server = tb._make_server()
    thread = threading.Thread(target=server.serve_forever, name="TensorBoard", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.status == 200, url
        return r.read()


def _json(url: str):
    return json.loads(_get(url))


def _wait_for_tags(base: str, plugin: str, wanted: set[str]) -> dict:
    """The multiplexer loads event files in the background: poll until the tags appear."""
    import time

    deadline = time.monotonic() + 60
    while True:
        tags = _json(f"{base}/data/plugin/{plugin}/tags")
        seen = {t for run in tags.values() for t in run}
        if wanted <= seen or time.monotonic() > deadline:
            return tags
        time.sleep(0.5)


def test_tensorboard_serves_the_dashboard(tensorboard_server):
    base = tensorboard_server
    scalar_tags = {
        "train/loss",
        "val/psnr",
        "val/ssim",
        "val/fsds",
        "impulse/dc_gain",
        "impulse/cutoff",
        "impulse/sinc_similarity",
        "impulse/negative_lobe",
        "impulse/stopband_leakage",
        "hyra/nonlinear_energy_ratio",
        "hyra/hf_injection",
        "hyra/fsds_gain",
        "fsds/val",
        "fsds/band_00",
        "fsds/band_15",
    }
    tags = _wait_for_tags(base, "scalars", scalar_tags)
    seen = {t for run in tags.values() for t in run}
    assert scalar_tags <= seen, scalar_tags - seen

    image_tags = {"impulse/response", "impulse/spectrum", "impulse/profile", "hyra/sample_0", "fsds/curve"}
    tags = _wait_for_tags(base, "images", image_tags)
    seen = {t for run in tags.values() for t in run}
    assert image_tags <= seen, image_tags - seen

    # The scalar series of a descriptor has one point per probe (start, every 4 steps, end).
    run = next(iter(tags))
    query = urllib.parse.urlencode({"run": run, "tag": "impulse/dc_gain"})
    series = _json(f"{base}/data/plugin/scalars/scalars?{query}")
    assert [step for _, step, _ in series] == [0, 4, 8]

    # An image blob is a real PNG.
    query = urllib.parse.urlencode({"run": run, "tag": "impulse/response"})
    entries = _json(f"{base}/data/plugin/images/images?{query}")
    assert entries
    blob = _get(f"{base}/data/plugin/images/individualImage?{entries[-1]['query']}")
    assert blob.startswith(PNG_MAGIC)

    # The custom-scalars layout groups all FSDS bands in one multi-line chart.
    layout = _json(f"{base}/data/plugin/custom_scalars/layout")
    charts = [chart for category in layout["category"] for chart in category["chart"]]
    regexes = [tag for chart in charts for tag in chart.get("multiline", {}).get("tag", [])]
    assert any("fsds/band" in regex for regex in regexes), layout
