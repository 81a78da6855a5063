"""The base class of the three monitors: checkpoint key, ``submodule`` check, where and how they write.

A monitor measures on the training thread (every rank) and, on global rank zero, hands the rest of an event to
the process's background writer (:mod:`hyra_lightning.callbacks._writer`) as a render function: descriptors,
colour maps, figures and PNG encoding run on the worker thread and write through one sink per logger
(:func:`hyra_lightning.callbacks.sinks.sinks_for`); the scalars a render function returns are logged to every
logger on the training thread. Everything queued is written by the end of ``fit``/``validate``/``test``
(``teardown``), on an exception or ``KeyboardInterrupt`` (``on_exception``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks.callback import Callback
from lightning.pytorch.utilities.rank_zero import rank_zero_warn
from torch import Tensor, nn
from typing_extensions import override

from hyra_lightning.callbacks._writer import WriteJob, get_writer
from hyra_lightning.callbacks.sinks import Sink, sinks_for

__all__ = ["MonitorCallback", "detach_copy", "discover_scale", "resolve_model", "sharding_strategy"]

#: Strategies that shard the parameters across ranks, by class name in ``lightning.pytorch.strategies``.
_SHARDING_STRATEGIES = ("FSDPStrategy", "DeepSpeedStrategy", "ModelParallelStrategy")


def sharding_strategy(trainer: pl.Trainer) -> str | None:
    """The class name of the trainer's strategy when it shards the parameters across ranks, else ``None``.

    Under FSDP, DeepSpeed (ZeRO) and Lightning's ``ModelParallelStrategy`` (or a subclass of one) each rank
    holds a shard of the parameters: a forward pass on one rank alone either reads a shard or waits forever for
    the other ranks to gather the rest.
    """
    import lightning.pytorch.strategies as strategies

    classes = tuple(getattr(strategies, name) for name in _SHARDING_STRATEGIES if hasattr(strategies, name))
    strategy = getattr(trainer, "strategy", None)
    return type(strategy).__name__ if isinstance(strategy, classes) else None


def resolve_model(pl_module: pl.LightningModule, submodule: str | None) -> nn.Module:
    """The network a monitor probes: ``pl_module`` itself, or its submodule at the dotted path ``submodule``.

    Raises:
        ValueError: if ``submodule`` names no submodule of ``pl_module``.
    """
    if submodule is None:
        return pl_module
    try:
        return pl_module.get_submodule(submodule)
    except AttributeError as err:
        names = [name for name, _ in pl_module.named_children()]
        raise ValueError(
            f"Expected `submodule` to name a submodule of {type(pl_module).__name__} (children: {names}),"
            f" got {submodule!r}."
        ) from err


def discover_scale(pl_module: pl.LightningModule, model: nn.Module, given: int | None) -> int | None:
    """The upsampling factor: ``given`` if set, else an integer attribute ``scale`` of ``model`` or of
    ``pl_module``, else ``None`` (the analysis layer then infers it from the output size)."""
    if given is not None:
        return given
    for owner in (model, pl_module):
        value = getattr(owner, "scale", None)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
    return None


def detach_copy(x: Tensor) -> Tensor:
    """A CPU copy of ``x`` that is a normal tensor even when ``x`` was made under ``torch.inference_mode``."""
    with torch.inference_mode(False):
        return x.detach().to("cpu", copy=True).clone()


class MonitorCallback(Callback):
    """Base of the three monitors.

    Subclasses set ``self.submodule`` and ``self.blocking``, return the options that tell two instances apart
    from :meth:`_state_key_fields`, and may override :meth:`_warm_up` (run on the writer thread when a stage
    starts, so that the first event does not pay for imports and figure set-up on the training thread).
    """

    submodule: str | None
    blocking: bool = False
    #: Set by :meth:`_disable`: the monitor does nothing more in this run (not checkpointed: a resumed run,
    #: perhaps with a fixed model or options, tries again).
    disabled: bool = False

    #: Attributes rebuilt in every process (sinks hold loggers' writers; caches hold figures): not pickled.
    _TRANSIENT = ("_sinks", "_cache")

    def _state_key_fields(self) -> dict[str, Any]:
        raise NotImplementedError

    @property
    @override
    def state_key(self) -> str:
        # Lightning reads the key at every hook call: build it once (the options it names never change).
        key = self.__dict__.get("_state_key")
        if key is None:
            key = self.__dict__["_state_key"] = self._generate_state_key(**self._state_key_fields())
        return key

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for name in self._TRANSIENT:
            state.pop(name, None)
        return state

    # ------------------------------------------------------------------------------------------ output

    @property
    def sinks(self) -> list[Sink]:
        """The sinks of the trainer's loggers (empty off global rank zero and before ``setup``)."""
        return self.__dict__.get("_sinks") or []

    @property
    def cache(self) -> dict[str, Any]:
        """Per-process things built once and reused by the render functions (figure templates)."""
        return self.__dict__.setdefault("_cache", {})

    def _active(self, trainer: pl.Trainer) -> bool:
        """Whether the trainer has a logger; warns once (rank zero) when it has none."""
        if trainer.loggers:
            return True
        if not self.__dict__.get("_warned_no_logger", False):
            self._warned_no_logger = True
            name = type(self).__name__
            rank_zero_warn(
                f"{name} has nothing to write to: the Trainer has no logger (`logger=False`)."
                f" {name} does nothing in this run. Pass `logger=TensorBoardLogger(...)` to see its output.",
                category=UserWarning,
            )
        return False

    def _submit(
        self,
        trainer: pl.Trainer,
        step: int,
        scalars: Callable[[], Mapping[str, float] | None] | None,
        media: Callable[[], None] | None = None,
    ) -> None:
        """Hand an event to the writer (global rank zero only): ``scalars()`` returns what goes to every logger
        at ``step``; ``media()`` draws and writes through :attr:`sinks` (skipped when there is no sink)."""
        if not trainer.is_global_zero:
            return
        job = WriteJob(
            type(self).__name__,
            step,
            scalars,
            loggers=list(trainer.loggers),
            media=media if self.sinks else None,
            key=id(self),
        )
        get_writer().submit(job, blocking=self.blocking)

    def _disable(self, problem: str, remedy: str) -> None:
        """The one way a monitor gives up: warn once (rank zero) with the problem and the remedy, then switch
        itself off; training goes on.

        The warning reads ``"<Monitor> is disabled: <problem>. Training continues without it. <remedy>"``.
        """
        if self.disabled:
            return
        self.disabled = True
        rank_zero_warn(
            f"{type(self).__name__} is disabled: {problem.rstrip('.')}. Training continues without it. {remedy}",
            category=UserWarning,
        )

    def _warn_once(self, key: str, message: str) -> None:
        """Warn ``message`` (rank zero) the first time ``key`` is seen by this monitor; the monitor goes on."""
        warned = self.__dict__.setdefault("_warned", set())
        if key in warned:
            return
        warned.add(key)
        rank_zero_warn(f"{type(self).__name__}: {message}", category=UserWarning)

    def _warm_up(self) -> None:
        """Imports and figure templates, built on the writer thread before the first event."""

    def _flush(self, trainer: pl.Trainer) -> None:
        """Wait until this process's writer has written everything, then flush the sinks (rank zero)."""
        if not trainer.is_global_zero:
            return
        get_writer().flush()
        for sink in self.sinks:
            sink.flush()

    # ------------------------------------------------------------------------------------------ hooks

    def _refuse_sharding_strategy(self, trainer: pl.Trainer) -> None:
        """Raise on every rank (so none waits for another) when the strategy shards the parameters.

        Raises:
            ValueError: under FSDP, DeepSpeed or ``ModelParallelStrategy``.
        """
        name = sharding_strategy(trainer)
        if name is None:
            return
        raise ValueError(
            f"Expected `trainer.strategy` to keep every parameter on every rank for {type(self).__name__}, got"
            f" {name}. It shards the parameters across ranks, so the monitor's forward passes outside the"
            " training step would read a shard of the weights or wait forever for the ranks that hold the rest."
            " Train with `strategy='ddp'` (or 'ddp_spawn', 'ddp_fork', one device), or remove the monitor from"
            " the callbacks."
        )

    @override
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._refuse_sharding_strategy(trainer)
        resolve_model(pl_module, self.submodule)  # fail early on a wrong `submodule`
        if trainer.is_global_zero and trainer.loggers:
            self._sinks = sinks_for(trainer.loggers, default_root=trainer.default_root_dir)

            def warm_up() -> None:
                self._warm_up()

            get_writer().submit(
                WriteJob(type(self).__name__, 0, warm_up, key=id(self)), blocking=self.blocking
            )

    @override
    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._flush(trainer)

    @override
    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        self._flush(trainer)
