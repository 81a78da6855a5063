"""Impulse-response probe, its descriptors, the HyRA decomposition and display helpers (pure torch)."""

from hyra_lightning.analysis.display import (
    crop_center,
    enlarge,
    hyra_panel,
    impulse_response_image,
    impulse_spectrum_image,
    label_panel,
    log_magnitude_spectrum,
    make_panel,
    signed_colormap,
)
from hyra_lightning.analysis.figures import (
    fsds_band_map,
    hyra_figure,
    impulse_response_figure,
    impulse_spectrum_figure,
    phase_grid_caption,
)
from hyra_lightning.analysis.hyra import HyRAResult, hyra_decompose, linear_response, stopband_energy
from hyra_lightning.analysis.impulse import (
    ImpulseDescriptors,
    ImpulseResponse,
    ProbeOptions,
    describe_luminance,
    evaluation_context,
    impulse_response,
    infer_scale,
    magnitude_profiles,
    phase_gains,
)
from hyra_lightning.analysis.precision import forward_in, full_precision, probe_dtype

__all__ = [
    "HyRAResult",
    "ImpulseDescriptors",
    "ImpulseResponse",
    "ProbeOptions",
    "crop_center",
    "describe_luminance",
    "enlarge",
    "evaluation_context",
    "forward_in",
    "fsds_band_map",
    "full_precision",
    "hyra_decompose",
    "hyra_figure",
    "hyra_panel",
    "impulse_response",
    "impulse_response_figure",
    "impulse_response_image",
    "impulse_spectrum_figure",
    "impulse_spectrum_image",
    "infer_scale",
    "label_panel",
    "linear_response",
    "log_magnitude_spectrum",
    "magnitude_profiles",
    "make_panel",
    "phase_gains",
    "phase_grid_caption",
    "probe_dtype",
    "signed_colormap",
    "stopband_energy",
]
