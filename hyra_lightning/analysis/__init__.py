"""Impulse-response probe, its descriptors, the HyRA decomposition and display helpers (pure torch)."""

from hyra_lightning.analysis.display import (
    crop_center,
    enlarge,
    hyra_panel,
    impulse_response_image,
    log_magnitude_spectrum,
    make_panel,
    signed_colormap,
)
from hyra_lightning.analysis.hyra import HyRAResult, hyra_decompose, linear_response, stopband_energy
from hyra_lightning.analysis.impulse import (
    ImpulseDescriptors,
    ImpulseResponse,
    describe_luminance,
    evaluation_context,
    impulse_response,
    infer_scale,
    magnitude_profiles,
)
from hyra_lightning.analysis.precision import forward_in, full_precision, probe_dtype

__all__ = [
    "HyRAResult",
    "ImpulseDescriptors",
    "ImpulseResponse",
    "crop_center",
    "describe_luminance",
    "enlarge",
    "evaluation_context",
    "forward_in",
    "full_precision",
    "hyra_decompose",
    "hyra_panel",
    "impulse_response",
    "impulse_response_image",
    "infer_scale",
    "linear_response",
    "log_magnitude_spectrum",
    "magnitude_profiles",
    "make_panel",
    "probe_dtype",
    "signed_colormap",
    "stopband_energy",
]
