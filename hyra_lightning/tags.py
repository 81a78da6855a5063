"""Every tag the package writes to a logger, declared once: used by the monitors, the LightningModule, the tests
and the README's tag table (a test checks that the table lists exactly :data:`DOCUMENTED_TAGS`).

Ground floor: imports nothing of the package. Names with a variable part are functions
(:func:`impulse_scalar`, :func:`hyra_sample`, :func:`fsds_band`, ...); their documented spellings
(``hyra/sample_<i>``, ``fsds/band_<kk>``) are in :data:`DOCUMENTED_TAGS`.

Example:
    >>> fsds_band(3), hyra_sample(0), impulse_scalar("dc_gain")
    ('fsds/band_03', 'hyra/sample_0', 'impulse/dc_gain')
"""

from __future__ import annotations

__all__ = [
    "DOCUMENTED_TAGS",
    "FSDS_BAND_MAP",
    "FSDS_BAND_PATTERN",
    "FSDS_CURVE",
    "FSDS_PREFIX",
    "FSDS_VAL",
    "HYRA_LIVE_PREFIX",
    "HYRA_PREFIX",
    "HYRA_SCALARS",
    "IMPULSE_LIVE_PREFIX",
    "IMPULSE_PREFIX",
    "IMPULSE_PROFILE",
    "IMPULSE_READING_SCALARS",
    "IMPULSE_RESPONSE",
    "IMPULSE_SCALARS",
    "IMPULSE_SPECTRUM",
    "LAM_DI",
    "LAM_MAP",
    "LAM_PREFIX",
    "MODULE_SCALARS",
    "TRAIN_LOSS",
    "band_tag",
    "fsds_band",
    "hyra_sample",
    "hyra_scalar",
    "impulse_scalar",
    "live_tag",
    "train_loss_term",
]

# ------------------------------------------------------------------------------------ ImpulseResponseMonitor

IMPULSE_PREFIX = "impulse"
#: The descriptors of ``ImpulseResponse.describe()`` logged at every probe, as ``impulse/<name>``.
IMPULSE_SCALARS: tuple[str, ...] = (
    "dc_gain",
    "cutoff",
    "cutoff_h",
    "cutoff_v",
    "anisotropy",
    "sinc_similarity",
    "negative_lobe",
    "stopband_leakage",
    "phase_gain_spread",
)
#: The reading errors of the probe (``impulse/linearity_error``, ``impulse/repeatability_error`` and their
#: ingredients and sibling), logged at every probe beside the descriptors.
IMPULSE_READING_SCALARS: tuple[str, ...] = (
    "linearity_error",
    "repeatability_error",
    "homogeneity_error",
    "superposition_error",
    "shift_variance",
)
IMPULSE_RESPONSE = "impulse/response"
IMPULSE_SPECTRUM = "impulse/spectrum"
IMPULSE_PROFILE = "impulse/profile"
#: The prefix of the readings of the live weights (``weights="both"``): ``impulse_live/<name>`` and the three
#: pictures, beside the readings of the averaged weights under ``impulse/``.
IMPULSE_LIVE_PREFIX = "impulse_live"

# ------------------------------------------------------------------------------------------------ HyRAMonitor

HYRA_PREFIX = "hyra"
#: The prefix of the readings of the live weights (``weights="both"``): ``hyra_live/<name>``,
#: ``hyra_live/sample_<i>``.
HYRA_LIVE_PREFIX = "hyra_live"
#: The scalars of ``HyRAResult.scalars()``, logged as ``hyra/<name>`` (the ``fsds_*`` ones with HR images).
HYRA_SCALARS: tuple[str, ...] = (
    "nonlinear_energy_ratio",
    "hf_injection",
    "fsds_linear",
    "fsds_sr",
    "fsds_gain",
)

# ---------------------------------------------------------------------------------- FrequencySimilarityMonitor

FSDS_PREFIX = "fsds"
FSDS_VAL = "fsds/val"
FSDS_CURVE = "fsds/curve"
FSDS_BAND_MAP = "fsds/band_map"
#: The regular expression of every ``fsds/band_<kk>`` tag (the custom-scalars chart).
FSDS_BAND_PATTERN = r"fsds/band_\d+"

# ---------------------------------------------------------------------------------- LocalAttributionMonitor

LAM_PREFIX = "lam"
#: The diffusion index of the attributed box.
LAM_DI = "lam/di"
#: The panel of the local attribution map.
LAM_MAP = "lam/map"

# ------------------------------------------------------------------------------------ SuperResolutionModule

#: The total training loss of ``SuperResolutionModule``.
TRAIN_LOSS = "train/loss"
#: What ``SuperResolutionModule`` logs itself (``val/...``; ``test/...`` likewise under ``trainer.test``), besides
#: one ``train/loss_<term>`` per loss term (:func:`train_loss_term`).
MODULE_SCALARS: tuple[str, ...] = (TRAIN_LOSS, "val/loss", "val/psnr", "val/ssim", "val/fsds")


def train_loss_term(name: str) -> str:
    """``train/loss_<name>``: the unweighted value of one loss term of ``SuperResolutionModule``.

    Example:
        >>> train_loss_term("fsds")
        'train/loss_fsds'
    """
    return f"{TRAIN_LOSS}_{name}"


def impulse_scalar(name: str) -> str:
    """``impulse/<name>``."""
    return f"{IMPULSE_PREFIX}/{name}"


def hyra_scalar(name: str) -> str:
    """``hyra/<name>``."""
    return f"{HYRA_PREFIX}/{name}"


def hyra_sample(index: int) -> str:
    """``hyra/sample_<index>``: the panel of the analysed image ``index``."""
    return f"{HYRA_PREFIX}/sample_{index}"


def live_tag(tag: str) -> str:
    """The tag of the same reading made on the live weights: ``<prefix>_live/<rest>``.

    Example:
        >>> live_tag("impulse/cutoff"), live_tag("hyra/sample_0")
        ('impulse_live/cutoff', 'hyra_live/sample_0')
    """
    prefix, _, rest = tag.partition("/")
    return f"{prefix}_live/{rest}"


def band_tag(index: int) -> str:
    """Name of band ``index`` under a prefix: ``band_<kk>``, ``kk`` zero-padded to two digits.

    Example:
        >>> band_tag(3)
        'band_03'
    """
    return f"band_{index:02d}"


def fsds_band(index: int) -> str:
    """``fsds/band_<kk>``: the dataset FSDS of band ``index``."""
    return f"{FSDS_PREFIX}/{band_tag(index)}"


#: Every tag as the README's tag table spells it (the variable parts as ``<i>`` and ``<kk>``).
DOCUMENTED_TAGS: tuple[str, ...] = (
    *MODULE_SCALARS,
    train_loss_term("<term>"),
    *(impulse_scalar(name) for name in IMPULSE_SCALARS + IMPULSE_READING_SCALARS),
    IMPULSE_RESPONSE,
    IMPULSE_SPECTRUM,
    IMPULSE_PROFILE,
    *(hyra_scalar(name) for name in HYRA_SCALARS),
    f"{HYRA_PREFIX}/sample_<i>",
    f"{IMPULSE_LIVE_PREFIX}/<name>",
    live_tag(IMPULSE_RESPONSE),
    live_tag(IMPULSE_SPECTRUM),
    live_tag(IMPULSE_PROFILE),
    f"{HYRA_LIVE_PREFIX}/<name>",
    f"{HYRA_LIVE_PREFIX}/sample_<i>",
    FSDS_VAL,
    f"{FSDS_PREFIX}/band_<kk>",
    FSDS_CURVE,
    FSDS_BAND_MAP,
    LAM_DI,
    LAM_MAP,
)
