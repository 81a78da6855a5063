"""The three monitors together in real fits: TensorBoard events, determinism, resuming, other loggers, DDP."""

from __future__ import annotations

import csv
import io
import math
import warnings
from pathlib import Path
from unittest import mock

import matplotlib
import pytest
import torch
from lightning.pytorch import Trainer, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from PIL import Image

import hyra_lightning.analysis as analysis
import hyra_lightning.analysis.hyra as analysis_hyra
from hyra_lightning import FrequencySimilarityMonitor, HyRAMonitor, ImpulseResponseMonitor
from hyra_lightning.tags import HYRA_SCALARS, IMPULSE_READING_SCALARS, IMPULSE_SCALARS
from tests.callbacks.helpers import (
    LR_SIZE,
    SCALE,
    LeaveTogether,
    PhotoData,
    SRModule,
    image_steps,
    make_trainer,
    read_events,
    scalar_steps,
)

DESCRIPTORS = (*IMPULSE_SCALARS, *IMPULSE_READING_SCALARS)
NUM_BANDS = 8


def _monitors(**irm: object) -> list:
    return [
        ImpulseResponseMonitor(**{"every_n_steps": 2, **irm}),
        HyRAMonitor(num_images=2),
        FrequencySimilarityMonitor(num_bands=NUM_BANDS),
    ]


def _png_size(event) -> tuple[int, int]:
    with Image.open(io.BytesIO(event.encoded_image_string)) as im:
        assert im.format == "PNG"
        assert (im.width, im.height) == (event.width, event.height)
        return im.width, im.height


@pytest.fixture(scope="module")
def tb_run(tmp_path_factory):
    """6 steps (2 epochs of 3), validation after each epoch, all three monitors, probe calls counted."""
    root = tmp_path_factory.mktemp("tb")
    seed_everything(0)
    callbacks = _monitors()
    counter = mock.Mock(wraps=analysis.impulse_response)
    with (
        mock.patch.object(analysis, "impulse_response", counter),
        mock.patch.object(analysis_hyra, "impulse_response", counter),
    ):
        trainer = make_trainer(root, callbacks, max_steps=6)
        trainer.fit(SRModule(), datamodule=PhotoData())
    return trainer, callbacks, counter, read_events(root / "run" / "version_0")


def test_impulse_tags_and_steps(tb_run):
    trainer, (irm, _, _), _, acc = tb_run
    assert trainer.global_step == 6
    # fit start, every 2 steps, fit end (6 is already logged): never twice at one step
    for name in DESCRIPTORS:
        events = acc.Scalars(f"impulse/{name}")
        assert [e.step for e in events] == [0, 2, 4, 6], name
        assert all(math.isfinite(e.value) for e in events), name
    last = {name: acc.Scalars(f"impulse/{name}")[-1].value for name in DESCRIPTORS}
    assert last == pytest.approx(irm.last_response.describe().as_dict(), rel=1e-5)
    assert 0.0 <= last["stopband_leakage"] <= 1.0
    assert -1.0 <= last["sinc_similarity"] <= 1.0
    assert last["anisotropy"] >= 0 and last["negative_lobe"] >= 0
    assert 0.0 < last["cutoff"] <= 1.0
    for tag in ("impulse/response", "impulse/spectrum", "impulse/profile"):
        assert image_steps(acc, tag) == [0, 2, 4, 6], tag
    # the figures of impulse_response_figure and impulse_spectrum_figure, at their fixed size
    from hyra_lightning.analysis import impulse_response_figure, impulse_spectrum_figure
    from hyra_lightning.callbacks.sinks.raster import figure_to_array

    for tag, figure in (("response", impulse_response_figure), ("spectrum", impulse_spectrum_figure)):
        height, width, _ = figure_to_array(figure(irm.last_response)).shape
        assert {_png_size(e) for e in acc.Images(f"impulse/{tag}")} == {(width, height)}, tag
    assert {_png_size(e) for e in acc.Images("impulse/profile")} == {(500, 320)}
    assert irm.last_step == 6


def test_hyra_tags_steps_and_reuse(tb_run):
    _, (_, hyra, _), counter, acc = tb_run
    for name in HYRA_SCALARS:
        events = acc.Scalars(f"hyra/{name}")
        assert [e.step for e in events] == [3, 6], name
        assert all(math.isfinite(e.value) for e in events), name
    for event in acc.Scalars("hyra/nonlinear_energy_ratio") + acc.Scalars("hyra/hf_injection"):
        assert 0.0 <= event.value <= 1.0
    gains = acc.Scalars("hyra/fsds_gain")
    for gain, sr, lin in zip(
        gains, acc.Scalars("hyra/fsds_sr"), acc.Scalars("hyra/fsds_linear"), strict=True
    ):
        assert gain.value == pytest.approx(sr.value - lin.value, abs=1e-3)
    from hyra_lightning.analysis import hyra_decompose, hyra_figure
    from hyra_lightning.callbacks.sinks.raster import figure_to_array
    from hyra_lightning.models import BicubicUpsampler

    hr = LR_SIZE * SCALE
    # the figure of hyra_figure with five columns (LR, B + H, G, SR, HR), whose size does not depend on the images
    lr = torch.rand(1, 3, LR_SIZE, LR_SIZE)
    five = hyra_decompose(BicubicUpsampler(SCALE), lr, hr=torch.rand(1, 3, hr, hr))
    height, width, _ = figure_to_array(hyra_figure(five, 0)).shape
    expected = (width, height)
    for i in range(2):
        assert image_steps(acc, f"hyra/sample_{i}") == [3, 6]
        assert {_png_size(e) for e in acc.Images(f"hyra/sample_{i}")} == {expected}
    assert "hyra/sample_2" not in acc.Tags()["images"]
    # step 6: the ImpulseResponseMonitor probed at that step, so HyRA reused its response; at step 3 it probed
    assert hyra.last_reused_response
    assert counter.call_count == 4 + 1
    lr, hr_images = hyra.images
    assert lr.shape == (2, 3, LR_SIZE, LR_SIZE) and hr_images.shape == (2, 3, hr, hr)


def test_fsds_tags_steps_and_layout(tb_run):
    _, (_, _, fsm), _, acc = tb_run
    assert scalar_steps(acc, "fsds/val") == [3, 6]
    values = [e.value for e in acc.Scalars("fsds/val")]
    assert all(math.isfinite(v) and 0 < v < 80 for v in values)
    for k in range(NUM_BANDS):
        assert scalar_steps(acc, f"fsds/band_{k:02d}") == [3, 6]
    assert f"fsds/band_{NUM_BANDS:02d}" not in acc.Tags()["scalars"]
    assert fsm.last_values["fsds/val"] == pytest.approx(values[-1], rel=1e-6)
    assert image_steps(acc, "fsds/curve") == [3, 6]
    # the metric's own plot, at matplotlib's default figure size
    width, height = (
        round(v * matplotlib.rcParams["figure.dpi"]) for v in matplotlib.rcParams["figure.figsize"]
    )
    assert {_png_size(e) for e in acc.Images("fsds/curve")} == {(width, height)}
    # the custom-scalars layout is written once
    assert acc.Tags()["tensors"].count("custom_scalars__config__") == 1
    layout_events = acc.Tensors("custom_scalars__config__")
    assert len(layout_events) == 1
    from tensorboard.plugins.custom_scalar import layout_pb2

    layout = layout_pb2.Layout.FromString(layout_events[0].tensor_proto.string_val[0])
    charts = {chart.title: list(chart.multiline.tag) for cat in layout.category for chart in cat.chart}
    assert charts["FSDS per frequency band (dB)"] == [r"fsds/band_\d+"]


def test_monitors_do_not_perturb_training(tmp_path):
    """Same seed, same data: parameters after 4 steps are bitwise equal with and without the monitors."""

    def train(callbacks: list, root: Path) -> dict[str, torch.Tensor]:
        seed_everything(123)
        module = SRModule()
        trainer = make_trainer(root, callbacks, max_steps=4)
        trainer.fit(module, datamodule=PhotoData())
        return {k: v.detach().clone() for k, v in module.state_dict().items()}

    reference = train([], tmp_path / "plain")
    monitored = train(_monitors(every_n_steps=1), tmp_path / "monitored")
    assert reference.keys() == monitored.keys()
    for name, value in reference.items():
        assert torch.equal(value, monitored[name]), name
    # the monitors really ran
    acc = read_events(tmp_path / "monitored" / "run" / "version_0")
    assert scalar_steps(acc, "impulse/dc_gain") == [0, 1, 2, 3, 4]
    assert scalar_steps(acc, "fsds/val") == [3]


def test_resume_continues_schedule(tmp_path):
    ckpt_dir = tmp_path / "ckpt"

    def run(max_steps: int, ckpt_path: str | None) -> list:
        seed_everything(7)
        callbacks = [*_monitors(), ModelCheckpoint(dirpath=ckpt_dir, save_last=True)]
        trainer = make_trainer(tmp_path, callbacks, max_steps=max_steps, enable_checkpointing=True)
        with mock.patch.object(
            HyRAMonitor,
            "on_validation_epoch_end",
            autospec=True,
            side_effect=HyRAMonitor.on_validation_epoch_end,
        ) as hook:
            trainer.fit(SRModule(), datamodule=PhotoData(), ckpt_path=ckpt_path)
        validation_runs.append(sum(not call.args[1].sanity_checking for call in hook.call_args_list))
        return callbacks

    validation_runs: list[int] = []  # per fit; Lightning 2.4 validates again at the step it resumes from

    first = run(3, None)
    second = run(6, str(ckpt_dir / "last.ckpt"))
    acc = read_events(tmp_path / "run" / "version_0")
    # first run: 0 (start), 2, 3 (end); resumed run: 4, 6 (start skipped: that run already logged step 3)
    for tag in ("impulse/dc_gain", "impulse/cutoff"):
        assert scalar_steps(acc, tag) == [0, 2, 3, 4, 6], tag
    assert image_steps(acc, "impulse/response") == [0, 2, 3, 4, 6]
    for tag in ("hyra/hf_injection", "fsds/val", "fsds/band_00"):
        assert scalar_steps(acc, tag) == [3, 6], tag
    assert image_steps(acc, "hyra/sample_0") == [3, 6]
    # the layout is not written again, and HyRA analysed the images it captured in the first run
    assert acc.Tags()["tensors"].count("custom_scalars__config__") == 1
    assert len(acc.Tensors("custom_scalars__config__")) == 1
    assert torch.equal(first[1].images[0], second[1].images[0])
    assert second[1]._val_runs == first[1]._val_runs + validation_runs[1]  # the counter was restored


def _monitor_warnings(record: list, text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for w in record:
        message = str(w.message)
        if text in message:
            owner = message.split(" ", 1)[0]
            counts[owner] = counts.get(owner, 0) + 1
    return counts


def _monitor_problems(record: list) -> list[str]:
    """The monitors' warnings, but the one that says a reading is not a filter's: TinySR is a ReLU network,
    which a unit impulse on black may read as not quite linear (tested in test_impulse_response_monitor)."""
    messages = [str(w.message) for w in record]
    return [m for m in messages if "Monitor" in m and "do not describe a filter" not in m]


def test_csv_logger_gets_scalars_and_png_files(tmp_path):
    """A logger without a sink of its own (CSVLogger): scalars in its CSV, images and figures as PNG files."""
    seed_everything(0)
    logger = CSVLogger(str(tmp_path), name="csv", version=0)
    trainer = make_trainer(tmp_path, _monitors(), max_steps=6, logger=logger)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        trainer.fit(SRModule(), datamodule=PhotoData())
    assert not _monitor_problems(record), [str(w.message) for w in record]
    run = tmp_path / "csv" / "version_0"
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    columns = set(rows[0])
    expected = {f"impulse/{d}" for d in DESCRIPTORS} | {f"hyra/{s}" for s in HYRA_SCALARS}
    expected |= {"fsds/val"} | {f"fsds/band_{k:02d}" for k in range(NUM_BANDS)}
    assert expected <= columns
    steps = sorted({int(r["step"]) for r in rows if r["impulse/dc_gain"]})
    assert steps == [0, 2, 4, 6]
    assert sorted(int(r["step"]) for r in rows if r["fsds/val"]) == [3, 6]
    images = run / "images"
    for tag, tag_steps in {
        "impulse/response": [0, 2, 4, 6],
        "impulse/spectrum": [0, 2, 4, 6],
        "impulse/profile": [0, 2, 4, 6],
        "hyra/sample_0": [3, 6],
        "hyra/sample_1": [3, 6],
        "fsds/curve": [3, 6],
        "fsds/band_map": [3, 6],
    }.items():
        files = sorted((images / tag).glob("*.png"))
        assert [f.name for f in files] == [f"{s:07d}.png" for s in tag_steps], tag
        with Image.open(files[-1]) as im:
            assert im.format == "PNG" and im.mode == "RGB" and im.width > 8 and im.height > 8
    assert not list(images.rglob("*.partial"))


def test_no_logger_warns_once_and_does_nothing(tmp_path):
    callbacks = _monitors(every_n_steps=1)
    probe = mock.Mock(wraps=analysis.impulse_response)
    decompose = mock.Mock(wraps=analysis.hyra_decompose)
    trainer = make_trainer(tmp_path, callbacks, max_steps=6, logger=False)
    with (
        mock.patch.object(analysis, "impulse_response", probe),
        mock.patch.object(analysis, "hyra_decompose", decompose),
        warnings.catch_warnings(record=True) as record,
    ):
        warnings.simplefilter("always")
        trainer.fit(SRModule(), datamodule=PhotoData())
    counts = _monitor_warnings(record, "has nothing to write to")
    assert counts == {"ImpulseResponseMonitor": 1, "HyRAMonitor": 1, "FrequencySimilarityMonitor": 1}
    assert probe.call_count == 0 and decompose.call_count == 0
    assert callbacks[0].last_step is None and callbacks[1].last_step is None
    assert callbacks[2].last_step is None and callbacks[2].metric.update_count == 0
    assert not list(tmp_path.rglob("events.out.tfevents.*"))


def test_model_rejecting_the_probe_disables_the_monitor(tmp_path):
    """A model that cannot take 33 x 33 inputs: one warning with the error and the remedy, training goes on;
    the remedy (a size it accepts) works."""
    failing = ImpulseResponseMonitor(every_n_steps=1)
    working = ImpulseResponseMonitor(every_n_steps=3, size=31)
    hyra = HyRAMonitor()
    trainer = make_trainer(tmp_path, [failing, working, hyra], max_steps=6)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        trainer.fit(SRModule(max_size=32), datamodule=PhotoData())
    assert trainer.global_step == 6
    messages = [str(w.message) for w in record if "is disabled" in str(w.message)]
    assert len(messages) == 2, messages
    irm_message = next(m for m in messages if m.startswith("ImpulseResponseMonitor"))
    assert "33x33" in irm_message and "larger than the positional-embedding table" in irm_message
    assert "`size=`" in irm_message
    assert any(m.startswith("HyRAMonitor") for m in messages)
    assert failing.disabled and failing.last_step is None
    assert hyra.disabled and hyra.last_step is None
    assert not working.disabled
    acc = read_events(tmp_path / "run" / "version_0")
    assert scalar_steps(acc, "impulse/dc_gain") == [0, 3, 6]
    assert not [tag for tag in acc.Tags()["scalars"] if tag.startswith("hyra/")]


def test_bf16_mixed_precision(tmp_path):
    seed_everything(0)
    trainer = make_trainer(tmp_path, _monitors(), max_steps=3, precision="bf16-mixed")
    trainer.fit(SRModule(), datamodule=PhotoData())
    acc = read_events(tmp_path / "run" / "version_0")
    for tag in ("impulse/dc_gain", "impulse/cutoff", "hyra/nonlinear_energy_ratio", "fsds/val"):
        events = acc.Scalars(tag)
        assert events and all(math.isfinite(e.value) for e in events), tag
    assert image_steps(acc, "hyra/sample_0") == [3]


def _ddp_fit(root: Path, strategy: str, devices: int, state: dict[str, torch.Tensor]) -> None:
    module = SRModule(optimizer="sgd", lr=0.0)  # weights never change: runs are comparable
    module.load_state_dict(state)
    logger = TensorBoardLogger(str(root), name="run", version=0)
    trainer = Trainer(
        accelerator="cpu",
        devices=devices,
        strategy=strategy,
        max_steps=2,
        limit_train_batches=2,
        logger=logger,
        callbacks=[*_monitors(every_n_steps=1), LeaveTogether()],
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(module, datamodule=PhotoData(n_val=4, val_batch_size=1))


@pytest.mark.slow
@pytest.mark.ddp
def test_ddp_spawn_writes_on_rank_zero_and_syncs_fsds(tmp_path):
    torch.manual_seed(0)
    state = SRModule().state_dict()
    _ddp_fit(tmp_path / "ddp", "ddp_spawn", 2, state)
    _ddp_fit(tmp_path / "single", "auto", 1, state)
    event_files = list((tmp_path / "ddp").rglob("events.out.tfevents.*"))
    assert len(event_files) == 1  # rank 1 wrote nothing
    ddp, single = (
        read_events(tmp_path / "ddp" / "run" / "version_0"),
        read_events(tmp_path / "single" / "run" / "version_0"),
    )
    # each rank saw 2 of the 4 validation images; the synced score is the one of all 4
    assert scalar_steps(ddp, "fsds/val") == scalar_steps(single, "fsds/val") == [2]
    assert ddp.Scalars("fsds/val")[0].value == pytest.approx(single.Scalars("fsds/val")[0].value, rel=1e-5)
    for k in range(NUM_BANDS):
        tag = f"fsds/band_{k:02d}"
        assert ddp.Scalars(tag)[0].value == pytest.approx(single.Scalars(tag)[0].value, rel=1e-5)
    assert scalar_steps(ddp, "impulse/dc_gain") == [0, 1, 2]
    assert ddp.Scalars("impulse/dc_gain")[-1].value == pytest.approx(
        single.Scalars("impulse/dc_gain")[-1].value
    )
    assert image_steps(ddp, "hyra/sample_0") == [2]


@pytest.mark.slow
def test_compiled_model_no_recompile_storm(tmp_path):
    """Probing every step a torch.compile'd network: a bounded number of graphs (train, eval, probe sizes)."""
    import torch._dynamo
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    module = SRModule()
    module.net = torch.compile(module.net, backend="eager")
    trainer = make_trainer(tmp_path, _monitors(every_n_steps=1), max_steps=9)
    trainer.fit(module, datamodule=PhotoData())
    graphs = counters["stats"]["unique_graphs"]
    torch._dynamo.reset()
    assert 1 <= graphs <= 4
    acc = read_events(tmp_path / "run" / "version_0")
    assert scalar_steps(acc, "impulse/dc_gain") == list(range(10))
    assert scalar_steps(acc, "hyra/hf_injection") == [3, 6, 9]
