"""The FSDS torchmetrics class: accumulation, forward, DDP, plotting and TensorBoard."""

from __future__ import annotations

import copy
import os
import pickle
import socket
import warnings

import matplotlib
import numpy as np
import pytest
import torch

import hyra_lightning
from hyra_lightning.functional import frequency_bands, frequency_similarity_curve, fsds
from hyra_lightning.metrics import FSDS, FrequencySpectrumDistributionSimilarity, band_tag

matplotlib.use("Agg")


#: Many small transforms: one torch thread keeps them fast on a busy runner (see ``one_thread`` in conftest).
pytestmark = pytest.mark.usefixtures("one_thread")


def random_pair(shape, seed=0, noise=0.1, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    target = torch.rand(shape, generator=gen, dtype=dtype)
    preds = target + noise * torch.randn(shape, generator=gen, dtype=dtype)
    return preds, target


def test_alias_and_top_level_import():
    assert FSDS is FrequencySpectrumDistributionSimilarity
    assert hyra_lightning.FSDS is FSDS
    assert hyra_lightning.FrequencySpectrumDistributionSimilarity is FSDS


def test_class_attributes():
    metric = FSDS()
    assert metric.higher_is_better is True
    assert metric.is_differentiable is True
    assert metric.full_state_update is False
    assert metric.num_bands == 16 and metric.reference == "target"


@pytest.mark.parametrize("reference", ["target", "preds"])
def test_accumulation_equals_functional_on_everything(reference):
    preds, target = random_pair((7, 3, 24, 21), dtype=torch.float64)
    metric = FSDS(num_bands=6, reference=reference)
    for chunk in ((0, 3), (3, 4), (4, 7)):
        metric.update(preds[slice(*chunk)], target[slice(*chunk)])
    torch.testing.assert_close(
        metric.compute().double(), fsds(preds, target, reference=reference), rtol=1e-6, atol=0
    )
    freqs, values = metric.compute_curve()
    expected_freqs, expected = frequency_similarity_curve(preds, target, 6, reference=reference)
    torch.testing.assert_close(freqs.double(), expected_freqs)
    torch.testing.assert_close(values.double(), expected, rtol=1e-6, atol=0)
    assert metric.total == 7 and metric.num_excluded == 0


def test_accumulation_over_images_of_different_sizes():
    metric = FSDS(num_bands=4)
    pairs = [random_pair((2, 3, 16, 16), 1), random_pair((1, 1, 23, 30), 2), random_pair((3, 16, 17), 3)]
    for preds, target in pairs:
        metric.update(preds, target)
    per_image = torch.cat([fsds(p, t, "none") for p, t in pairs])
    torch.testing.assert_close(metric.compute(), per_image.mean())
    curves = torch.cat([frequency_similarity_curve(p, t, 4, "none")[1] for p, t in pairs])
    torch.testing.assert_close(metric.compute_curve()[1], curves.mean(0))


def test_forward_equals_update_plus_compute():
    preds, target = random_pair((6, 3, 16, 16))
    metric = FSDS(num_bands=4)
    batch_values = [metric(preds[:2], target[:2]), metric(preds[2:], target[2:])]
    torch.testing.assert_close(batch_values[0], fsds(preds[:2], target[:2]))
    torch.testing.assert_close(batch_values[1], fsds(preds[2:], target[2:]))
    other = FSDS(num_bands=4)
    other.update(preds[:2], target[:2])
    other.update(preds[2:], target[2:])
    torch.testing.assert_close(metric.compute(), other.compute())
    torch.testing.assert_close(metric.compute_curve()[1], other.compute_curve()[1])


def test_forward_is_differentiable():
    preds, target = random_pair((2, 3, 16, 16))
    preds.requires_grad_(True)
    value = FSDS()(preds, target)
    value.backward()
    assert preds.grad is not None and torch.isfinite(preds.grad).all() and preds.grad.abs().sum() > 0


def test_pickle_clone_and_reset():
    preds, target = random_pair((3, 3, 16, 16))
    metric = FSDS(num_bands=5, reference="preds")
    metric.update(preds, target)
    for copied in (pickle.loads(pickle.dumps(metric)), metric.clone(), copy.deepcopy(metric)):
        assert copied.num_bands == 5 and copied.reference == "preds"
        torch.testing.assert_close(copied.compute(), metric.compute())
        torch.testing.assert_close(copied.compute_curve()[1], metric.compute_curve()[1])
        copied.update(preds, target)  # keeps accumulating independently
    assert metric.total == 3
    metric.reset()
    assert metric.total == 0 and metric.band_count.sum() == 0
    with pytest.warns(UserWarning, match="compute"):
        assert torch.isnan(metric.compute())


def test_bad_image_is_excluded_and_counted():
    preds, target = random_pair((4, 3, 16, 16))
    preds[1] = 0.5
    target[3, 0, 0, 0] = float("nan")
    metric = FSDS(num_bands=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # update reads nothing back: the warning waits for compute
        metric.update(preds, target)
    assert metric.total == 2 and metric.num_excluded == 2
    assert (metric.band_count == 2).all()
    keep = torch.tensor([0, 2])
    with pytest.warns(UserWarning, match="2 of 4"):
        torch.testing.assert_close(metric.compute(), fsds(preds[keep], target[keep]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once: nothing new was excluded since
        assert torch.isfinite(metric.compute_curve()[1]).all()
    metric.update(preds[1:2], target[1:2])
    with pytest.warns(UserWarning, match="3 of 5"):
        metric.compute_with_curve()


def test_identical_images_give_plus_inf():
    preds, target = random_pair((2, 3, 16, 16))
    metric = FSDS()
    metric.update(preds, target)
    metric.update(target[:1], target[:1])
    assert torch.isposinf(metric.compute())


def test_empty_bands_are_nan_in_the_curve():
    preds, target = random_pair((2, 1, 4, 4))
    metric = FSDS(num_bands=64)
    metric.update(preds, target)
    values = metric.compute_curve()[1]
    assert torch.isnan(values).any() and torch.isfinite(values).any()
    assert torch.isfinite(metric.compute())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"num_bands": 0}, ValueError, "`num_bands`.*0"),
        ({"num_bands": 3.0}, ValueError, "`num_bands`.*3.0"),
        ({"reference": "lr"}, ValueError, "`reference`.*'lr'"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        FSDS(**kwargs)


def test_bad_tensors_raise_in_update():
    metric = FSDS()
    with pytest.raises(ValueError, match="same shape"):
        metric.update(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))
    with pytest.raises(TypeError, match=r"`preds`.*real"):
        metric.update(torch.rand(1, 3, 8, 8, dtype=torch.complex64), torch.rand(1, 3, 8, 8))


def test_low_precision_inputs():
    preds, target = random_pair((2, 3, 16, 16))
    metric = FSDS()
    metric.update(preds.half(), target.bfloat16())
    expected = fsds(preds.half().float(), target.bfloat16().float())
    torch.testing.assert_close(metric.compute(), expected)


def test_band_helpers():
    assert band_tag(0) == "band_00" and band_tag(12) == "band_12"
    metric = FSDS(num_bands=3)
    torch.testing.assert_close(metric.band_frequencies, frequency_bands(3)[0])


# --------------------------------------------------------------------------------------------------------
# plot
# --------------------------------------------------------------------------------------------------------


def test_plot_default_curve_marks_lr_nyquist():
    import matplotlib.pyplot as plt

    preds, target = random_pair((2, 3, 32, 32))
    metric = FSDS(num_bands=8)
    metric.update(preds, target)
    fig, ax = metric.plot(scale=4)
    assert isinstance(fig, plt.Figure) and isinstance(ax, matplotlib.axes.Axes)
    x, y = ax.lines[0].get_data()
    assert len(x) == 8
    torch.testing.assert_close(torch.as_tensor(y, dtype=torch.float32), metric.compute_curve()[1])
    assert ax.lines[1].get_xdata()[0] == pytest.approx(0.25)
    plt.close(fig)


def test_plot_into_given_axis_with_per_image_curves():
    import matplotlib.pyplot as plt

    preds, target = random_pair((3, 3, 32, 32))
    fig, ax = plt.subplots()
    curve = frequency_similarity_curve(preds, target, 16, "none")
    out_fig, out_ax = FSDS().plot(curve, ax=ax)
    assert out_ax is ax and out_fig is fig
    assert len(ax.lines) == 3
    plt.close(fig)


def test_plot_bad_arguments():
    metric = FSDS(num_bands=4)
    with pytest.raises(ValueError, match=r"`scale`.*0"):
        metric.plot(torch.zeros(4), scale=0)
    with pytest.raises(ValueError, match=r"`val`.*4 band values.*\(5,\)"):
        metric.plot(torch.zeros(5))


def test_plot_named_curves_beside_each_other():
    import matplotlib.pyplot as plt

    from hyra_lightning.metrics import plot_frequency_similarity

    freqs = frequency_bands(4)[0]
    model = torch.tensor([30.0, 20.0, 12.0, float("nan")])
    bicubic = torch.tensor([29.0, 15.0, float("inf"), 2.0])
    before = plt.get_fignums()
    _, ax = plot_frequency_similarity(freqs, {"model": model, "bicubic": bicubic}, scale=2, title="step 7")
    assert plt.get_fignums() == before  # off pyplot: safe in a background thread, nothing to close
    assert [line.get_label() for line in ax.get_lines()] == ["model", "bicubic", "LR Nyquist (1/2)"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["model", "bicubic", "LR Nyquist (1/2)"]
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), freqs.numpy(), rtol=1e-6)
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), [30.0, 20.0, 12.0, np.nan])
    np.testing.assert_array_equal(ax.get_lines()[1].get_ydata(), [29.0, 15.0, np.nan, 2.0])  # +inf: a gap
    assert ax.get_lines()[2].get_xdata()[0] == pytest.approx(0.5)
    assert ax.get_title() == "step 7" and ax.get_ylabel() == "FSDS (dB)"
    # the metric's plot draws the same, named curves included
    metric_fig, metric_ax = FSDS(num_bands=4).plot({"model": model, "bicubic": bicubic}, scale=2)
    assert [line.get_label() for line in metric_ax.get_lines()] == ["model", "bicubic", "LR Nyquist (1/2)"]
    plt.close(metric_fig)
    with pytest.raises(ValueError, match=r"`series\['bicubic'\]`.*4 band values.*\(3,\)"):
        plot_frequency_similarity(freqs, {"model": model, "bicubic": torch.zeros(3)})
    with pytest.raises(ValueError, match="empty"):
        plot_frequency_similarity(freqs, {})


# --------------------------------------------------------------------------------------------------------
# TensorBoard
# --------------------------------------------------------------------------------------------------------


def test_the_metric_is_thin():
    """Writing to loggers belongs to the callbacks (`hyra_lightning.callbacks.log_fsds`), not to the metric."""
    assert not hasattr(FSDS, "log_to_tensorboard")


# --------------------------------------------------------------------------------------------------------
# DDP
# --------------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ddp_worker(rank: int, world_size: int, port: int, out_dir: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size)
    try:
        preds, target = random_pair((6, 3, 20, 19))
        preds[4] = 0.3  # one constant image, on rank 0's share
        metric = FSDS(num_bands=5)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for index in range(rank, 6, world_size):
                metric.update(preds[index : index + 1], target[index : index + 1])
        score = metric.compute()
        _, curve = metric.compute_curve()
        from lightning.pytorch.loggers import CSVLogger

        from hyra_lightning.callbacks import log_fsds

        logger = CSVLogger(os.path.join(out_dir, f"logs{rank}"))
        calls: list = []
        logger.log_metrics = lambda metrics, step=None: calls.append(dict(metrics))  # type: ignore[method-assign]
        log_fsds(metric, logger, step=0)  # a collective: every rank calls it, rank 0 writes
        torch.save(
            {"score": score, "curve": curve, "local_total": metric.total, "calls": calls},
            os.path.join(out_dir, f"rank{rank}.pt"),
        )
        dist.barrier()  # no rank tears the group down while the other is still in a collective
    finally:
        dist.destroy_process_group()


@pytest.mark.ddp
def test_ddp_sync_equals_single_process(tmp_path):
    import torch.multiprocessing as mp

    try:
        mp.spawn(_ddp_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    except mp.ProcessExitedException as err:
        # Rarely, under load, a worker of torch 2.13 aborts while its process exits ("terminate called without
        # an active exception", from a thread of the torch runtime), after it has saved its results and passed
        # the final barrier: the results are still checked below; any other failure fails the test.
        done = all((tmp_path / f"rank{rank}.pt").exists() for rank in (0, 1))
        if not (done and "SIGABRT" in str(err)):
            raise
    preds, target = random_pair((6, 3, 20, 19))
    preds[4] = 0.3
    single = FSDS(num_bands=5)
    single.update(preds, target)
    with pytest.warns(UserWarning, match="1 of 6"):
        single.compute()
    for rank in (0, 1):
        result = torch.load(tmp_path / f"rank{rank}.pt")
        torch.testing.assert_close(result["score"], single.compute())
        torch.testing.assert_close(result["curve"], single.compute_curve()[1])
        assert result["local_total"] in (2, 3)  # states are restored after the sync
    (logged,) = torch.load(tmp_path / "rank0.pt")["calls"]
    assert len(logged) == 1 + 5 and logged["fsds/val"] == pytest.approx(single.compute().item(), rel=1e-6)
    assert list((tmp_path / "logs0").rglob("0000000.png"))  # the curve, as a PNG file beside the CSV
    assert torch.load(tmp_path / "rank1.pt")["calls"] == []
    assert not (tmp_path / "logs1").exists() or not list((tmp_path / "logs1").rglob("*.png"))


def test_update_reads_nothing_back_to_the_host(monkeypatch):
    """``update`` (score, curve, exclusions, bad images included) never converts a tensor to a Python value: on a
    GPU it queues kernels without waiting for them. The count of excluded pairs is read once, by ``compute``."""
    preds, target = random_pair((3, 3, 16, 15))
    preds[1] = 0.5
    target[2, 0, 0, 0] = float("nan")
    metric = FSDS(num_bands=4)

    def host_read(*args, **kwargs):
        raise AssertionError("a tensor was read back to the host")

    with monkeypatch.context() as patch:
        for name in ("item", "tolist", "__bool__", "__int__", "__float__", "__index__"):
            patch.setattr(torch.Tensor, name, host_read)
        metric.update(preds, target)
        metric.update(preds.float(), target.float())
    assert metric.total == 2 and metric.num_excluded == 4
    with pytest.warns(UserWarning, match="4 of 6"):
        assert torch.isfinite(metric.compute())
