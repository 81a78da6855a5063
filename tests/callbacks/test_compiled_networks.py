"""The monitors run a ``torch.compile``d network eagerly: no graph, no recompilation of the user's model."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule
from torch import Tensor, nn

from hyra_lightning.callbacks import FrequencySimilarityMonitor, HyRAMonitor, ImpulseResponseMonitor
from hyra_lightning.callbacks._base import EagerForward, discover_scale, resolve_model
from hyra_lightning.models import EDSR
from tests.callbacks.helpers import PhotoData, SRModule, make_trainer, read_events, scalar_steps


def _graphs() -> int:
    from torch._dynamo.utils import counters

    return sum(counters["stats"].values())


@pytest.fixture
def fresh_dynamo():
    import torch._dynamo

    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def test_a_compiled_network_resolves_to_its_original_module(fresh_dynamo):
    module = SRModule()
    net = module.net
    module.net = torch.compile(net, backend="eager")
    assert resolve_model(module, "net") is net
    assert resolve_model(module, "net.head") is net.head
    assert discover_scale(module, resolve_model(module, "net"), None) == 2


def test_a_compiled_child_runs_eagerly_and_stays_in_the_model(fresh_dynamo):
    module = SRModule()
    compiled = torch.compile(module.net.body, backend="eager")
    module.net.body = compiled
    x = torch.rand(1, 3, 7, 7)
    view = resolve_model(module, "net")
    assert isinstance(view, EagerForward)
    assert discover_scale(module, view, None) == 2
    before = _graphs()
    with torch.no_grad():
        out = view(x)
    assert _graphs() == before  # dynamo saw nothing
    assert module.net.body is compiled  # the user's model is unchanged
    with torch.no_grad():
        assert torch.equal(out, module.net(x))  # the compiled child computes the same
    assert _graphs() > before

    def broken(_: Tensor) -> Tensor:
        raise RuntimeError("boom")

    module.net.tail.forward = broken
    with pytest.raises(RuntimeError, match="boom"):
        view(x)
    assert module.net.body is compiled  # put back on an exception too


def test_a_lightning_module_compiled_as_a_whole_runs_eagerly(fresh_dynamo):
    from lightning.pytorch.utilities.compile import from_compiled

    module = from_compiled(torch.compile(SRModule(), backend="eager"))
    compiled_forward = module.forward
    view = resolve_model(module, None)
    before = _graphs()
    with torch.no_grad():
        view(torch.rand(1, 3, 5, 5))
    assert _graphs() == before
    assert module.forward is compiled_forward


def test_in_place_compile_runs_eagerly(fresh_dynamo):
    module = SRModule()
    module.net.compile(backend="eager")
    view = resolve_model(module, "net")
    before = _graphs()
    with torch.no_grad():
        view(torch.rand(1, 3, 5, 5))
    assert _graphs() == before
    assert module.net._compiled_call_impl is not None


class _CompiledEDSR(LightningModule):
    """A tiny EDSR compiled inside the LightningModule, as SR training scripts do."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.model: nn.Module = torch.compile(EDSR(scale=2, n_resblocks=1, n_feats=8), backend="aot_eager")

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return F.l1_loss(self(batch["lr"]), batch["hr"])

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> dict[str, Tensor]:
        return {"preds": self(batch["lr"]), "target": batch["hr"]}

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=1e-3)


def _compiled_fit(root, monitors: bool) -> dict[str, int]:
    import torch._dynamo
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    callbacks = []
    if monitors:  # probe sizes that differ from the training patches (24x24 LR)
        callbacks = [
            ImpulseResponseMonitor(every_n_steps=2, size=9, log_images=False),
            HyRAMonitor(num_images=1, size=9, log_images=False),
            FrequencySimilarityMonitor(log_curve=False, log_band_map=False),
        ]
    trainer = make_trainer(
        root, callbacks, max_steps=4, val_check_interval=2, limit_val_batches=1, num_sanity_val_steps=0
    )
    trainer.fit(_CompiledEDSR(), datamodule=PhotoData())
    stats = {f"stats/{k}": v for k, v in counters["stats"].items()}
    stats.update({f"recompiles/{k}": v for k, v in counters["recompiles"].items()})
    torch._dynamo.reset()
    return stats


@pytest.mark.slow
def test_monitors_add_no_graph_or_recompilation_to_a_compiled_network(tmp_path):
    plain = _compiled_fit(tmp_path / "plain", monitors=False)
    monitored = _compiled_fit(tmp_path / "monitored", monitors=True)
    assert plain["stats/unique_graphs"] >= 1
    assert monitored == plain
    events = read_events(tmp_path / "monitored" / "run" / "version_0")
    assert scalar_steps(events, "impulse/dc_gain") == [0, 2, 4]
    assert scalar_steps(events, "hyra/hf_injection") == [2]
    assert scalar_steps(events, "fsds/val") == [2]
