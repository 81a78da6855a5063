"""The background writer and the sinks: order, flushing, failures, blocking mode, and the same output either way."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
from lightning.pytorch import Callback, seed_everything
from lightning.pytorch.loggers import CSVLogger, Logger, MLFlowLogger, TensorBoardLogger, WandbLogger
from PIL import Image

import hyra_lightning.analysis as analysis
from hyra_lightning import FrequencySimilarityMonitor, HyRAMonitor, ImpulseResponseMonitor
from hyra_lightning.callbacks._writer import BackgroundWriter, WriteJob, get_writer
from hyra_lightning.callbacks.sinks import ImageFileSink, TensorBoardSink, sinks_for
from hyra_lightning.tags import FSDS_VAL, HYRA_SCALARS, fsds_band, hyra_scalar
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


def test_jobs_run_once_in_order_and_scalars_are_logged_on_the_calling_thread_at_once():
    writer = BackgroundWriter(max_queued=2)  # a small bound: submit waits for the worker
    logger = _ListLogger()
    ran: list[tuple[int, str]] = []

    def job(step: int) -> WriteJob:
        def media() -> None:
            time.sleep(0.002)
            ran.append((step, threading.current_thread().name))

        return WriteJob(
            "Owner", step, lambda: {"x": float(step), "nan": float("nan")}, loggers=[logger], media=media
        )

    for step in range(20):
        writer.submit(job(step))
        # the scalars are in the logger when submit returns, not at the next event
        assert logger.calls[-1][:2] == (step, {"x": float(step)})
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
    with mock.patch.object(analysis, "impulse_response_figure", _slow(analysis.impulse_response_figure)):
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
        mock.patch.object(analysis, "impulse_response_figure", _slow(analysis.impulse_response_figure, 0.2)),
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
        mock.patch.object(analysis, "hyra_figure", broken),
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


# ------------------------------------------------------------------------------------------------ nothing lost

_REPO = Path(__file__).resolve().parents[2]


def _run_fit_script(mode: str, root: Path, **kwargs: Any) -> subprocess.Popen[str]:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(_REPO), os.environ.get("PYTHONPATH")]))
    )
    return subprocess.Popen(
        [sys.executable, "-m", "tests.callbacks.fit_in_subprocess", mode, str(root)],
        cwd=_REPO,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,
    )


def test_writer_scalars_are_in_the_loggers_when_the_event_returns(tmp_path):
    """No later event is needed: after a validation (and after a probe) its scalars are already logged."""
    logger = _ListLogger(str(tmp_path))
    seen: dict[str, set[str]] = {}

    class Check(Callback):
        def _tags(self, step: int) -> set[str]:
            return {tag for s, metrics, _ in logger.calls if s == step for tag in metrics}

        def on_train_batch_end(self, trainer, *args) -> None:
            seen[f"train {trainer.global_step}"] = self._tags(trainer.global_step)

        def on_validation_end(self, trainer, pl_module) -> None:
            if not trainer.sanity_checking:
                seen[f"val {trainer.global_step}"] = self._tags(trainer.global_step)

    monitors = [
        ImpulseResponseMonitor(every_n_steps=2),
        HyRAMonitor(),
        FrequencySimilarityMonitor(num_bands=4),
    ]
    trainer = make_trainer(tmp_path, [*monitors, Check()], max_steps=4, logger=logger, limit_val_batches=1)
    trainer.fit(SRModule(), datamodule=PhotoData())
    assert {"impulse/dc_gain", "impulse/cutoff"} <= seen["train 2"]
    assert {"hyra/nonlinear_energy_ratio", "hyra/fsds_gain", "fsds/val", "fsds/band_03"} <= seen["val 3"]


@pytest.mark.slow
def test_a_killed_fit_keeps_every_point_measured_before_its_last_checkpoint(tmp_path):
    """SIGKILL between two checkpoints: every scalar measured up to the last checkpoint's step is in the event
    files, and every picture queued before that checkpoint was saved."""
    proc = _run_fit_script("kill", tmp_path)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == -signal.SIGKILL, err[-3000:]
    steps = sorted(int(p.stem.split("=")[1]) for p in (tmp_path / "checkpoints").glob("step=*.ckpt"))
    assert steps == [3, 6]
    last = steps[-1]
    acc = read_events(tmp_path / "run" / "version_0")
    scalars = set(acc.Tags()["scalars"])
    val_steps = [3, 6]  # a validation at the end of every epoch of 3 steps
    tags = [hyra_scalar(name) for name in HYRA_SCALARS]
    tags += [FSDS_VAL] + [fsds_band(k) for k in range(16)]
    for tag in tags:
        assert tag in scalars, tag
        assert [s for s in scalar_steps(acc, tag) if s <= last] == val_steps, tag
    assert [s for s in scalar_steps(acc, "impulse/dc_gain") if s <= last] == [0, 2, 4, 6]
    # pictures: everything submitted before the checkpoint at step 6 was saved (the validation at 6 comes after)
    assert [s for s in image_steps(acc, "impulse/response") if s <= last] == [0, 2, 4, 6]
    assert image_steps(acc, "hyra/sample_1")[:1] == [3] and image_steps(acc, "fsds/curve")[:1] == [3]


def test_a_failing_sink_loses_only_its_own_pictures(tmp_path):
    """TensorBoard's sink fails every write; the CSV logger still gets every PNG, and the end of the run says
    how many writes failed per sink."""
    tb = TensorBoardLogger(str(tmp_path), name="run", version=0)
    csv = CSVLogger(str(tmp_path), name="csv", version=0)
    monitors = [
        ImpulseResponseMonitor(every_n_steps=2),
        HyRAMonitor(),
        FrequencySimilarityMonitor(num_bands=4),
    ]
    trainer = make_trainer(tmp_path, monitors, max_steps=6, logger=[tb, csv])

    def broken(self, *args, **kwargs):
        raise OSError("disk of the event files is full")

    with (
        mock.patch.object(TensorBoardSink, "log_image", broken),
        warnings.catch_warnings(record=True) as record,
    ):
        warnings.simplefilter("always")
        trainer.fit(SRModule(), datamodule=PhotoData())
    pngs = sorted(p.relative_to(tmp_path / "csv" / "version_0" / "images") for p in tmp_path.rglob("*.png"))
    # impulse x3 at steps 0, 2, 4, 6; two HyRA panels, the curve and the band map at the validations 3 and 6
    assert len(pngs) == 3 * 4 + 4 * 2
    failures = [m.write_failures for m in monitors]
    assert failures == [
        {"TensorBoardSink": 12, "ImageFileSink": 0},
        {"TensorBoardSink": 4, "ImageFileSink": 0},
        {"TensorBoardSink": 4, "ImageFileSink": 0},
    ]
    reports = [str(w.message) for w in record if "picture writes failed" in str(w.message)]
    assert len(reports) == 3
    assert reports[0].startswith("ImpulseResponseMonitor: 12 picture writes failed")
    assert "TensorBoardSink: 12 of" in reports[0] and "OSError: disk of the event files is full" in reports[0]
    assert "ImageFileSink" not in "".join(reports)
    acc = read_events(tmp_path / "run" / "version_0")
    assert scalar_steps(acc, "impulse/dc_gain") == [0, 2, 4, 6]  # scalars do not pass through sinks


def test_a_sink_failing_one_write_in_five_loses_exactly_those(tmp_path):
    calls: list[tuple[str, int]] = []
    failed: list[tuple[str, int]] = []
    original = ImageFileSink.log_image

    def flaky(self, tag, image, step, caption=None):
        calls.append((tag, step))
        if len(calls) % 5 == 0:
            failed.append((tag, step))
            raise OSError("network share went away")
        original(self, tag, image, step, caption=caption)

    monitors = [
        ImpulseResponseMonitor(every_n_steps=1),
        HyRAMonitor(),
        FrequencySimilarityMonitor(num_bands=4),
    ]
    trainer = make_trainer(
        tmp_path, monitors, max_steps=6, logger=CSVLogger(str(tmp_path), name="csv", version=0)
    )
    with (
        mock.patch.object(ImageFileSink, "log_image", flaky),
        warnings.catch_warnings(record=True) as record,
    ):
        warnings.simplefilter("always")
        trainer.fit(SRModule(), datamodule=PhotoData())
    sink = ImageFileSink(trainer.loggers[0])
    written = {(tag, step) for tag, step in calls if sink.path(tag, step).exists()}
    assert len(calls) == 3 * 7 + 4 * 2 and len(failed) == len(calls) // 5
    assert written == set(calls) - set(failed)
    assert sum(m.write_failures["ImageFileSink"] for m in monitors) == len(failed)
    reports = [str(w.message) for w in record if "picture writes failed" in str(w.message)]
    counted = [int(r.split(": ")[1].split(" ")[0]) for r in reports]
    assert sum(counted) == len(failed)


def test_flush_and_submit_honour_their_time_limits_with_a_stuck_sink():
    """A job that never returns: submit drops what finds the queue full (counted), flush(timeout=2) returns in
    about 2 s and says what was not written, close does not wait for the stuck thread."""
    writer = BackgroundWriter(max_queued=2, submit_timeout=0.5)
    hang = threading.Event()
    started = threading.Event()
    writer.submit(WriteJob("Stuck", 0, media=lambda: (started.set(), hang.wait())))
    assert started.wait(10)
    for step in (1, 2):
        writer.submit(WriteJob("Stuck", step, media=lambda: None))
    with pytest.warns(UserWarning, match="Stuck's images and figures of step 3 were dropped"):
        writer.submit(WriteJob("Stuck", 3, media=lambda: None))
    start = time.monotonic()
    writer.submit(WriteJob("Stuck", 4, media=lambda: None))  # no second wait while the worker is stuck
    assert time.monotonic() - start < 0.4
    assert writer.dropped == [("Stuck", 3), ("Stuck", 4)]
    start = time.monotonic()
    with pytest.warns(
        UserWarning, match=r"Not written: the images and figures of Stuck at steps 0, 1, 2\."
    ) as w:
        assert not writer.flush(timeout=2)
    assert time.monotonic() - start < 8
    assert "steps 3, 4" in str(w[0].message)
    start = time.monotonic()
    writer.close(timeout=1)
    assert time.monotonic() - start < 8
    hang.set()


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_ends_a_fit_whose_sink_never_returns(tmp_path, signum):
    """A probe at every step into a sink that hangs: the training goes on, and Ctrl-C or SIGTERM ends the
    process within a bounded time with a message that says what was not written."""
    proc = _run_fit_script("stuck", tmp_path)
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "STUCK"
        time.sleep(2)  # the queue fills up behind the stuck sink
        start = time.monotonic()
        proc.send_signal(signum)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # say where every thread of the process is, then fail
            proc.send_signal(signal.SIGUSR1)
            time.sleep(3)
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(f"no end 60 s after {signum.name}; the stacks of the process:\n{err[-6000:]}")
        elapsed = time.monotonic() - start
    finally:
        proc.kill()
    assert elapsed < 30, err[-3000:]
    if signum == signal.SIGINT:
        assert proc.returncode != 0  # Lightning ends a fit stopped by SIGTERM with a SystemExit of its own
    assert "Not written: the images and figures of ImpulseResponseMonitor at steps" in err, err[-3000:]
