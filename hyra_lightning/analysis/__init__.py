"""Impulse-response probe, its descriptors, the HyRA decomposition, local attribution maps and display helpers
(pure torch)."""

from hyra_lightning.analysis.attribution import (
    LocalAttribution,
    box_footprint,
    default_box,
    diffusion_index,
    edge_energy,
    gaussian_blur,
    local_attribution,
)
from hyra_lightning.analysis.display import (
    crop_center,
    enlarge,
    hyra_panel,
    impulse_response_image,
    impulse_spectrum_image,
    label_panel,
    lam_panel,
    log_magnitude_spectrum,
    make_panel,
    signed_colormap,
)
from hyra_lightning.analysis.figures import fsds_band_map
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
    "LocalAttribution",
    "ProbeOptions",
    "box_footprint",
    "crop_center",
    "default_box",
    "describe_luminance",
    "diffusion_index",
    "edge_energy",
    "enlarge",
    "evaluation_context",
    "forward_in",
    "fsds_band_map",
    "full_precision",
    "gaussian_blur",
    "hyra_decompose",
    "hyra_panel",
    "impulse_response",
    "impulse_response_image",
    "impulse_spectrum_image",
    "infer_scale",
    "label_panel",
    "lam_panel",
    "linear_response",
    "local_attribution",
    "log_magnitude_spectrum",
    "magnitude_profiles",
    "make_panel",
    "phase_gains",
    "probe_dtype",
    "signed_colormap",
    "stopband_energy",
]
