"""The ground-floor guards are applied across the layers: one message format, and a bool is not a number.

Each call below passes an invalid value to a public function or class of a different layer; the error must
name the argument in the guards' one format ("Expected `name` to be ..., got <repr>.").
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hyra_lightning.analysis import (
    ProbeOptions,
    diffusion_index,
    hyra_decompose,
    impulse_response,
    local_attribution,
)
from hyra_lightning.analysis.display import hyra_panel, log_magnitude_spectrum, make_panel, signed_colormap
from hyra_lightning.analysis.figures import fsds_band_map
from hyra_lightning.commands import run_command
from hyra_lightning.data import SRDataModule, load_photo
from hyra_lightning.functional import frequency_similarity_curve, fsds
from hyra_lightning.functional.image_scores import ssim_valid
from hyra_lightning.metrics import FrequencySpectrumDistributionSimilarity
from hyra_lightning.models import EDSR, ESPCN, BicubicUpsampler, SincUpsampler
from hyra_lightning.module import SuperResolutionModule
from hyra_lightning.spectral import zero_insert

X = torch.rand(1, 3, 16, 16)

CASES = {
    # a bool where a number is expected (accepted by the old inline checks)
    "ssim data_range=True": (lambda: ssim_valid(X, X, data_range=True), "data_range"),
    "module lr=True": (lambda: SuperResolutionModule(BicubicUpsampler(2), 2, lr=True), "lr"),
    "module gamma=True": (lambda: SuperResolutionModule(BicubicUpsampler(2), 2, gamma=True), "gamma"),
    "edsr res_scale=True": (lambda: EDSR(scale=2, n_resblocks=1, n_feats=8, res_scale=True), "res_scale"),
    "sinc beta=True": (lambda: SincUpsampler(2, beta=True), "beta"),
    "spectrum reference=True": (lambda: log_magnitude_spectrum(X[0], reference=True), "reference"),
    "colormap vmax=True": (lambda: signed_colormap(X[0, 0], vmax=True), "vmax"),
    "band map vmin=True": (lambda: fsds_band_map(torch.rand(2, 4), steps=[0, 1], vmin=True), "vmin"),
    "zero_insert scale=2.0": (lambda: zero_insert(X, 2.0), "scale"),
    # the other guards, one per layer
    "curve num_bands=True": (lambda: frequency_similarity_curve(X, X, num_bands=True), "num_bands"),
    "fsds reduction": (lambda: fsds(X, X, reduction="mean"), "reduction"),
    "metric reference": (lambda: FrequencySpectrumDistributionSimilarity(reference="sr"), "reference"),
    "probe mode": (lambda: impulse_response(BicubicUpsampler(2), mode="cross"), "mode"),
    "probe checks=1": (lambda: ProbeOptions(checks=1), "checks"),
    "hyra boundary": (lambda: hyra_decompose(BicubicUpsampler(2), X, boundary="mirror"), "boundary"),
    "lam window=True": (lambda: local_attribution(BicubicUpsampler(2), X, (0, 0), window=True), "window"),
    "lam path": (lambda: local_attribution(BicubicUpsampler(2), X, (0, 0), path="straight"), "path"),
    "diffusion map": (lambda: diffusion_index(-X), "map"),
    "panel gap=-1": (lambda: make_panel([[X[0]]], gap=-1), "gap"),
    "espcn activation": (lambda: ESPCN(2, activation="gelu"), "activation"),
    "module loss": (lambda: SuperResolutionModule(BicubicUpsampler(2), 2, loss="l3"), "loss"),
    "module crop_border": (
        lambda: SuperResolutionModule(BicubicUpsampler(2), 2, crop_border=-1),
        "crop_border",
    ),
    "data patch_size": (lambda: SRDataModule(scale=2, patch_size=0), "patch_size"),
    "photo mode": (lambda: load_photo("camera", mode="YCbCr"), "mode"),
    "photo name": (lambda: load_photo("lena"), "name"),
    "command name": (lambda: run_command("train", []), "name"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_invalid_arguments_are_named_in_one_format(case):
    call, name = CASES[case]
    with pytest.raises(ValueError, match=rf"^Expected `{name}` to be .+, got .+\.$"):
        call()


def test_hyra_panel_index_accepts_negative_indices_only_within_the_batch():
    result = hyra_decompose(BicubicUpsampler(2), X, options=ProbeOptions(size=9))
    assert hyra_panel(result, -1).shape == hyra_panel(result, 0).shape
    with pytest.raises(ValueError, match=r"^Expected `index` to be an integer in \[-1, 0\], got 1\.$"):
        hyra_panel(result, 1)


def test_type_errors_keep_their_type():
    with pytest.raises(TypeError, match=r"^Expected `model` to be a torch\.nn\.Module, got str\.$"):
        SuperResolutionModule("edsr", 2)
    with pytest.raises(TypeError, match=r"^Expected `response` to be an ImpulseResponse, got dict\.$"):
        hyra_decompose(nn.Identity(), X, response={})
