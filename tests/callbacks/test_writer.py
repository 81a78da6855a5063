"""The background writer and the sinks: order, flushing, failures, blocking mode, and the same output either way."""

from __future__ import annotations

import importlib.util
import threading
import time
import warnings
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from lightning.pytorch import seed_everything
from lightning.pytorch.loggers import CSVLogger, Logger, MLFlowLogger, TensorBoardLogger, WandbLogger
from PIL import Image

import hyra_lightning.analysis as analysis
from hyra_lightning import FrequencySimilarityMonitor, HyRAMonitor, ImpulseResponseMonitor
from hyra_lightning.callbacks._writer import BackgroundWriter, WriteJob, get_writer
from hyra_lightning.callbacks.sinks import ImageFileSink, TensorBoardSink, sinks_for
from tests.callbacks.helpers import PhotoData, SRModule, image_steps, make_trainer, read_events, scalar_steps


class _ListLogger(Logger):
    """Records ``log_metrics`` calls and the thread they came from."""

    def __init__(self, save_dir: str | None = None) -> None:
        super().__init__()
        self.calls: list[tuple[int, dict[str, float], str]] = []
        self._save_dir = save_dir

    @property
    def name(self) -> str:
        return "list"

    @property
    def version(self) -> int:
        return 0

    @property
    def save_dir(self) -> str | None:
        return self._save_dir

    def log_metrics(self, metrics, step=None) -> None:
        self.calls.append((step, dict(metrics), threading.current_thread().name))

    def log_hyperparams(self, params, *args, **kwargs) -> None:
        pass


# ------------------------------------------------------------------------------------------------ the writer


def test_jobs_run_once_in_order_and_scalars_are_logged_on_the_calling_thread():
    writer = BackgroundWriter(max_queued=2)  # a small bound: submit waits for the worker
    logger = _ListLogger()
    ran: list[tuple[int, str]] = []

    def job(step: int) -> WriteJob:
        def scalars() -> dict[str, float]:
            time.sleep(0.002)
            ran.append((step, threading.current_thread().name))
            return {"x": float(step), "nan": float("nan")}

        return WriteJob("Owner", step, scalars, loggers=[logger])

    for step in range(20):
        writer.submit(job(step))
    assert writer.flush()
    assert [s for s, _ in ran] == list(range(20))
    assert {name for _, name in ran} == {"hyra-lightning-writer"}
    assert [(s, m) for s, m, _ in logger.calls] == [(s, {"x": float(s)}) for s in range(20)]
    assert {name for _, _, name in logger.calls} == {threading.current_thread().name}
    assert writer.jobs_done == 20 and writer.busy_seconds > 0
    writer.close()


def test_blocking_runs_here_after_the_queue():
    writer = BackgroundWriter()
    order: list[str] = []
    writer.submit(WriteJob("A", 0, media=lambda: (time.sleep(0.05), order.append("queued"))))
    writer.submit(
        WriteJob("B", 1, media=lambda: order.append(threading.current_thread().name)), blocking=True
    )
    assert order == ["queued", threading.current_thread().name]
    writer.close()


def test_a_failing_job_warns_once_per_monitor_and_the_rest_goes_on():
    writer = BackgroundWriter()
    logger = _ListLogger()
    written: list[int] = []

    def broken() -> None:
        raise RuntimeError("renderer bug")

    for step in range(3):
        writer.submit(WriteJob("Broken", step, lambda step=step: {"s": step}, loggers=[logger], media=broken))
        writer.submit(WriteJob("Fine", step, media=lambda step=step: written.append(step)))
    with pytest.warns(
        UserWarning, match=r"Broken could not write its output of step 0 \(RuntimeError: renderer bug"
    ):
        writer.flush()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        writer.submit(WriteJob("Broken", 3, media=broken))
        writer.flush()
    assert written == [0, 1, 2]
    assert [s for s, _, _ in logger.calls] == [0, 1, 2]  # the scalars of the failing jobs still logged
    writer.close()


def test_flush_gives_up_after_the_timeout_instead_of_hanging():
    writer = BackgroundWriter()
    release = threading.Event()
    writer.submit(WriteJob("Slow", 0, media=lambda: release.wait(5)))
    with pytest.warns(UserWarning, match="did not finish within"):
        assert not writer.flush(timeout=0.05)
    release.set()
    assert writer.flush()
    writer.close()


def test_one_writer_per_process():
    assert get_writer() is get_writer()


# ------------------------------------------------------------------------------------------------ the sinks


def test_sinks_for_dispatches_by_logger(tmp_path):
    tb = TensorBoardLogger(str(tmp_path), name="tb")
    csv = CSVLogger(str(tmp_path), name="csv")
    other = _ListLogger()
    sinks = sinks_for([tb, csv, other], default_root=tmp_path / "root")
    assert [type(s) for s in sinks] == [TensorBoardSink, ImageFileSink, ImageFileSink]
    assert [s.logger for s in sinks] == [tb, csv, other]
    assert sinks[1].directory == Path(csv.log_dir) / "images"
    assert sinks[2].directory == tmp_path / "root" / "images"
    with pytest.raises(ValueError, match="`root`"):
        ImageFileSink(other)


@pytest.mark.requires("wandb", "mlflow")
def test_sinks_for_gives_wandb_and_mlflow_loggers_their_own_sinks(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    wandb_logger = WandbLogger(save_dir=str(tmp_path / "w"), offline=True)  # no run is started
    mlflow_logger = MLFlowLogger(tracking_uri=f"sqlite:///{tmp_path / 'm.db'}")  # no store is opened
    sinks = sinks_for([wandb_logger, mlflow_logger], default_root=tmp_path / "root")
    assert [type(s).__name__ for s in sinks] == ["WandbSink", "MLflowSink"]
    assert [s.logger for s in sinks] == [wandb_logger, mlflow_logger]


def test_sinks_for_falls_back_to_png_files_without_the_package(tmp_path, monkeypatch):
    """A WandbLogger or MLFlowLogger whose package is missing gets PNG files, and nothing breaks.

    The loggers are stand-ins of their classes: the real ones refuse to be built without their package.
    """
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name in ("wandb", "mlflow") else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    loggers = [
        mock.Mock(spec=WandbLogger, log_dir=None, save_dir=str(tmp_path / "w")),
        mock.Mock(spec=MLFlowLogger, log_dir=None, save_dir=None),
    ]
    sinks = sinks_for(loggers, default_root=tmp_path / "root")
    assert [type(s) for s in sinks] == [ImageFileSink, ImageFileSink]
    assert [s.directory for s in sinks] == [tmp_path / "w" / "images", tmp_path / "root" / "images"]


def test_image_file_sink_writes_pngs(tmp_path):
    sink = ImageFileSink(_ListLogger(str(tmp_path)))
    image = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    sink.log_image("hyra/sample_0", image, 12, caption="first")
    path = tmp_path / "images" / "hyra" / "sample_0" / "0000012.png"
    with Image.open(path) as im:
        assert np.array_equal(np.asarray(im), image)
    assert path.with_suffix(".txt").read_text() == "first\n"
    sink.log_image("../odd tag", image, 3)
    assert (tmp_path / "images" / "odd_tag" / "0000003.png").exists()


# ------------------------------------------------------------------------------------------------ in fits


def _slow(fn, seconds: float = 0.3):
    def slow(*args, **kwargs):
        time.sleep(seconds)
        return fn(*args, **kwargs)

    return slow


def test_the_event_queued_last_is_on_disk_when_fit_returns(tmp_path):
    """The train-end probe is queued just before ``fit`` returns, behind slow renders: it is written."""
    monitor = ImpulseResponseMonitor(every_n_steps=2)
    trainer = make_trainer(tmp_path, [monitor], max_steps=5, limit_val_batches=0)
    with mock.patch.object(analysis, "impulse_response_image", _slow(analysis.impulse_response_image)):
        trainer.fit(SRModule(), datamodule=PhotoData())
    acc = read_events(tmp_path / "run" / "version_0")
    assert scalar_steps(acc, "impulse/dc_gain") == [0, 2, 4, 5]
    for tag in ("impulse/response", "impulse/spectrum", "impulse/profile"):
        assert image_steps(acc, tag) == [0, 2, 4, 5]


class _FailingModule(SRModule):
    def training_step(self, batch, batch_idx):
        if self.global_step == 4:
            raise RuntimeError("boom at step 4")
        return super().training_step(batch, batch_idx)


def test_an_exception_mid_fit_leaves_every_earlier_point_on_disk(tmp_path):
    monitor = ImpulseResponseMonitor(every_n_steps=1)
    trainer = make_trainer(tmp_path, [monitor, HyRAMonitor(), FrequencySimilarityMonitor()], max_steps=9)
    with (
        mock.patch.object(analysis, "impulse_response_image", _slow(analysis.impulse_response_image, 0.2)),
        pytest.raises(RuntimeError, match="boom at step 4"),
    ):
        trainer.fit(_FailingModule(), datamodule=PhotoData())
    acc = read_events(tmp_path / "run" / "version_0")
    assert scalar_steps(acc, "impulse/dc_gain") == [0, 1, 2, 3, 4]
    assert image_steps(acc, "impulse/response") == [0, 1, 2, 3, 4]
    assert image_steps(acc, "hyra/sample_0") == [3] and image_steps(acc, "fsds/curve") == [3]


def test_a_failing_renderer_warns_once_and_training_goes_on(tmp_path):
    def broken(*args, **kwargs):
        raise RuntimeError("panel renderer bug")

    monitors = [ImpulseResponseMonitor(every_n_steps=1), HyRAMonitor()]
    trainer = make_trainer(tmp_path, monitors, max_steps=9)
    with (
        mock.patch.object(analysis, "hyra_panel", broken),
        warnings.catch_warnings(record=True) as record,
    ):
        warnings.simplefilter("always")
        trainer.fit(SRModule(), datamodule=PhotoData())
    assert trainer.global_step == 9
    messages = [str(w.message) for w in record if "could not write" in str(w.message)]
    assert (
        len(messages) == 1 and messages[0].startswith("HyRAMonitor") and "panel renderer bug" in messages[0]
    )
    acc = read_events(tmp_path / "run" / "version_0")
    assert scalar_steps(acc, "hyra/fsds_gain") == [3, 6, 9]  # the scalars are still logged
    assert "hyra/sample_0" not in acc.Tags()["images"]
    assert image_steps(acc, "impulse/response") == list(range(10))


def _fit_events(root: Path, blocking: bool):
    seed_everything(0)
    monitors = [
        ImpulseResponseMonitor(every_n_steps=2, blocking=blocking),
        HyRAMonitor(blocking=blocking),
        FrequencySimilarityMonitor(num_bands=8, blocking=blocking),
    ]
    trainer = make_trainer(root, monitors, max_steps=6)
    trainer.fit(SRModule(), datamodule=PhotoData())
    return read_events(root / "run" / "version_0")


def test_blocking_and_background_modes_write_the_same_events(tmp_path):
    background = _fit_events(tmp_path / "background", blocking=False)
    blocking = _fit_events(tmp_path / "blocking", blocking=True)
    tags = {kind: sorted(names) for kind, names in background.Tags().items() if isinstance(names, list)}
    other = {kind: sorted(names) for kind, names in blocking.Tags().items() if isinstance(names, list)}
    assert tags == other
    assert len(tags["images"]) == 3 + 2 + 2  # impulse, two HyRA panels, FSDS curve and band map
    for tag in tags["scalars"]:
        got = [(e.step, e.value) for e in background.Scalars(tag)]
        assert got == [(e.step, e.value) for e in blocking.Scalars(tag)], tag
    for tag in tags["images"]:
        got = [(e.step, e.encoded_image_string) for e in background.Images(tag)]
        assert got == [(e.step, e.encoded_image_string) for e in blocking.Images(tag)], tag
    assert "custom_scalars__config__" in tags["tensors"]  # the layout, in both


def test_figure_templates_are_built_once_on_the_writer_thread(tmp_path):
    """The first probe does not pay for figure set-up on the training thread: the warm-up builds the profile
    figure on the writer thread when the fit starts, and every probe reuses it."""
    import hyra_lightning.callbacks.impulse_response_monitor as irm_module

    built: list[str] = []
    original = irm_module._ProfileTemplate.__init__

    def recording_init(self) -> None:
        built.append(threading.current_thread().name)
        original(self)

    monitor = ImpulseResponseMonitor(every_n_steps=1)
    trainer = make_trainer(tmp_path, [monitor], max_steps=4, limit_val_batches=0)
    with mock.patch.object(irm_module._ProfileTemplate, "__init__", recording_init):
        trainer.fit(SRModule(), datamodule=PhotoData())
    assert built == ["hyra-lightning-writer"]
    assert image_steps(read_events(tmp_path / "run" / "version_0"), "impulse/profile") == [0, 1, 2, 3, 4]
