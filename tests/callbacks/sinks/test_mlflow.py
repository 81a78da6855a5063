"""MLflowSink through a real MLFlowLogger on a local store (SQLite, and the file store), read back with
MlflowClient."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import numpy as np
import pytest

mlflow = pytest.importorskip("mlflow")
pytestmark = pytest.mark.requires("mlflow")

from lightning.pytorch.loggers import MLFlowLogger, TensorBoardLogger  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from PIL import Image  # noqa: E402

import hyra_lightning.callbacks.sinks.mlflow as mlflow_sink  # noqa: E402
from hyra_lightning.callbacks.sinks.mlflow import MLflowSink, curve_artifact, image_artifact  # noqa: E402

_HAS_SQL = all(importlib.util.find_spec(name) is not None for name in ("sqlalchemy", "alembic"))


@pytest.fixture(scope="module")
def sqlite_uri(tmp_path_factory):
    # one database per module: creating its tables takes seconds; every test makes its own run
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(params=["sqlite", "file"])
def store(request, tmp_path, monkeypatch):
    """``(tracking_uri, artifact_location)`` of a local store."""
    if request.param == "sqlite":
        if not _HAS_SQL:
            pytest.skip("a SQLite store needs sqlalchemy and alembic (the full `mlflow` package)")
        return request.getfixturevalue("sqlite_uri"), (tmp_path / "artifacts").as_uri()
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps the file store behind this flag
    return (tmp_path / "mlruns").as_uri(), None


def _logger(store, **kwargs) -> MLFlowLogger:
    uri, artifacts = store
    return MLFlowLogger(
        experiment_name="hyra-lightning-tests", tracking_uri=uri, artifact_location=artifacts, **kwargs
    )


def _image(height: int = 20, width: int = 30, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def _artifacts(client: MlflowClient, run_id: str, path: str | None = None) -> list[str]:
    out = []
    for info in client.list_artifacts(run_id, path):
        out.extend(_artifacts(client, run_id, info.path) if info.is_dir else [info.path])
    return out


def _artifact_file(client: MlflowClient, run_id: str, path: str) -> Path:
    """The local file of artifact ``path`` (the stores of these tests keep artifacts on disk; older MLflow's
    ``download_artifacts`` rejects the ``#`` of its own step-indexed image names)."""
    uri = urlparse(client.get_run(run_id).info.artifact_uri)
    assert uri.scheme in ("", "file")
    return Path(url2pathname(uri.path)) / path


def test_step_indexed_images(store, tmp_path):
    if not mlflow_sink._supports_step_images(MlflowClient):
        pytest.skip("this MLflow has no step-indexed images")
    logger = _logger(store)
    sink = MLflowSink(logger)
    images = {5: _image(seed=0), 9: _image(seed=1)}
    for step, image in images.items():
        sink.log_image("hyra/sample_0", image, step=step, caption="dropped: MLflow images have no caption")
    fig = Figure(figsize=(3, 2), dpi=50)
    fig.add_subplot(1, 1, 1).plot([0, 1], [1, 0])
    sink.log_figure("fsds/curve", fig, step=9)
    sink.log_layout({"FSDS": {}})  # ignored
    sink.flush()
    logger.finalize("success")

    client = MlflowClient(store[0])
    paths = _artifacts(client, logger.run_id)
    # the full-resolution PNG of every (key, step), beside MLflow's compressed preview; the file name
    # encodes key and step (`/` of the key as `~` or `#`, fields joined by `+` or `%`, by MLflow version)
    pattern = re.compile(r"images/(?P<key>.+?)[+%]step[+%](?P<step>\d+)[+%].*(?<!compressed)\.png$")
    found = {}
    for path in paths:
        match = pattern.match(path)
        if match:
            found[(re.sub("[~#]", "/", match["key"]), int(match["step"]))] = path
    assert set(found) == {("hyra/sample_0", 5), ("hyra/sample_0", 9), ("fsds/curve", 9)}
    for step, image in images.items():
        stored = Image.open(_artifact_file(client, logger.run_id, found[("hyra/sample_0", step)]))
        np.testing.assert_array_equal(np.asarray(stored.convert("RGB")), image)
    figure = Image.open(_artifact_file(client, logger.run_id, found[("fsds/curve", 9)]))
    assert figure.size == (150, 100)
    assert client.get_run(logger.run_id).data.tags.get("mlflow.loggedImages") == "True"


def test_images_as_artifacts_without_step_indexed_images(store, tmp_path, monkeypatch):
    monkeypatch.setattr(mlflow_sink, "_supports_step_images", lambda client: False)
    logger = _logger(store, prefix="run1")
    image = _image(seed=3)
    MLflowSink(logger).log_image("hyra/sample_1", image, step=200)
    logger.finalize("success")
    client = MlflowClient(store[0])
    assert image_artifact("run1-hyra/sample_1", 200) == "images/run1-hyra/sample_1/0000200.png"
    assert _artifacts(client, logger.run_id) == [image_artifact("run1-hyra/sample_1", 200)]
    stored = Image.open(_artifact_file(client, logger.run_id, image_artifact("run1-hyra/sample_1", 200)))
    np.testing.assert_array_equal(np.asarray(stored.convert("RGB")), image)


def test_curve_as_json_artifact(store, tmp_path):
    logger = _logger(store)
    x = np.array([0.25, 0.75, 1.25])
    series = {"model": np.array([30.0, 20.0, np.nan]), "bicubic": np.array([29.0, 15.0, np.inf])}
    MLflowSink(logger).log_curve("fsds/curve", x, series, step=7, x_label="f", y_label="FSDS (dB)")
    logger.finalize("success")
    client = MlflowClient(store[0])
    assert (
        _artifacts(client, logger.run_id)
        == ["curves/fsds/curve/0000007.json"]
        == [curve_artifact("fsds/curve", 7)]
    )
    data = json.loads(_artifact_file(client, logger.run_id, curve_artifact("fsds/curve", 7)).read_text())
    assert data == {
        "tag": "fsds/curve",
        "step": 7,
        "x_label": "f",
        "y_label": "FSDS (dB)",
        "x": [0.25, 0.75, 1.25],
        "series": {"model": [30.0, 20.0, None], "bicubic": [29.0, 15.0, None]},
    }


def test_errors(store, tmp_path):
    with pytest.raises(TypeError, match="MLFlowLogger"):
        MLflowSink(TensorBoardLogger(str(tmp_path)))
    sink = MLflowSink(_logger(store))
    with pytest.raises(ValueError, match=r"`image`.*H x W x 3 uint8"):
        sink.log_image("x", np.zeros((4, 4, 4), dtype=np.uint8), step=0)
    with pytest.raises(ValueError, match=r"series\['model'\]"):
        sink.log_curve("c", np.zeros(3), {"model": np.zeros(2)}, step=0, x_label="x", y_label="y")
