"""The option vocabularies of the package, declared once.

Each ``Literal`` alias is what a signature uses (LightningCLI and jsonargparse read it, so ``--help`` lists
the choices and a YAML typo is rejected before anything runs); the tuple beside it holds the same values, for
:func:`hyra_lightning.checks.check_choice` and for documentation. A test checks that each tuple equals
``typing.get_args`` of its alias.

This module is on the ground floor: it imports nothing from the package.

Example:
    >>> from typing import get_args
    >>> from hyra_lightning.options import PROBE_MODES, ProbeMode
    >>> PROBE_MODES == get_args(ProbeMode)
    True
    >>> PROBE_MODES
    ('cross_channel', 'paper')
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "ACTIVATIONS",
    "ATTRIBUTION_PATHS",
    "BOUNDARIES",
    "COLOR_MODES",
    "FSDS_LOSS_FORMS",
    "FSDS_REFERENCES",
    "LOSSES",
    "LOSS_REDUCTIONS",
    "LOSS_TERMS",
    "MODEL_KINDS",
    "PROBE_MODES",
    "REDUCTIONS",
    "SCHEDULERS",
    "SCORE_PROTOCOLS",
    "TABLE_FORMATS",
    "WEIGHTS",
    "Y_ROUNDINGS",
    "Activation",
    "AttributionPath",
    "Boundary",
    "ColorMode",
    "FSDSLossForm",
    "FSDSReference",
    "Loss",
    "LossReduction",
    "LossTerm",
    "ModelKind",
    "ProbeMode",
    "Reduction",
    "Scheduler",
    "ScoreProtocol",
    "TableFormat",
    "Weights",
    "YRounding",
]

#: How an impulse probe excites the input channels: one impulse image per input channel
#: (``"cross_channel"``, the full ``C_out x C_in`` kernel bank) or the impulse in every channel of one image
#: (``"paper"``, as in Deng et al.).
ProbeMode = Literal["cross_channel", "paper"]
PROBE_MODES: tuple[str, ...] = get_args(ProbeMode)

#: Boundary handling of the linear part of HyRA: zero padding or reflection (the paper's).
Boundary = Literal["zero", "reflect"]
BOUNDARIES: tuple[str, ...] = get_args(Boundary)

#: Which image's spectrum FSDS takes as the reference: the HR target (default) or the SR prediction (the
#: paper's Table 1).
FSDSReference = Literal["target", "preds"]
FSDS_REFERENCES: tuple[str, ...] = get_args(FSDSReference)

#: How FSDS reduces over images: mean, sum, or one value per image.
Reduction = Literal["elementwise_mean", "sum", "none"]
REDUCTIONS: tuple[str, ...] = get_args(Reduction)

#: The pixel losses of :class:`~hyra_lightning.module.SuperResolutionModule` (its ``loss`` before terms could
#: be combined; every :data:`LossTerm` is accepted there now).
Loss = Literal["l1", "l2"]
LOSSES: tuple[str, ...] = get_args(Loss)

#: The terms a :class:`~hyra_lightning.module.SuperResolutionModule` loss is a weighted sum of: pixel L1 and
#: L2, and the frequency losses of :mod:`hyra_lightning.losses` (FSDS, L1 on the ``rfft2`` coefficients, focal
#: frequency loss).
LossTerm = Literal["l1", "l2", "fsds", "fft_l1", "focal_frequency"]
LOSS_TERMS: tuple[str, ...] = get_args(LossTerm)

#: What :class:`~hyra_lightning.losses.FSDSLoss` returns: the energy ratio ``10 ** (-FSDS / 10)`` or its dB,
#: ``-FSDS``.
FSDSLossForm = Literal["ratio", "db"]
FSDS_LOSS_FORMS: tuple[str, ...] = get_args(FSDSLossForm)

#: How a loss of :mod:`hyra_lightning.losses` reduces over images: mean, sum, or one value per image.
LossReduction = Literal["mean", "sum", "none"]
LOSS_REDUCTIONS: tuple[str, ...] = get_args(LossReduction)

#: Learning-rate schedule of :class:`~hyra_lightning.module.SRLightningModule`.
Scheduler = Literal["none", "step", "cosine"]
SCHEDULERS: tuple[str, ...] = get_args(Scheduler)

#: Activation of :class:`~hyra_lightning.models.ESPCN`.
Activation = Literal["tanh", "relu"]
ACTIVATIONS: tuple[str, ...] = get_args(Activation)

#: Colour mode of a bundled photograph: RGB or luminance.
ColorMode = Literal["RGB", "L"]
COLOR_MODES: tuple[str, ...] = get_args(ColorMode)

#: Where a model given to ``analyze`` / ``score`` comes from.
ModelKind = Literal["reference", "hyra-lightning", "spandrel"]
MODEL_KINDS: tuple[str, ...] = get_args(ModelKind)

#: Evaluation protocol of ``score``: the user's own options, or the paper's Table 1.
ScoreProtocol = Literal["custom", "paper"]
SCORE_PROTOCOLS: tuple[str, ...] = get_args(ScoreProtocol)

#: How the BT.601 luma is kept before PSNR and SSIM on Y: as a float (BasicSR's ``rgb2ycbcr``), or rounded to
#: an integer on the 0-255 scale (MATLAB's ``rgb2ycbcr`` on 8-bit images, and pyiqa's SSIM).
YRounding = Literal["float", "matlab"]
Y_ROUNDINGS: tuple[str, ...] = get_args(YRounding)

#: Output format of a score table: plain text or Markdown.
TableFormat = Literal["text", "md"]
TABLE_FORMATS: tuple[str, ...] = get_args(TableFormat)

#: The path of a local attribution map: from the blurred LR image to the LR image by shrinking the blur
#: (``"gaussian"``, Gu and Dong's progressive blur), or along the straight line between them (``"linear"``,
#: integrated gradients with the blurred image as baseline).
AttributionPath = Literal["gaussian", "linear"]
ATTRIBUTION_PATHS: tuple[str, ...] = get_args(AttributionPath)

#: Which weights a monitor probes when a weight-averaging callback (Lightning's ``WeightAveraging``, such as
#: ``EMAWeightAveraging``, or ``StochasticWeightAveraging``) is present: the averaged weights (``"averaged"``,
#: the live ones when there is no such callback or it has not averaged yet), the weights being trained
#: (``"live"``), or both (``"both"``: the averaged ones under the monitor's tags, the live ones under its
#: ``*_live/`` tags).
Weights = Literal["averaged", "live", "both"]
WEIGHTS: tuple[str, ...] = get_args(Weights)
