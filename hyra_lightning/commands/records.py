"""The records of ``hyra-lightning analyze``: what it measured, handed from the analysis to the report.

:class:`AnalysisSettings` holds every setting of a run (the probe's :class:`~hyra_lightning.analysis.ProbeOptions`
and the image settings); :class:`AnalysedModel` and :class:`AnalysedImage` what one model gave;
:class:`ReferenceProbe` the bicubic and windowed-sinc references at one scale, probed once and used by the
comparison table and by every figure. :func:`json_safe` is the strict-JSON form both commands write.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from hyra_lightning.checks import check_choice, check_int
from hyra_lightning.options import BOUNDARIES, Boundary

if TYPE_CHECKING:
    from hyra_lightning.analysis import ImpulseResponse, ProbeOptions

__all__ = [
    "AnalysedImage",
    "AnalysedModel",
    "AnalysisSettings",
    "ReferenceProbe",
    "json_safe",
    "response_radius",
]

#: How the LR images are made from the HR crops (as the data module makes them).
LR_DEGRADATION = "bicubic_antialias"


@dataclass(frozen=True)
class AnalysisSettings:
    """The settings of one ``analyze`` run, validated once.

    Attributes:
        probe: the impulse probe's options (``size``, ``amplitude``, ``background``, ...); ``scale``,
            ``in_channels`` and ``dtype`` are filled in per model.
        boundary: HyRA boundary of the linear part, ``"reflect"`` (the paper's) or ``"zero"``.
        max_size: HR crops of at most ``max_size x max_size`` pixels (centred).
        num_bands: bands of the frequency-similarity curves.
        lam: draw a local attribution map of every model (``--lam``).
        lam_box: ``(y, x)`` HR position of the attributed box (``--lam-box``); ``None``: :func:`default_box` of
            the first image, per scale.
    """

    probe: ProbeOptions
    boundary: Boundary = "reflect"
    max_size: int = 256
    num_bands: int = 16
    lam: bool = False
    lam_box: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        check_choice("--boundary", self.boundary, BOUNDARIES)
        check_int("--max-size", self.max_size, minimum=2)
        check_int("--num-bands", self.num_bands)
        if self.lam_box is not None:
            box = self.lam_box
            if len(box) != 2 or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in box
            ):
                raise ValueError(
                    f"Expected `--lam-box` to be two integers Y X >= 0 (the HR position of the box), got {box!r}."
                )

    def as_json(self) -> dict[str, Any]:
        """The ``probe`` section of ``report.json``."""
        p = self.probe
        return {
            "size": p.size,
            "amplitude": float(p.amplitude),
            "background": float(p.background),
            "baseline": p.baseline,
            "mode": p.mode,
            "boundary": self.boundary,
            "max_size": self.max_size,
            "num_bands": self.num_bands,
            "lr_degradation": LR_DEGRADATION,
            "crop_border": "scale",
        }


@dataclass
class ReferenceProbe:
    """The reference upsamplers at one scale, each probed once (float64) with the run's probe options.

    Attributes:
        scale: the upsampling factor.
        responses: ``{"bicubic": ImpulseResponse, "sinc": ImpulseResponse}``.
    """

    scale: int
    responses: dict[str, ImpulseResponse]

    def descriptors(self) -> dict[str, dict[str, float]]:
        """``{"bicubic": {...}, "sinc": {...}}`` descriptors of the references."""
        return {key: r.describe().as_dict() for key, r in self.responses.items()}


@dataclass
class AnalysedImage:
    """HyRA and scores of one model on one image (the tensors are kept for the figures).

    ``scores`` and ``bicubic`` and the two curves are measured on the same crop (``scale`` pixels per side
    removed), so the curves' band sums give back the FSDS of ``scores`` and ``bicubic``.
    """

    name: str
    crop: tuple[int, int]
    hyra: dict[str, float]
    scores: dict[str, float]
    bicubic: dict[str, float]
    curve: list[float]
    bicubic_curve: list[float]
    panel: Tensor


@dataclass
class AnalysedModel:
    """Everything measured on one model (``error`` set when it could not be loaded or probed).

    ``sha256`` is the hash of the checkpoint file's bytes (``None`` for a reference), the key ``--resume`` reuses
    a result by; ``lam`` the ``{"di", "box", "completeness_error"}`` of ``--lam`` and ``lam_panel`` its picture.
    """

    name: str
    source: str
    architecture: str | None = None
    kind: str | None = None
    scale: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    sha256: str | None = None
    response: ImpulseResponse | None = None
    descriptors: dict[str, float] = field(default_factory=dict)
    images: list[AnalysedImage] = field(default_factory=list)
    image_errors: list[dict[str, str]] = field(default_factory=list)
    lam: dict[str, Any] | None = None
    lam_panel: Tensor | None = None

    def mean(self, attr: str) -> dict[str, float]:
        """Mean over the analysed images of the dict attribute ``attr`` (``hyra``, ``scores``, ``bicubic``)."""
        if not self.images:
            return {}
        keys = getattr(self.images[0], attr).keys()
        out = {}
        for k in keys:
            vals = [getattr(img, attr)[k] for img in self.images if math.isfinite(getattr(img, attr)[k])]
            out[k] = float(sum(vals) / len(vals)) if vals else math.nan
        return out

    def mean_curve(self, attr: str) -> list[float]:
        """Per-band mean over images of ``curve`` or ``bicubic_curve`` (NaN bands left out)."""
        if not self.images:
            return []
        curves = torch.tensor([getattr(img, attr) for img in self.images], dtype=torch.float64)
        finite = torch.isfinite(curves)
        total = torch.where(finite, curves, torch.zeros_like(curves)).sum(0)
        count = finite.sum(0)
        return [float(t / c) if c > 0 else math.nan for t, c in zip(total, count, strict=True)]


def response_radius(size: int) -> int:
    """LR pixels shown on each side of the centre in a model's impulse-response figure (probe size ``size``)."""
    return min(4, size // 2)


def json_safe(obj: Any) -> Any:
    """``obj`` with NaN and infinities replaced by None, recursively, so that it is strict JSON.

    Example:
        >>> json_safe({"a": [1.0, float("nan")], "b": float("inf")})
        {'a': [1.0, None], 'b': None}
    """
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj
