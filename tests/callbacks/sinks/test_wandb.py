"""WandbSink through a real offline WandbLogger, read back from the run's own files (the .wandb log, media)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

wandb = pytest.importorskip("wandb")
pytest.importorskip("wandb.proto.wandb_internal_pb2")
pytestmark = pytest.mark.requires("wandb")

from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

from hyra_lightning.callbacks.sinks.wandb import WandbSink, curve_key  # noqa: E402

# The .wandb file: a 7-byte header, then LevelDB-style 32 KiB blocks of chunks, each with a 7-byte header
# (crc32, length, type: 1 full, 2 first, 3 middle, 4 last) holding one serialised `Record` protobuf.
_BLOCK = 32 * 1024
_HEADER = 7


def _read_records(path: Path) -> list:
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    ident, magic, _ = struct.unpack("<4sHB", data[:_HEADER])
    assert (ident, magic) == (b":W&B", 0xBEE1), "not a .wandb file"
    records, pending, pos = [], b"", _HEADER
    while pos + _HEADER <= len(data):
        if _BLOCK - pos % _BLOCK < _HEADER:  # block trailer too small for a chunk header: padding
            pos += _BLOCK - pos % _BLOCK
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + _HEADER])
        chunk = data[pos + _HEADER : pos + _HEADER + length]
        pos += _HEADER + length
        if kind == 0:
            break
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def _history(run_dir: Path) -> list[dict]:
    """Every `wandb.log` call of the offline run, as {key: decoded value}."""
    (path,) = run_dir.glob("run-*.wandb")
    rows = []
    for record in _read_records(path):
        if record.WhichOneof("record_type") == "history":
            rows.append(
                {(it.key or "/".join(it.nested_key)): json.loads(it.value_json) for it in record.history.item}
            )
    return rows


@pytest.fixture
def wandb_logger(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    logger = WandbLogger(save_dir=str(tmp_path), project="hyra-lightning-tests", offline=True)
    yield logger
    wandb.finish()


def _finish(logger: WandbLogger) -> Path:
    """Finish the run and stop W&B's service process, so that the run's files are complete on disk."""
    run_dir = Path(logger.experiment.dir).parent
    wandb.finish()
    wandb.teardown()  # older wandb-core writes the .wandb file out only when its service stops
    return run_dir


def _image(height: int = 20, width: int = 30, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def test_images_with_captions_at_the_trainer_step(wandb_logger):
    sink = WandbSink(wandb_logger)
    first, second = _image(seed=0), _image(seed=1)
    sink.log_image("hyra/sample_0", first, step=5, caption="step 5: LR, B+H(x), G(x), SR, HR")
    sink.log_image("hyra/sample_0", second, step=9)
    sink.log_layout({"FSDS": {"bands": ["Multiline", ["fsds/band_.*"]]}})  # ignored by W&B
    sink.flush()
    run_dir = _finish(wandb_logger)

    rows = [row for row in _history(run_dir) if "hyra/sample_0/_type" in row]
    assert [row["trainer/global_step"] for row in rows] == [5, 9]
    assert rows[0]["hyra/sample_0/captions"] == ["step 5: LR, B+H(x), G(x), SR, HR"]
    assert "hyra/sample_0/captions" not in rows[1]
    for row, image in zip(rows, (first, second), strict=True):
        assert (row["hyra/sample_0/height"], row["hyra/sample_0/width"]) == image.shape[:2]
        (name,) = row["hyra/sample_0/filenames"]
        stored = np.asarray(Image.open(run_dir / "files" / name).convert("RGB"))
        np.testing.assert_array_equal(stored, image)  # PNG: lossless


def test_figure_is_rasterised(wandb_logger):
    fig = Figure(figsize=(3, 2), dpi=50)
    fig.add_subplot(1, 1, 1).plot([0, 1], [1, 0])
    WandbSink(wandb_logger).log_figure("fsds/curve", fig, step=3, caption="curve")
    run_dir = _finish(wandb_logger)
    (row,) = [row for row in _history(run_dir) if "fsds/curve/_type" in row]
    assert (row["fsds/curve/height"], row["fsds/curve/width"]) == (100, 150)
    assert row["fsds/curve/captions"] == ["curve"] and row["trainer/global_step"] == 3


def test_curve_as_a_line_plot_table(wandb_logger):
    x = np.array([0.25, 0.75, 1.25])
    series = {"model": np.array([30.0, 20.0, np.nan]), "bicubic": np.array([29.0, 15.0, 5.0])}
    WandbSink(wandb_logger).log_curve(
        "fsds/curve", x, series, step=7, x_label="radial frequency (Nyquist units)", y_label="FSDS (dB)"
    )
    run_dir = _finish(wandb_logger)
    key = f"{curve_key('fsds/curve')}_table"
    (row,) = [row for row in _history(run_dir) if f"{key}/path" in row]
    assert row["trainer/global_step"] == 7 and row[f"{key}/_type"] == "table-file"
    table = json.loads((run_dir / "files" / row[f"{key}/path"]).read_text())
    assert table["columns"] == ["radial frequency (Nyquist units)", "FSDS (dB)", "series"]
    # one row per finite point, the NaN band left out
    assert table["data"] == [
        [0.25, 30.0, "model"],
        [0.75, 20.0, "model"],
        [0.25, 29.0, "bicubic"],
        [0.75, 15.0, "bicubic"],
        [1.25, 5.0, "bicubic"],
    ]


def test_prefix_applies_like_for_metrics(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    logger = WandbLogger(save_dir=str(tmp_path), project="hyra-lightning-tests", offline=True, prefix="run1")
    try:
        WandbSink(logger).log_image("impulse/response", _image(), step=1)
        run_dir = _finish(logger)
    finally:
        wandb.finish()
    assert any("run1-impulse/response/_type" in row for row in _history(run_dir))


def test_errors(wandb_logger, tmp_path):
    with pytest.raises(TypeError, match="WandbLogger"):
        WandbSink(TensorBoardLogger(str(tmp_path)))
    sink = WandbSink(wandb_logger)
    with pytest.raises(ValueError, match=r"`image`.*H x W x 3 uint8.*float32"):
        sink.log_image("x", np.zeros((4, 4, 3), dtype=np.float32), step=0)
    with pytest.raises(ValueError, match=r"`image`.*\(4, 4\)"):
        sink.log_image("x", np.zeros((4, 4), dtype=np.uint8), step=0)
    with pytest.raises(ValueError, match=r"series\['model'\]"):
        sink.log_curve("c", np.zeros(3), {"model": np.zeros(2)}, step=0, x_label="x", y_label="y")
