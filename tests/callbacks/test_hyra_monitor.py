"""HyRAMonitor: arguments, user-given images, cadence, state."""

from __future__ import annotations

import pytest
import torch

from hyra_lightning.analysis import hyra_decompose
from hyra_lightning.callbacks import HyRAMonitor
from tests.callbacks.helpers import LR_SIZE, PhotoData, SRModule, make_trainer, read_events, scalar_steps


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_images": 0}, r"`num_images`.*0"),
        ({"every_n_epochs": -1}, r"`every_n_epochs`.*-1"),
        ({"boundary": "wrap"}, r"`boundary`.*'wrap'"),
        ({"lr_key": ""}, r"`lr_key`"),
        ({"size": 8}, r"`size`.*odd.*8"),
        ({"amplitude": -1.0}, r"`amplitude`.*-1.0"),
        ({"mode": "luma"}, r"`mode`.*'luma'"),
        ({"log_images": None}, r"`log_images`"),
        ({"images": torch.rand(8, 8)}, r"`images`.*\(8, 8\)"),
        ({"images": torch.zeros(1, 3, 8, 8, dtype=torch.int64)}, r"`images`.*floating"),
        ({"hr_images": torch.rand(3, 16, 16)}, r"`images`.*`hr_images`"),
        ({"images": torch.rand(2, 3, 8, 8), "hr_images": torch.rand(1, 3, 16, 16)}, r"`hr_images`.*\(1, 3"),
        ({"images": torch.rand(2, 3, 8, 8), "hr_images": [1]}, r"`hr_images`.*list"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HyRAMonitor(**kwargs)


def test_user_images_scalars_match_the_analysis(tmp_path):
    """Given images (3 x h x w, no HR): analysed as given, without HR scalars; values from the analysis."""
    torch.manual_seed(0)
    images = torch.rand(3, 20, 20)
    module = SRModule()
    monitor = HyRAMonitor(images=images, boundary="reflect", num_images=1)
    trainer = make_trainer(tmp_path, [monitor], max_steps=1)
    trainer.validate(module, datamodule=PhotoData(), verbose=False)
    assert monitor.last_step == 0 and not monitor.last_reused_response
    assert torch.equal(monitor.images[0], images[None])
    expected = hyra_decompose(module, images[None], boundary="reflect", scale=2).scalars()
    acc = read_events(tmp_path / "run" / "version_0")
    assert sorted(t for t in acc.Tags()["scalars"] if t.startswith("hyra/")) == [
        "hyra/hf_injection",
        "hyra/nonlinear_energy_ratio",
    ]
    for name in ("hf_injection", "nonlinear_energy_ratio"):
        assert acc.Scalars(f"hyra/{name}")[0].value == pytest.approx(expected[name], rel=1e-5)
    # the picture is hyra_figure of the same decomposition: four columns without HR
    from hyra_lightning.analysis import hyra_figure
    from hyra_lightning.callbacks.sinks.raster import figure_to_array

    fig = hyra_figure(hyra_decompose(module, images[None], boundary="reflect", scale=2), 0)
    assert [ax.get_title() for ax in fig.axes[:8:2]] == ["LR (nearest)", "B + H(x)", "G(x)", "SR N(x)"]
    height, width, _ = figure_to_array(fig).shape
    (event,) = acc.Images("hyra/sample_0")
    assert (event.width, event.height) == (width, height)


def test_every_n_epochs_and_state(tmp_path):
    monitor = HyRAMonitor(every_n_epochs=2, log_images=False)
    trainer = make_trainer(tmp_path, [monitor], max_steps=9)  # 3 epochs of 3 steps
    trainer.fit(SRModule(), datamodule=PhotoData())
    acc = read_events(tmp_path / "run" / "version_0")
    assert scalar_steps(acc, "hyra/fsds_gain") == [6]
    assert not acc.Tags()["images"]
    state = monitor.state_dict()
    assert state["val_runs"] == 3 and state["last_step"] == 6
    assert state["lr"].shape == (2, 3, LR_SIZE, LR_SIZE) and not state["lr"].is_inference()
    restored = HyRAMonitor(every_n_epochs=2)
    restored.load_state_dict(state)
    assert torch.equal(restored.images[0], monitor.images[0]) and restored._val_runs == 3
    # user-given images win over the checkpoint's
    given = torch.rand(1, 3, 8, 8)
    pinned = HyRAMonitor(images=given)
    assert pinned.state_dict()["lr"] is None
    pinned.load_state_dict(state)
    assert torch.equal(pinned.images[0], given)
