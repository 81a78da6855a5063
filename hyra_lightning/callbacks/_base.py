"""The base class of the three monitors: checkpoint key, ``submodule`` check, where and how they write.

A monitor measures on the training thread (every rank) and, on global rank zero, hands the rest of an event to
the process's background writer (:mod:`hyra_lightning.callbacks._writer`) as a render function: colour maps,
figures and PNG encoding run on the worker thread and write through one sink per logger
(:func:`hyra_lightning.callbacks.sinks.sinks_for`), each wrapped so that a failing write loses only its own
picture (:class:`~hyra_lightning.callbacks.sinks.IsolatedSink`). The scalars of an event are logged to every
logger on the training thread when the event is submitted. Everything queued is written before a checkpoint file
is saved (``on_save_checkpoint``) and by the end of ``fit``/``validate``/``test`` (``teardown``), on an exception
or ``KeyboardInterrupt`` (``on_exception``), each wait with a time limit; the end of a run reports, per sink,
how many writes failed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks.callback import Callback
from lightning.pytorch.utilities.exceptions import SIGTERMException
from lightning.pytorch.utilities.rank_zero import rank_zero_warn
from torch import Tensor, nn
from typing_extensions import override

from hyra_lightning.analysis import ProbeOptions
from hyra_lightning.callbacks._writer import FLUSH_TIMEOUT_S, WriteJob, get_writer
from hyra_lightning.callbacks.sinks import IsolatedSink, failure_report, isolate, sinks_for

__all__ = [
    "EagerForward",
    "MonitorCallback",
    "PrecisionForward",
    "averaging_callback",
    "averaging_pending",
    "detach_copy",
    "discover_scale",
    "eager",
    "eager_view",
    "probe_key",
    "resolve_model",
    "resolve_probe_options",
    "sharding_strategy",
    "weight_roots",
]

#: The probe options that name a monitor's checkpoint entry (``extra`` and ``dtype`` are left out, so that a
#: checkpoint keeps its key when they change).
PROBE_KEY_FIELDS: tuple[str, ...] = (
    "size",
    "amplitude",
    "background",
    "baseline",
    "mode",
    "scale",
    "in_channels",
)

#: Seconds the checkpoint hook waits for the writer before the checkpoint file is written.
CHECKPOINT_FLUSH_TIMEOUT_S: float = 120.0

#: Seconds the monitors wait for the writer after Ctrl-C or SIGTERM before the run ends.
INTERRUPT_FLUSH_TIMEOUT_S: float = 10.0


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
    """The network a monitor probes: ``pl_module`` itself, or its submodule at the dotted path ``submodule``,
    as an eager view (:func:`eager_view`): the monitors' forward passes never run a ``torch.compile``d graph.

    Raises:
        ValueError: if ``submodule`` names no submodule of ``pl_module``.
    """
    if submodule is None:
        return eager_view(pl_module)
    try:
        return eager_view(pl_module.get_submodule(submodule))
    except AttributeError as err:
        names = [name for name, _ in pl_module.named_children()]
        raise ValueError(
            f"Expected `submodule` to name a submodule of {type(pl_module).__name__} (children: {names}),"
            f" got {submodule!r}."
        ) from err


def _optimized_module_type() -> type | None:
    """``torch._dynamo.OptimizedModule``, or ``None`` when dynamo was never imported (nothing is compiled)."""
    if "torch._dynamo" not in sys.modules:
        return None
    from torch._dynamo.eval_frame import OptimizedModule

    return OptimizedModule


def _unwrap_compiled(module: nn.Module) -> nn.Module:
    """The module a ``torch.compile(module)`` wraps (``_orig_mod``, through nested wrappers); else ``module``."""
    optimized = _optimized_module_type()
    while optimized is not None and isinstance(module, optimized):
        module = module._orig_mod
    return module


def _compiled_here(module: nn.Module) -> bool:
    """Whether calling ``module`` itself would run a compiled graph: ``module.compile()`` was called, or
    Lightning compiled the LightningModule as a whole (its ``forward`` replaced by a dynamo wrapper)."""
    if module.__dict__.get("_compiled_call_impl") is not None:
        return True
    return module.__dict__.get("_compiler_ctx") is not None and "forward" in module.__dict__


def _has_compiled(module: nn.Module) -> bool:
    optimized = _optimized_module_type()
    if optimized is None:
        return False
    return any(isinstance(m, optimized) or _compiled_here(m) for m in module.modules())


def eager_view(module: nn.Module) -> nn.Module:
    """``module`` as the monitors run it: without ``torch.compile``.

    A compiled module (``torch.compile(net)``, an ``OptimizedModule``) gives its original module
    (``_orig_mod``). A module with compiled parts below it (a compiled submodule, ``module.compile()``, a
    LightningModule that Lightning compiled as a whole) is wrapped in :class:`EagerForward`, whose forward runs
    them eagerly. Otherwise ``module`` itself. The user's model is left as it is: nothing is replaced outside
    the monitor's own forward passes.
    """
    module = _unwrap_compiled(module)
    return EagerForward(module) if _has_compiled(module) else module


@contextmanager
def eager(module: nn.Module) -> Iterator[None]:
    """Inside the block, calling ``module`` runs no compiled graph: every compiled module below it is swapped
    for its original module in its parent, ``module.compile()``'s compiled call and Lightning's compiled
    ``forward`` are set aside; all of it is put back when the block ends, also on an exception."""
    optimized = _optimized_module_type()
    undo: list[tuple[dict[str, Any], str, Any]] = []
    try:
        stack = [module]
        while stack:
            current = stack.pop()
            state = current.__dict__
            if state.get("_compiled_call_impl") is not None:
                undo.append((state, "_compiled_call_impl", state["_compiled_call_impl"]))
                state["_compiled_call_impl"] = None
            if state.get("_compiler_ctx") is not None and "forward" in state:
                undo.append((state, "forward", state.pop("forward")))
            for name, child in list(current._modules.items()):
                if child is None:
                    continue
                inner = child
                while optimized is not None and isinstance(inner, optimized):
                    inner = inner._orig_mod
                if inner is not child:
                    undo.append((current._modules, name, child))
                    current._modules[name] = inner
                stack.append(inner)
        yield
    finally:
        for mapping, key, value in reversed(undo):
            mapping[key] = value


class EagerForward(nn.Module):
    """Run ``module`` without its compiled parts (see :func:`eager`); parameters, modules and train/eval flags
    are ``module``'s (a registered child)."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module
        self.training = module.training

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """``module(*args, **kwargs)``, eagerly."""
        with eager(self.module):
            return self.module(*args, **kwargs)


def averaging_callback(trainer: pl.Trainer) -> Callback | None:
    """The trainer's weight-averaging callback (``WeightAveraging``, ``StochasticWeightAveraging``), if any."""
    from lightning.pytorch.callbacks import StochasticWeightAveraging

    kinds: tuple[type, ...] = (StochasticWeightAveraging,)
    try:  # Lightning >= 2.6
        from lightning.pytorch.callbacks import WeightAveraging

        kinds = (WeightAveraging, StochasticWeightAveraging)
    except ImportError:  # pragma: no cover - Lightning < 2.6
        pass
    for callback in getattr(trainer, "callbacks", ()):
        if isinstance(callback, kinds):
            return callback
    return None


def weight_roots(
    trainer: pl.Trainer, pl_module: pl.LightningModule, monitor: Callback, hook: str
) -> tuple[pl.LightningModule | None, pl.LightningModule]:
    """The LightningModules that hold the averaged and the live weights while ``monitor`` runs ``hook``.

    The first is ``None`` without a weight-averaging callback, or before it has averaged anything
    (``StochasticWeightAveraging`` before its first averaging epoch). ``WeightAveraging`` (EMA) swaps the
    two sets of weights between the model and its copy for the validation epoch: from its
    ``on_validation_epoch_start`` to its ``on_validation_epoch_end``, so which copy holds which set depends on
    whether it runs its hook before or after the monitor's (the order of ``Trainer(callbacks=...)``).
    """
    callback = averaging_callback(trainer)
    average = None if callback is None else getattr(callback, "_average_model", None)
    if average is None:
        return None, pl_module
    module = getattr(average, "module", None)
    if isinstance(module, pl.LightningModule):  # WeightAveraging: an AveragedModel around a copy
        if _swapped_for_validation(trainer, callback, monitor, hook):
            return pl_module, module
        return module, pl_module
    n_averaged = getattr(callback, "n_averaged", None)  # StochasticWeightAveraging: the copy itself
    if not isinstance(average, pl.LightningModule) or n_averaged is None or int(n_averaged) == 0:
        return None, pl_module
    return average, pl_module


def averaging_pending(trainer: pl.Trainer, monitor: Callback) -> bool:
    """Whether, in ``on_train_batch_end``, a ``WeightAveraging`` callback listed after ``monitor`` has still to
    fold this step's weights into its average (a probe of the averaged weights now would read the last step's)."""
    callback = averaging_callback(trainer)
    if callback is None or getattr(callback, "_average_model", None) is None:
        return False
    should_update = getattr(callback, "should_update", None)
    latest = getattr(callback, "_latest_update_step", None)
    if should_update is None or latest is None:  # StochasticWeightAveraging averages at epoch starts
        return False
    callbacks = list(trainer.callbacks)  # type: ignore[attr-defined]
    if monitor not in callbacks or callbacks.index(callback) < callbacks.index(monitor):
        return False
    step = trainer.global_step
    return bool(step > latest and should_update(step_idx=step - 1))


def _swapped_for_validation(trainer: pl.Trainer, callback: Callback, monitor: Callback, hook: str) -> bool:
    """Whether ``WeightAveraging`` has swapped the averaged weights into the model when ``monitor`` runs
    ``hook``."""
    if not (trainer.validating or trainer.sanity_checking):
        return False
    callbacks = list(trainer.callbacks)  # type: ignore[attr-defined]
    if hook not in ("on_validation_epoch_start", "on_validation_epoch_end") or monitor not in callbacks:
        return True
    averaging_first = callbacks.index(callback) < callbacks.index(monitor)
    return averaging_first if hook == "on_validation_epoch_start" else not averaging_first


def discover_scale(pl_module: pl.LightningModule, model: nn.Module, given: int | None) -> int | None:
    """The upsampling factor: ``given`` if set, else an integer attribute ``scale`` of ``model`` or of
    ``pl_module``, else ``None`` (the analysis layer then infers it from the output size)."""
    if given is not None:
        return given
    if isinstance(model, EagerForward):
        model = model.module
    for owner in (model, pl_module):
        value = getattr(owner, "scale", None)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
    return None


def probe_key(options: ProbeOptions) -> dict[str, Any]:
    """The probe options that tell two monitors' checkpoint entries apart (:data:`PROBE_KEY_FIELDS`)."""
    return {name: getattr(options, name) for name in PROBE_KEY_FIELDS}


def resolve_probe_options(
    options: ProbeOptions, pl_module: pl.LightningModule, model: nn.Module
) -> ProbeOptions:
    """``options`` with ``scale`` filled in by :func:`discover_scale` (when it can be found)."""
    return options.replace(scale=discover_scale(pl_module, model, options.scale))


class PrecisionForward(nn.Module):
    """Wrap ``model`` so that every forward runs inside the trainer's precision context.

    For the FSDS monitor and the fit summary, which score the images the model produces as it is trained.
    Probes and HyRA do not use it: they measure in full precision (:mod:`hyra_lightning.analysis.precision`).

    The wrapped model is a registered child, so ``modules()``, ``parameters()`` and train/eval flags reach it
    unchanged; the analysis layer sees the model's own parameter dtype and first convolution. Inputs go
    through the precision plugin's ``convert_input`` first (half weights need half inputs).

    Args:
        model: the SR network, ``(N, C, h, w) -> (N, C', s*h, s*w)``.
        trainer: the running trainer; its ``precision_plugin`` provides ``forward_context``.
    """

    def __init__(self, model: nn.Module, trainer: pl.Trainer) -> None:
        super().__init__()
        self.model = model
        self._plugin = trainer.precision_plugin
        self.training = model.training

    def forward(self, x: Tensor) -> Tensor:
        """Run ``model(x)`` in the trainer's precision context."""
        plugin = self._plugin
        x = plugin.convert_input(x)
        with plugin.forward_context():
            return self.model(x)


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
    def sinks(self) -> list[IsolatedSink]:
        """The sinks of the trainer's loggers, each write isolated (empty off global rank zero and before
        ``setup``)."""
        return self.__dict__.get("_sinks") or []

    @property
    def write_failures(self) -> dict[str, int]:
        """Failed writes per sink in this stage (``{"TensorBoardSink": 7, "ImageFileSink": 0}``)."""
        return {sink.label: sink.failures for sink in self.sinks}

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
        self._warn_sink_failures()

    def _warn_sink_failures(self) -> None:
        """Warn (once per sink) the first time a sink failed a write; the counts are reported at teardown."""
        for sink in self.sinks:
            if sink.failures:
                self._warn_once(
                    f"sink failed: {sink.label}",
                    f"{sink.label} could not write a picture ({sink.first_error}); the other loggers still get"
                    " theirs, and this sink's later pictures are still attempted. Failed writes are counted and"
                    " reported when the run ends.",
                )

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

    def _flush(self, trainer: pl.Trainer, timeout: float = FLUSH_TIMEOUT_S) -> None:
        """Wait until this process's writer has written everything (at most ``timeout`` seconds), then flush the
        sinks (rank zero)."""
        if not trainer.is_global_zero:
            return
        get_writer().flush(timeout)
        for sink in self.sinks:
            sink.flush()
        self._warn_sink_failures()

    def _report_failures(self) -> None:
        """One warning with the failed writes per sink, if any failed (rank zero, end of a stage)."""
        report = failure_report(self.sinks)
        if report is None or report == self.__dict__.get("_reported"):
            return
        self._reported = report
        total = sum(sink.failures for sink in self.sinks)
        rank_zero_warn(
            f"{type(self).__name__}: {total} picture writes failed in this run, those pictures are missing."
            f" Per sink: {report}.",
            category=UserWarning,
        )

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
        self._interrupted = False
        if trainer.is_global_zero and trainer.loggers:
            self._sinks = isolate(sinks_for(trainer.loggers, default_root=trainer.default_root_dir))
            self._reported = None

            def warm_up() -> None:
                self._warm_up()

            get_writer().submit(
                WriteJob(type(self).__name__, 0, media=warm_up, key=id(self)), blocking=self.blocking
            )

    # ------------------------------------------------------------------- schedule by validation runs
    # HyRAMonitor and LocalAttributionMonitor run at every n-th validation of `fit`; the count survives a resume,
    # also from a checkpoint written between a training batch and the validation that follows it.

    def _reset_validation_count(self) -> None:
        self._val_runs = 0
        self._validated_batch: int | None = None
        # training batches at a checkpoint that counted the validation still to come (_count_pending_validation)
        self._counted_ahead_at: int | None = None

    def _count_validation(self, trainer: pl.Trainer, every: int) -> bool:
        """Count one validation of ``fit``; whether it is an ``every``-th one (a validation that a checkpoint
        already counted, which Lightning before 2.6 runs again after the resume, is not counted again)."""
        batches = train_batches(trainer)
        counted_ahead, self._counted_ahead_at = self._counted_ahead_at, None
        self._validated_batch = batches
        if counted_ahead is not None and batches == counted_ahead:
            return False
        self._val_runs += 1
        return self._val_runs % every == 0

    def _count_pending_validation(self, trainer: pl.Trainer, checkpoint: dict[str, Any]) -> None:
        """In a checkpoint written before the validation that follows a training batch (Lightning resumes
        after that validation), count that validation."""
        state = checkpoint.get("callbacks", {}).get(self.state_key)
        if (
            state is not None
            and self._validated_batch != train_batches(trainer)
            and validation_pending(trainer)
        ):
            state["val_runs"] = self._val_runs + 1
            state["counted_ahead_at"] = train_batches(trainer)

    def _load_validation_count(self, state_dict: dict[str, Any]) -> None:
        self._val_runs = int(state_dict.get("val_runs", 0))
        self._counted_ahead_at = state_dict.get("counted_ahead_at")

    @override
    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        # every point measured so far is in the loggers before the checkpoint file exists
        self._flush(trainer, CHECKPOINT_FLUSH_TIMEOUT_S)

    @override
    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        interrupted = self.__dict__.get("_interrupted", False)
        self._flush(trainer, INTERRUPT_FLUSH_TIMEOUT_S if interrupted else FLUSH_TIMEOUT_S)
        if trainer.is_global_zero:
            self._report_failures()

    @override
    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        # Ctrl-C and SIGTERM end the run soon: write what can be written in a short time, say what could not
        self._interrupted = isinstance(exception, (KeyboardInterrupt, SIGTERMException))
        self._flush(trainer, INTERRUPT_FLUSH_TIMEOUT_S if self._interrupted else FLUSH_TIMEOUT_S)


def train_batches(trainer: pl.Trainer) -> int | None:
    """Training batches fetched so far in ``fit`` (restored from a checkpoint), or ``None``."""
    try:
        return int(trainer.fit_loop.epoch_loop.batch_progress.total.ready)
    except AttributeError:  # pragma: no cover - a Lightning without this progress
        return None


def validation_pending(trainer: pl.Trainer) -> bool:
    """Whether ``fit`` is between a training batch and the validation that follows it: a checkpoint written
    now is resumed after that validation (Lightning skips it when it restarts), so it must count it."""
    if trainer.state.fn != "fit" or not trainer.training or trainer.sanity_checking:
        return False
    epoch_loop = trainer.fit_loop.epoch_loop
    should_check = getattr(epoch_loop, "_should_check_val_fx", None)
    if should_check is None:  # pragma: no cover - a Lightning without this loop method
        return False
    try:
        return bool(should_check(getattr(trainer.fit_loop, "_data_fetcher", None)))
    except Exception:  # pragma: no cover - its signature or state differ in this Lightning version
        return False
