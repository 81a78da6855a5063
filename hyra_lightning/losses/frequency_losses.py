"""``nn.Module`` wrappers of the frequency losses of :mod:`hyra_lightning.functional.frequency_losses`.

Each module validates its options once, in ``__init__``, and calls the function of the same name in
``forward(preds, target)``. The modules hold no parameters and no buffers.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn

from hyra_lightning.checks import check_bool, check_choice, check_float, check_int
from hyra_lightning.functional.frequency_losses import fft_l1_loss, focal_frequency_loss, fsds_loss
from hyra_lightning.options import (
    FSDS_LOSS_FORMS,
    FSDS_REFERENCES,
    LOSS_REDUCTIONS,
    LOSS_TERMS,
    FSDSLossForm,
    FSDSReference,
    LossReduction,
    LossTerm,
)

__all__ = ["FFTL1Loss", "FSDSLoss", "FocalFrequencyLoss", "loss_term", "loss_weights"]


class FSDSLoss(nn.Module):
    r"""FSDS as a training loss: ``10 ** (-FSDS / 10)`` (default) or ``-FSDS`` in dB; lower is better.

    The same computation as the FSDS metric (see :func:`~hyra_lightning.functional.fsds_loss` for the
    definition, and why the ratio is the default). FSDS normalises each image, so it ignores brightness and
    contrast: it is meant beside a pixel loss, for example ``l1 + 0.05 * fsds``, never alone.

    Args:
        form: ``"ratio"`` (default) or ``"db"``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` over the image pairs.
        reference: ``"target"`` (default) or ``"preds"``, the image whose integrated spectrum is the
            denominator.

    Example:
        >>> import torch
        >>> loss = FSDSLoss()
        >>> target = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
        >>> preds = target.clone().requires_grad_()
        >>> value = loss(preds, target)
        >>> value.backward()
        >>> float(value.detach()), float(preds.grad.abs().max())
        (0.0, 0.0)
    """

    def __init__(
        self,
        form: FSDSLossForm = "ratio",
        reduction: LossReduction = "mean",
        reference: FSDSReference = "target",
    ) -> None:
        super().__init__()
        self.form = check_choice("form", form, FSDS_LOSS_FORMS)
        self.reduction = check_choice("reduction", reduction, LOSS_REDUCTIONS)
        self.reference = check_choice("reference", reference, FSDS_REFERENCES)

    def forward(self, preds: Tensor, target: Tensor) -> Tensor:
        """The loss of ``preds`` against ``target``, ``(N, C, H, W)`` or ``(C, H, W)``."""
        return fsds_loss(preds, target, self.form, self.reduction, self.reference)

    def extra_repr(self) -> str:
        return f"form={self.form!r}, reduction={self.reduction!r}, reference={self.reference!r}"


class FFTL1Loss(nn.Module):
    """L1 on the stacked real and imaginary parts of ``rfft2(preds - target, norm="ortho")``.

    See :func:`~hyra_lightning.functional.fft_l1_loss`.

    Args:
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` over the images.

    Example:
        >>> import torch
        >>> FFTL1Loss()(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4))
        tensor(0.)
    """

    def __init__(self, reduction: LossReduction = "mean") -> None:
        super().__init__()
        self.reduction = check_choice("reduction", reduction, LOSS_REDUCTIONS)

    def forward(self, preds: Tensor, target: Tensor) -> Tensor:
        """The loss of ``preds`` against ``target``, ``(N, C, H, W)`` or ``(C, H, W)``."""
        return fft_l1_loss(preds, target, self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class FocalFrequencyLoss(nn.Module):
    """Focal frequency loss (Jiang et al., ICCV 2021): squared spectral distance, weighted by the detached and
    normalised ``|F_p - F_t| ** alpha``.

    See :func:`~hyra_lightning.functional.focal_frequency_loss` for the definition and the options.

    Args:
        alpha: exponent of the weight (default 1).
        patch_factor: cut each image into ``patch_factor x patch_factor`` patches (default 1).
        ave_spectrum: compare batch-averaged spectra.
        log_matrix: weight with ``log(1 + |F_p - F_t| ** alpha)``.
        batch_matrix: normalise the weight over the whole batch.

    Example:
        >>> import torch
        >>> FocalFrequencyLoss(alpha=1.0, patch_factor=2)
        FocalFrequencyLoss(alpha=1.0, patch_factor=2, ave_spectrum=False, log_matrix=False, batch_matrix=False)
    """

    def __init__(
        self,
        alpha: float = 1.0,
        patch_factor: int = 1,
        ave_spectrum: bool = False,
        log_matrix: bool = False,
        batch_matrix: bool = False,
    ) -> None:
        super().__init__()
        self.alpha = float(check_float("alpha", alpha, minimum=0))
        self.patch_factor = check_int("patch_factor", patch_factor)
        self.ave_spectrum = check_bool("ave_spectrum", ave_spectrum)
        self.log_matrix = check_bool("log_matrix", log_matrix)
        self.batch_matrix = check_bool("batch_matrix", batch_matrix)

    def forward(self, preds: Tensor, target: Tensor) -> Tensor:
        """The loss of ``preds`` against ``target``, ``(N, C, H, W)`` or ``(C, H, W)``."""
        return focal_frequency_loss(
            preds,
            target,
            self.alpha,
            self.patch_factor,
            self.ave_spectrum,
            self.log_matrix,
            self.batch_matrix,
        )

    def extra_repr(self) -> str:
        return (
            f"alpha={self.alpha}, patch_factor={self.patch_factor}, ave_spectrum={self.ave_spectrum}, "
            f"log_matrix={self.log_matrix}, batch_matrix={self.batch_matrix}"
        )


def loss_term(name: LossTerm) -> nn.Module:
    """The loss module of a term name of :data:`~hyra_lightning.options.LOSS_TERMS`, with its default options.

    ``"l1"`` and ``"l2"`` are ``nn.L1Loss()`` and ``nn.MSELoss()``; ``"fsds"``, ``"fft_l1"`` and
    ``"focal_frequency"`` are :class:`FSDSLoss`, :class:`FFTL1Loss` and :class:`FocalFrequencyLoss`.

    Raises:
        ValueError: for a name that is not a term, naming the terms.

    Example:
        >>> loss_term("fft_l1")
        FFTL1Loss(reduction='mean')
    """
    check_choice("loss term", name, LOSS_TERMS)
    factories: dict[str, type[nn.Module]] = {
        "l1": nn.L1Loss,
        "l2": nn.MSELoss,
        "fsds": FSDSLoss,
        "fft_l1": FFTL1Loss,
        "focal_frequency": FocalFrequencyLoss,
    }
    return factories[name]()


def loss_weights(loss: str | Mapping[str, float]) -> dict[str, float]:
    """The ``{term: weight}`` of a loss given as a term name or a mapping from term names to weights.

    A name means that term with weight 1 (``"l1"`` is ``{"l1": 1.0}``). Terms are those of
    :data:`~hyra_lightning.options.LOSS_TERMS`; weights are non-negative finite numbers, at least one of them
    positive.

    Raises:
        ValueError: for an unknown term (the message lists the known ones), a negative or non-finite weight,
            an empty mapping or only zero weights.
        TypeError: for a value that is neither a string nor a mapping.

    Example:
        >>> loss_weights("l1")
        {'l1': 1.0}
        >>> loss_weights({"l1": 1, "fsds": 0.05})
        {'l1': 1.0, 'fsds': 0.05}
    """
    if isinstance(loss, str):
        check_choice("loss", loss, LOSS_TERMS)
        return {loss: 1.0}
    if not isinstance(loss, Mapping):
        raise TypeError(
            f"Expected `loss` to be a term name or a mapping from term names to weights, such as "
            f"{{'l1': 1.0, 'fsds': 0.05}}, got {loss!r}. Known terms: {LOSS_TERMS}."
        )
    weights: dict[str, float] = {}
    for name, weight in loss.items():
        if name not in LOSS_TERMS:
            raise ValueError(f"Expected every term of `loss` to be one of {LOSS_TERMS}, got {name!r}.")
        try:
            check_float(f"loss[{name!r}]", weight, minimum=0)
        except ValueError as err:
            raise ValueError(
                f"{err} A term's weight is a non-negative number; known terms: {LOSS_TERMS}."
            ) from None
        weights[name] = float(weight)
    if not any(w > 0 for w in weights.values()):
        raise ValueError(
            f"Expected `loss` to give at least one term a positive weight, got {dict(loss)!r}. "
            f"Known terms: {LOSS_TERMS}."
        )
    return weights
