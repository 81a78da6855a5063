"""The FSDS torchmetrics metric: dataset score, dataset frequency-similarity curve and plot.

Writing to a logger belongs to the callbacks layer: :func:`hyra_lightning.callbacks.log_fsds` logs a metric's
``fsds/...`` tags to any Lightning logger, as :class:`~hyra_lightning.callbacks.FrequencySimilarityMonitor`
does."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from lightning_utilities.core.rank_zero import rank_zero_only
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities.imports import _MATPLOTLIB_AVAILABLE
from torchmetrics.utilities.plot import _AX_TYPE, _PLOT_OUT_TYPE

from hyra_lightning.checks import check_int
from hyra_lightning.functional.frequency_similarity import (
    MAX_RADIAL_FREQUENCY,
    _check_args,
    _fsds_check_inputs,
    _fsds_score,
    _fsds_update,
    _warn_invalid,
    frequency_bands,
)
from hyra_lightning.options import FSDSReference
from hyra_lightning.tags import band_tag

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["FSDS", "FrequencySpectrumDistributionSimilarity", "band_tag", "plot_frequency_similarity"]

if not _MATPLOTLIB_AVAILABLE:  # pragma: no cover - matplotlib is a dependency
    __doctest_skip__ = ["FrequencySpectrumDistributionSimilarity.plot", "plot_frequency_similarity"]


def plot_frequency_similarity(
    frequencies: Tensor | np.ndarray | Sequence[float],
    series: Mapping[str, Tensor | np.ndarray | Sequence[float]] | Tensor | np.ndarray,
    *,
    scale: int | None = None,
    ax: Axes | None = None,
    title: str | None = "Frequency similarity",
) -> tuple[Figure, Axes]:
    """Draw frequency-similarity curves: FSDS (dB) against radial frequency (Nyquist units).

    One line per named series, with a legend (for example ``{"model": ..., "bicubic": ...}``: the network and
    bicubic interpolation scored on the same images, so that the figure shows in which bands the network
    beats interpolation), or one unnamed line per row of an array. Non-finite values (an empty band, NaN; a
    band identical to the target, ``+inf``) leave a gap. The x axis spans ``[0, sqrt(2)]``, the whole range of
    the bands of :func:`~hyra_lightning.functional.frequency_bands`.

    This is the drawing of :meth:`FrequencySpectrumDistributionSimilarity.plot` and of the monitors'
    ``fsds/curve``; it touches no ``pyplot`` state when ``ax`` is not given (the figure is on its own Agg
    canvas, safe to draw from a background thread; close it by dropping it).

    Args:
        frequencies: band centres ``(num_bands,)`` in Nyquist units.
        series: ``{name: values}`` with values ``(num_bands,)``, or an array ``(num_bands,)`` or
            ``(N, num_bands)`` of unnamed curves.
        scale: SR scale factor ``s``; when given, the LR Nyquist frequency ``1 / s`` is marked.
        ax: a matplotlib axis to draw into; a new figure is created when not given.
        title: title of the axis (``None``: none).

    Returns:
        ``(fig, ax)``.

    Raises:
        ValueError: if ``scale`` is not a positive integer, or a series does not hold one value per band.

    Example:
        >>> import torch
        >>> freqs = torch.tensor([0.25, 0.75, 1.25])
        >>> fig, ax = plot_frequency_similarity(
        ...     freqs, {"model": torch.tensor([30.0, 20.0, 10.0]), "bicubic": torch.tensor([29.0, 15.0, 5.0])}, scale=2
        ... )
        >>> [line.get_label() for line in ax.get_lines()]
        ['model', 'bicubic', 'LR Nyquist (1/2)']
    """
    import numpy as np

    check_int("scale", scale, optional=True)

    def as_array(values: Any) -> np.ndarray:
        if isinstance(values, Tensor):
            values = values.detach().cpu().double().numpy()
        out = np.array(values, dtype=np.float64)
        return np.where(np.isfinite(out), out, np.nan)

    x = as_array(frequencies)
    if x.ndim != 1:
        raise ValueError(f"Expected `frequencies` to be one-dimensional, got shape {tuple(x.shape)}.")
    if isinstance(series, Mapping):
        if not series:
            raise ValueError("Expected `series` to name at least one curve, got an empty mapping.")
        lines = [(str(name), as_array(values)) for name, values in series.items()]
    else:
        lines = [(None, row) for row in as_array(series).reshape(-1, as_array(series).shape[-1])]
    for name, y in lines:
        if y.shape != x.shape:
            what = "`val`" if name is None else f"`series[{name!r}]`"
            raise ValueError(
                f"Expected {what} to hold {x.shape[0]} band values per curve, got shape {tuple(y.shape)}."
            )
    if ax is None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.4, 4.0), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
    else:
        fig = ax.figure
    for name, y in lines:
        ax.plot(
            x, y, marker="o", markersize=3, linewidth=1.5, label=name if name is not None else "_nolegend_"
        )
    if scale is not None:
        ax.axvline(1.0 / scale, color="0.4", linestyle="--", linewidth=1, label=f"LR Nyquist (1/{scale})")
    if scale is not None or isinstance(series, Mapping):
        ax.legend(loc="best")
    ax.set_xlim(0.0, MAX_RADIAL_FREQUENCY)
    ax.set_xlabel("radial frequency (Nyquist units)")
    ax.set_ylabel("FSDS (dB)")
    if title is not None:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    return fig, ax


def _global_rank() -> int:
    """Global rank of this process: from torch.distributed when initialised, else Lightning's, else 0."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    rank = getattr(rank_zero_only, "rank", None)
    if rank is not None:
        return int(rank)
    for key in ("RANK", "SLURM_PROCID", "LOCAL_RANK", "JSM_NAMESPACE_RANK"):
        if key in os.environ:
            return int(os.environ[key])
    return 0


class FrequencySpectrumDistributionSimilarity(Metric):
    r"""Frequency spectrum distribution similarity (FSDS, Deng et al., ICML 2024) over a dataset, in dB.

    Per image pair (see :func:`~hyra_lightning.functional.frequency_spectrum_distribution_similarity`):

    .. math::
        \mathrm{FSDS}(p, t) = -10 \log_{10} \frac{\sum |D(p) - D(t)|^2}{\sum |D(r)|^2}

    with :math:`D` the integrated spectrum of the normalised image and :math:`r` the ``reference``. The
    dataset score is the mean of the per-image scores; the dataset curve
    (:meth:`compute_curve`) is the per-band mean of the per-image curves
    (:func:`~hyra_lightning.functional.frequency_similarity_curve`).

    As input to ``forward`` and ``update`` the metric accepts

    - ``preds`` (:class:`~torch.Tensor`): SR images ``(N, C, H, W)`` or ``(C, H, W)``; image sizes may change
      from one call to the next;
    - ``target`` (:class:`~torch.Tensor`): HR images of the same shape.

    As output of ``forward`` and ``compute`` the metric returns the scalar mean FSDS (of the batch, of
    everything seen).

    The states are sums reduced with ``"sum"`` (sum of per-image scores, number of scored images, number of
    excluded images, per-band sums and counts), so a DDP sync moves ``2 * num_bands + 3`` numbers.

    Special values:

    - an image pair with a constant or non-finite image scores NaN; it is *excluded* from the dataset mean and
      curve and counted in the ``num_excluded`` state, so one bad image cannot poison a validation run. The
      count is kept on the device (``update`` never synchronises with the host); ``compute`` warns once
      when it has grown since the last warning. When nothing was scored, ``compute`` returns NaN.
    - identical images score ``+inf``; the dataset mean is then ``+inf``, which is the honest answer.
    - a band with no coefficient in any image seen (small images, many bands) is NaN in the curve.

    Args:
        num_bands: number of radial frequency bands of the curve (equal bands over ``[0, sqrt(2)]`` Nyquist
            units, see :func:`~hyra_lightning.functional.frequency_bands`).
        reference: ``"target"`` (default; the paper's equation) or ``"preds"`` (the convention of the
            paper's Table 1), the image whose integrated spectrum is the denominator.
        kwargs: additional keyword arguments of :class:`~torchmetrics.Metric`.

    Raises:
        ValueError: if ``num_bands`` is not a positive integer or ``reference`` is unknown.

    Example:
        >>> import torch
        >>> from hyra_lightning.metrics import FrequencySpectrumDistributionSimilarity
        >>> target = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> preds = target + 0.1 * torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
        >>> metric = FrequencySpectrumDistributionSimilarity(num_bands=4)
        >>> metric.update(preds[:2], target[:2])
        >>> metric.update(preds[2:], target[2:])
        >>> metric.compute().round(decimals=2)
        tensor(19.0700)
        >>> freqs, values = metric.compute_curve()
        >>> freqs
        tensor([0.1768, 0.5303, 0.8839, 1.2374])
    """

    is_differentiable: bool = True
    higher_is_better: bool = True
    full_state_update: bool = False
    plot_lower_bound: float | None = None
    plot_upper_bound: float | None = None

    fsds_sum: Tensor
    total: Tensor
    num_excluded: Tensor
    band_sum: Tensor
    band_count: Tensor

    def __init__(
        self,
        num_bands: int = 16,
        reference: FSDSReference = "target",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _check_args("elementwise_mean", reference, num_bands)
        self._warned_excluded = 0
        self.num_bands = num_bands
        self.reference = reference
        self.add_state("fsds_sum", default=torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("total", default=torch.tensor(0), dist_reduce_fx="sum")
        self.add_state("num_excluded", default=torch.tensor(0), dist_reduce_fx="sum")
        self.add_state("band_sum", default=torch.zeros(num_bands), dist_reduce_fx="sum")
        self.add_state("band_count", default=torch.zeros(num_bands, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add the per-image scores and curves of a batch to the states (on the device, without reading anything
        back to the host)."""
        preds, target = _fsds_check_inputs(preds, target)
        num, den, valid, band_num, band_den = _fsds_update(preds, target, self.reference, self.num_bands)
        scores = _fsds_score(num, den, valid)
        band_scores = _fsds_score(band_num, band_den, valid)  # type: ignore[arg-type]
        scored = ~torch.isnan(scores)
        band_scored = ~torch.isnan(band_scores)
        self.fsds_sum += torch.where(scored, scores, 0.0).sum().to(self.fsds_sum.dtype)
        self.total += scored.sum()
        self.num_excluded += (~valid).sum()
        self.band_sum += torch.where(band_scored, band_scores, 0.0).sum(0).to(self.band_sum.dtype)
        self.band_count += band_scored.sum(0)

    def compute(self) -> Tensor:
        """Mean per-image FSDS over everything seen (NaN when nothing was scored)."""
        self._report_excluded()
        return self.fsds_sum / self.total

    def reset(self) -> None:
        """Reset the states (and the count of excluded pairs already reported)."""
        super().reset()
        self._warned_excluded = 0

    def _report_excluded(self) -> None:
        """Warn once (global rank zero) about the pairs excluded since the last warning (one host read, at
        compute time)."""
        excluded = int(self.num_excluded)
        if excluded > getattr(self, "_warned_excluded", 0) and _global_rank() == 0:
            self._warned_excluded = excluded
            _warn_invalid(excluded, excluded + int(self.total), stacklevel=4)

    @property
    def band_frequencies(self) -> Tensor:
        """Centres ``(num_bands,)`` of the frequency bands, in Nyquist units, on the metric's device."""
        return frequency_bands(self.num_bands, device=self.band_sum.device, dtype=self.band_sum.dtype)[0]

    def _curve_from_states(self) -> Tensor:
        return self.band_sum / self.band_count

    def _synced(self) -> tuple[Tensor, Tensor]:
        """Dataset score and curve from the states synchronised across processes (a collective in DDP)."""
        if self._is_synced:
            return self.compute(), self._curve_from_states()
        with self.sync_context(
            dist_sync_fn=self.dist_sync_fn, should_sync=self._to_sync, should_unsync=self._should_unsync
        ):
            self._report_excluded()
            return self.fsds_sum / self.total, self._curve_from_states()

    def compute_with_curve(self) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """:meth:`compute` and :meth:`compute_curve` with one synchronisation of the states.

        A collective in DDP, like ``compute``: every rank must call it.

        Returns:
            ``(score, (frequencies, values))``.
        """
        score, curve = self._synced()
        return score, (self.band_frequencies, curve)

    def compute_curve(self) -> tuple[Tensor, Tensor]:
        """Dataset frequency-similarity curve.

        Synchronises the states across processes like ``compute`` does, so in DDP every rank must call it.

        Returns:
            ``(frequencies, values)``: band centres ``(num_bands,)`` in Nyquist units and the per-band mean
            FSDS in dB over the images seen, ``(num_bands,)`` (NaN for a band no image has scored).
        """
        return self.band_frequencies, self._synced()[1]

    def plot(
        self,
        val: tuple[Tensor, Tensor] | Tensor | None = None,
        ax: _AX_TYPE | None = None,
        scale: int | None = None,
    ) -> _PLOT_OUT_TYPE:
        """Plot a frequency-similarity curve: FSDS (dB) against radial frequency (Nyquist units).

        Args:
            val: a ``(frequencies, values)`` curve as returned by :meth:`compute_curve` or
                :func:`~hyra_lightning.functional.frequency_similarity_curve` (values ``(num_bands,)``, or
                ``(N, num_bands)`` for one line per image, or ``{name: (num_bands,)}`` for named curves with a
                legend), or only the values; by default the dataset curve of the metric's states. The
                drawing is :func:`plot_frequency_similarity`'s.
            ax: a matplotlib axis to draw into; a new figure is created when not given.
            scale: SR scale factor ``s``; when given, the LR Nyquist frequency ``1 / s`` is marked.

        Returns:
            ``(fig, ax)``.

        Raises:
            ValueError: if ``scale`` is not a positive integer, or ``val`` does not match ``num_bands``.

        Example:
            >>> import torch
            >>> from hyra_lightning.metrics import FrequencySpectrumDistributionSimilarity
            >>> metric = FrequencySpectrumDistributionSimilarity()
            >>> target = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
            >>> metric.update(target + 0.05 * torch.rand(2, 3, 64, 64), target)
            >>> fig, ax = metric.plot(scale=2)
        """
        check_int("scale", scale, optional=True)
        if val is None:
            freqs, values = self.compute_curve()
        elif isinstance(val, (Tensor, Mapping)):
            freqs, values = self.band_frequencies, val
        else:
            freqs, values = val
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        fig, ax = plot_frequency_similarity(freqs, values, scale=scale, ax=ax)
        return fig, ax


#: Short alias of :class:`FrequencySpectrumDistributionSimilarity`.
FSDS = FrequencySpectrumDistributionSimilarity
