"""Impulse-response monitor: watch the network's response to one LR pixel turn into a sinc while it trains."""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl
import torch
from typing_extensions import override

from hyra_lightning.analysis import ProbeOptions
from hyra_lightning.analysis.figures import new_figure
from hyra_lightning.callbacks._base import (
    MonitorCallback,
    averaging_pending,
    probe_key,
    resolve_model,
    resolve_probe_options,
    weight_roots,
)
from hyra_lightning.checks import check_bool, check_choice, check_int, check_str
from hyra_lightning.options import WEIGHTS, ProbeMode, Weights
from hyra_lightning.tags import IMPULSE_PROFILE, IMPULSE_RESPONSE, IMPULSE_SPECTRUM, impulse_scalar, live_tag

if TYPE_CHECKING:
    from collections.abc import Callable

    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from hyra_lightning.analysis import ImpulseResponse

__all__ = ["ImpulseResponseMonitor"]


class ImpulseResponseMonitor(MonitorCallback):
    r"""Probe the SR network with an impulse on a schedule and log its response to TensorBoard.

    At every probe the monitor measures :math:`K = (N(b + a\delta) - N(b)) / a` with
    :func:`hyra_lightning.analysis.impulse_response` (one forward pass of ``C_in + 1`` images of
    ``size x size`` LR pixels, in eval mode without gradients, train/eval flags and the RNG restored) and logs,
    at ``trainer.global_step``:

    - ``impulse/<descriptor>`` scalars, one per field of
      :class:`~hyra_lightning.analysis.ImpulseDescriptors` (``dc_gain``, ``cutoff``, ``cutoff_h``, ``cutoff_v``,
      ``anisotropy``, ``sinc_similarity``, ``negative_lobe``, ``stopband_leakage``, ``phase_gain_spread``, and
      the reading errors ``linearity_error``, ``repeatability_error``, ``homogeneity_error``,
      ``superposition_error``, ``shift_variance``), to every logger;
    - ``impulse/response``: the luminance response ``g`` around its centre (``crop_radius`` LR pixels on each
      side) in a diverging colour map (zero white, negative lobes blue), with axes in LR pixels and a colour
      bar (:func:`~hyra_lightning.analysis.impulse_response_figure`);
    - ``impulse/spectrum``: the centred log-magnitude spectrum of ``g`` in dB, with axes in HR Nyquist units, a
      colour bar and the LR passband square in its legend (:func:`~hyra_lightning.analysis.impulse_spectrum_figure`);
    - ``impulse/profile``: a figure of the horizontal and vertical magnitude responses ``M_h``, ``M_v``
      against frequency (Nyquist units), with the LR Nyquist frequency ``1/s``, the ideal low-pass filter
      (dashed) and the 0.5 level that defines the cutoff (dotted).

    Scalars go to every logger; images and the figure go to every logger through its sink (see
    :func:`hyra_lightning.callbacks.sinks.sinks_for`: TensorBoard images, PNG files for a ``CSVLogger``, ...).
    The probe runs on the training thread; describing, drawing and writing run on a background thread (see
    ``blocking``). Probes happen at the start of training, every
    ``every_n_steps`` optimizer steps, every ``every_n_epochs`` training epochs and at the end of training,
    never twice at one step. The defaults (every 200 steps, plus start and end) keep the overhead of a small
    EDSR trained on CPU within a few percent (``benchmarks/bench_callback_overhead.py``).

    When a reading does not describe a filter (:attr:`~hyra_lightning.analysis.ImpulseDescriptors.filter_reading`
    is False: the network is not linear at the probe, or random at evaluation), the monitor warns once with
    the cause and the remedy (a smaller ``amplitude`` on another ``background``; ``eval()`` for stochastic
    layers) and goes on logging. The first probe of a fit from scratch (step 0, the untrained network) is logged
    but never warned about.

    The probe runs on every rank (each probes its own replica); only global rank zero writes. Strategies that
    shard the parameters (FSDP, DeepSpeed) are refused at ``setup``. The probe runs in full precision whatever the trainer's precision (autocast and TF32 off,
    float32; half-precision weights seen through float32 copies; see ``impulse_response``). If the model
    rejects the probe, the monitor warns once with the error and the remedy and switches itself off; training
    continues.

    Which weights: by default the averaged weights when a weight-averaging callback is present (Lightning's
    ``WeightAveraging`` such as ``EMAWeightAveraging``, or ``StochasticWeightAveraging`` once it has averaged),
    the weights being trained otherwise; ``weights="both"`` also probes the live weights and logs them under
    ``impulse_live/...``. A ``torch.compile``d network is probed eagerly (its original module), so the probes
    add no graph and no recompilation to it.

    The last measured response is published as :attr:`last_response` with the step of the measurement in
    :attr:`last_step`; :class:`~hyra_lightning.callbacks.HyRAMonitor` reuses it when it runs at that step with
    the same probe options.

    Args:
        every_n_steps: probe every this many optimizer steps (``trainer.global_step`` divisible by it);
            ``None`` disables the step schedule.
        every_n_epochs: probe at the end of every this many training epochs; ``None`` disables the epoch
            schedule.
        log_on_train_start: probe once when training starts (skipped when resuming from a checkpoint,
            whose run already logged that step).
        log_on_train_end: probe once when training ends.
        size: side of the square LR probe image, odd (default 33). Models that need sizes divisible by a
            window (for example 8 for window attention) need a different odd size they accept, or a model
            that pads internally.
        amplitude: impulse amplitude ``a`` (> 0). The paper uses 1.0; 0.02 on a grey ``background`` reads
            the local linear response.
        background: constant background ``b`` of the probe image.
        baseline: subtract the response to the background alone, ``N(b)`` (``False`` gives the paper's
            ``N(delta)``).
        mode: ``"cross_channel"`` (one impulse per input channel, kernel ``C_out x C_in``) or ``"paper"``
            (the impulse in every channel at once).
        scale: upsampling factor; ``None`` reads an integer attribute ``scale`` of the probed model or of the
            LightningModule, and otherwise infers it from the output size.
        in_channels: number of input channels, only needed when it cannot be read from the model's first
            convolution.
        crop_radius: half-width, in LR pixels, of the window of ``impulse/response`` around the centre.
        zoom: not used any more (``impulse/response`` is a figure with axes, of a fixed size); accepted and
            checked so that configs that set it still load, with a ``FutureWarning`` when it is not the default.
        log_images: log ``impulse/response``, ``impulse/spectrum`` and ``impulse/profile``; ``False`` logs the
            scalars only.
        submodule: dotted name of the SR network inside the LightningModule (for example ``"model"``);
            ``None`` probes the LightningModule's own ``forward``.
        weights: which weights to probe when a weight-averaging callback is present: ``"averaged"`` (the
            averaged weights, those that validation uses with ``EMAWeightAveraging`` and that the fit ends
            with; the live ones before any averaging), ``"live"`` (the weights being trained, under the same
            tags) or ``"both"`` (the averaged ones under ``impulse/``, the live ones under ``impulse_live/``).
            Without such a callback all three read the one set of weights.
        blocking: describe, draw and write in the training thread, as the probe happens (for debugging);
            by default a background thread does it and the training thread only measures.

    Raises:
        ValueError: for an argument of the wrong type or out of range, or when both schedules are ``None``
            and both ``log_on_train_*`` flags are ``False`` (the monitor would never probe).

    Example:
        >>> from lightning.pytorch import Trainer
        >>> from hyra_lightning.callbacks import ImpulseResponseMonitor
        >>> monitor = ImpulseResponseMonitor(every_n_steps=500, amplitude=0.02, background=0.5)
        >>> trainer = Trainer(callbacks=[monitor], logger=False, enable_progress_bar=False)
    """

    def __init__(
        self,
        every_n_steps: int | None = 200,
        every_n_epochs: int | None = None,
        log_on_train_start: bool = True,
        log_on_train_end: bool = True,
        size: int = 33,
        amplitude: float = 1.0,
        background: float = 0.0,
        baseline: bool = True,
        mode: ProbeMode = "cross_channel",
        scale: int | None = None,
        in_channels: int | None = None,
        crop_radius: int = 3,
        zoom: int = 8,
        log_images: bool = True,
        submodule: str | None = None,
        weights: Weights = "averaged",
        blocking: bool = False,
    ) -> None:
        super().__init__()
        check_choice("weights", weights, WEIGHTS)
        check_int("every_n_steps", every_n_steps, optional=True)
        check_bool("blocking", blocking)
        check_int("every_n_epochs", every_n_epochs, optional=True)
        check_bool("log_on_train_start", log_on_train_start)
        check_bool("log_on_train_end", log_on_train_end)
        check_bool("log_images", log_images)
        check_int("crop_radius", crop_radius)
        check_int("zoom", zoom)
        if zoom != 8:  # set by the user: say that it does nothing
            warnings.warn(
                f"ImpulseResponseMonitor(zoom={zoom}) has no effect: `impulse/response` is a figure with axes, of"
                " a fixed size. Remove `zoom` from the config; `crop_radius` sets the window it shows.",
                FutureWarning,
                stacklevel=2,
            )
        check_str("submodule", submodule, optional=True)
        if every_n_steps is None and every_n_epochs is None and not (log_on_train_start or log_on_train_end):
            raise ValueError(
                "Expected at least one of `every_n_steps`, `every_n_epochs`, `log_on_train_start`,"
                " `log_on_train_end` to schedule a probe, got every_n_steps=None, every_n_epochs=None,"
                " log_on_train_start=False, log_on_train_end=False."
            )
        self.probe_options = ProbeOptions(
            size=size,
            amplitude=amplitude,
            background=background,
            baseline=baseline,
            mode=mode,
            scale=scale,
            in_channels=in_channels,
        )
        self.every_n_steps = every_n_steps
        self.every_n_epochs = every_n_epochs
        self.log_on_train_start = log_on_train_start
        self.log_on_train_end = log_on_train_end
        self.crop_radius = crop_radius
        self.zoom = zoom
        self.log_images = log_images
        self.submodule = submodule
        self.weights = weights
        self.blocking = blocking

        #: The last response measured (on this rank), or ``None``.
        self.last_response: ImpulseResponse | None = None
        #: ``trainer.global_step`` at which :attr:`last_response` was measured (and logged), or ``None``.
        self.last_step: int | None = None
        #: The probe options with ``scale`` resolved, as used by :attr:`last_response`.
        self.resolved_options: ProbeOptions | None = None
        self._last_epoch: int | None = None
        self._num_probes = 0
        self._restored = False

    def _state_key_fields(self) -> dict[str, Any]:
        # `extra` (an argument that measured two reading errors on demand; they are measured at every probe
        # now) stays in the key at its old default, so that checkpoints written before keep their key.
        # `weights` joins the key only away from its default, for the same reason.
        fields = {"probe": probe_key(self.probe_options), "extra": False, "submodule": self.submodule}
        if self.weights != "averaged":
            fields["weights"] = self.weights
        return fields

    # ---------------------------------------------------------------------------------------------- hooks

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.log_on_train_start and not self._restored:
            self._probe(trainer, pl_module, "on_train_start")

    @override
    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        step = trainer.global_step
        if self.every_n_steps is not None and step > 0 and step % self.every_n_steps == 0:
            if self.weights != "live" and averaging_pending(trainer, self):
                # the averaging callback runs after this one: probe once it has averaged this step's weights
                self._pending = True
                return
            self._probe(trainer, pl_module, "on_train_batch_end")

    def _probe_pending(self, trainer: pl.Trainer, pl_module: pl.LightningModule, hook: str) -> None:
        """The step probe put off by ``on_train_batch_end``, at the next hook (the step has not changed)."""
        if self.__dict__.get("_pending", False):
            self._pending = False
            self._probe(trainer, pl_module, hook)

    @override
    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self._probe_pending(trainer, pl_module, "on_train_batch_start")

    @override
    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._probe_pending(trainer, pl_module, "on_validation_epoch_start")

    @override
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._probe_pending(trainer, pl_module, "on_train_epoch_end")
        epoch = trainer.current_epoch
        if self.every_n_epochs is not None and (epoch + 1) % self.every_n_epochs == 0:
            if self._last_epoch != epoch:
                self._last_epoch = epoch
                self._probe(trainer, pl_module, "on_train_epoch_end")

    @override
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._probe_pending(trainer, pl_module, "on_train_end")
        if self.log_on_train_end:
            self._probe(trainer, pl_module, "on_train_end")

    @override
    def state_dict(self) -> dict[str, Any]:
        return {"last_step": self.last_step, "last_epoch": self._last_epoch, "num_probes": self._num_probes}

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.last_step = state_dict.get("last_step")
        self._last_epoch = state_dict.get("last_epoch")
        self._num_probes = int(state_dict.get("num_probes", 0))
        self._restored = True

    # ---------------------------------------------------------------------------------------------- work

    def _probe(self, trainer: pl.Trainer, pl_module: pl.LightningModule, hook: str) -> None:
        """Measure the response at the current step (all ranks) and hand it to the writer (rank zero)."""
        step = trainer.global_step
        if self.disabled or step == self.last_step or not self._active(trainer):
            return
        averaged, live = weight_roots(trainer, pl_module, self, hook)
        main = live if self.weights == "live" or averaged is None else averaged
        measured = self._measure(pl_module, main)
        if measured is None:
            return
        response, options = measured
        live_response = None
        if self.weights == "both":
            live_measured = measured if main is live else self._measure(pl_module, live)
            if live_measured is None:
                return
            live_response = live_measured[0]
        self.last_response = response
        self.last_step = step
        self.resolved_options = options
        self._num_probes += 1
        # A fit's first probe reads the untrained network, which no one expects to be a filter: its reading is
        # logged, but only a later one that still fails is worth a warning.
        untrained = trainer.state.fn == "fit" and step == 0
        for reading in (response, live_response):
            problem = None if reading is None else reading.reading_problem
            if problem is not None and not untrained:
                self._warn_once("not a filter", f"at step {step}, {problem}")
        if not trainer.is_global_zero:
            return
        self._submit_response(trainer, step, response, live=False)
        if live_response is not None:
            self._submit_response(trainer, step, live_response, live=True)

    def _measure(
        self, pl_module: pl.LightningModule, root: pl.LightningModule
    ) -> tuple[ImpulseResponse, ProbeOptions] | None:
        """The response of the network in ``root`` (the LightningModule holding one set of weights) and the
        options it was measured with; ``None`` (and the monitor disabled) when the model rejects the probe."""
        from hyra_lightning.analysis import impulse_response

        model = resolve_model(root, self.submodule)
        options = resolve_probe_options(self.probe_options, pl_module, model)
        try:
            response = impulse_response(model, options=options)
        except Exception as err:  # the model rejected the probe: report once, switch off, keep training
            self._disable(
                f"the model rejected the impulse probe of {options.size}x{options.size} LR pixels"
                f" ({type(err).__name__}: {err})",
                "To fix it, pass `size=` an odd size the model accepts (for example a multiple of its window"
                " size plus one, if it has no internal padding), `in_channels=` if it cannot be read from the"
                " model, or `submodule=` to probe the SR network (LR -> SR) inside the LightningModule.",
            )
            return None
        return response, options

    def _submit_response(self, trainer: pl.Trainer, step: int, response: ImpulseResponse, live: bool) -> None:
        """Hand one reading to the writer: under ``impulse/`` or, for the live weights, ``impulse_live/``."""

        def tag(name: str) -> str:
            return live_tag(name) if live else name

        # The one device-to-host copy of the event: everything written derives from the luminance response.
        host = replace(response, luminance=response.luminance.detach().to("cpu", torch.float32))
        self._submit(
            trainer,
            step,
            lambda: {tag(impulse_scalar(name)): value for name, value in host.describe().as_dict().items()},
            (lambda: self._write_media(host, step, tag)) if self.log_images else None,
        )

    def _write_media(self, response: ImpulseResponse, step: int, tag: Callable[[str], str] = str) -> None:
        """Images and figure of one probe (writer thread)."""
        from hyra_lightning.analysis import (
            impulse_response_figure,
            impulse_spectrum_figure,
            magnitude_profiles,
        )
        from hyra_lightning.callbacks.sinks.raster import figure_to_array

        images = {
            IMPULSE_RESPONSE: figure_to_array(
                impulse_response_figure(response, crop_radius=self.crop_radius)
            ),
            IMPULSE_SPECTRUM: figure_to_array(impulse_spectrum_figure(response)),
        }
        freqs, m_h, m_v = magnitude_profiles(response)
        images[IMPULSE_PROFILE] = figure_to_array(self._profile_figure(freqs, m_h, m_v, response.scale, step))
        captions = {
            IMPULSE_RESPONSE: f"step {step}: response to one LR pixel (blue negative, red positive)",
            IMPULSE_SPECTRUM: f"step {step}: log-magnitude spectrum (dB), red square: LR passband 1/s",
            IMPULSE_PROFILE: f"step {step}: magnitude along the axes vs frequency",
        }
        for sink in self.sinks:
            for name, image in images.items():
                sink.log_image(tag(name), image, step, caption=captions[name])

    def _profile_figure(
        self, freqs: torch.Tensor, m_h: torch.Tensor, m_v: torch.Tensor, scale: int, step: int
    ) -> Figure:
        """The profile figure of this probe, drawn into the template built once per process."""
        template = self.cache.get("profile")
        if template is None:
            template = self.cache["profile"] = _ProfileTemplate()
        return template.draw(freqs, m_h, m_v, scale, step)

    @override
    def _warm_up(self) -> None:
        import hyra_lightning.analysis  # noqa: F401  (the display helpers the first probe needs)
        from hyra_lightning.callbacks.sinks.raster import figure_to_array

        if self.log_images and self.sinks:
            freqs = torch.linspace(0.0, 1.0, 8)
            figure_to_array(self._profile_figure(freqs, 1 - freqs / 2, 1 - freqs / 2, 2, 0))


class _ProfileTemplate:
    """The ``impulse/profile`` figure, built once; each probe only replaces the data, limits and title."""

    def __init__(self) -> None:
        self.fig = new_figure(5.0, 3.2)
        ax: Axes = self.fig.add_subplot(1, 1, 1)
        self.ax = ax
        (self.h_line,) = ax.plot([], [], color="tab:blue", lw=1.6, label="$M_h$ (horizontal)")
        (self.v_line,) = ax.plot([], [], color="tab:orange", lw=1.6, label="$M_v$ (vertical)")
        (self.ideal,) = ax.step([], [], where="post", color="0.3", ls="--", lw=1.0, label="ideal low-pass")
        self.nyquist = ax.axvline(0.5, color="tab:red", lw=1.0)
        self.nyquist_text = ax.text(
            0.5, 1.02, " LR Nyquist", color="tab:red", fontsize=8, va="bottom", ha="left"
        )
        ax.axhline(0.5, color="0.5", ls=":", lw=1.0)
        ax.set_xlabel("frequency (Nyquist units, 1 = HR Nyquist)")
        ax.set_ylabel("normalised magnitude")
        self.title = ax.set_title(" ", fontsize=9)
        ax.legend(fontsize=7, loc="upper right")
        ax.set_xlim(0.0, 1.0)
        ax.set_ylim(0.0, 1.15)
        self.fig.tight_layout()

    def draw(
        self, freqs: torch.Tensor, m_h: torch.Tensor, m_v: torch.Tensor, scale: int, step: int
    ) -> Figure:
        """Put one probe's profiles into the figure and return it (the same figure every time)."""
        f = freqs.detach().float().cpu().numpy()
        self.h_line.set_data(f, m_h.detach().float().cpu().numpy())
        self.v_line.set_data(f, m_v.detach().float().cpu().numpy())
        nyq = 1.0 / scale
        right = max(1.0, float(f.max()) if f.size else 1.0)
        self.ideal.set_data([0.0, nyq, right], [1.0, 0.0, 0.0])
        self.nyquist.set_xdata([nyq, nyq])
        self.nyquist_text.set_x(nyq)
        self.ax.set_xlim(0.0, right)
        top = max(1.15, float(max(m_h.max(), m_v.max())) * 1.05) if m_h.numel() else 1.15
        self.ax.set_ylim(0.0, top)
        self.title.set_text(f"impulse response magnitude, x{scale}, step {step}")
        return self.fig
