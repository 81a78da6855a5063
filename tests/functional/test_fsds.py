"""FSDS functional and frequency-similarity curve, against an independent float64 NumPy implementation."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import hyra_lightning.functional.frequency_similarity as fs
from hyra_lightning.data import PHOTO_NAMES, load_photo
from hyra_lightning.functional import (
    frequency_bands,
    frequency_similarity_curve,
    frequency_spectrum_distribution_similarity,
    fsds,
)

#: Many small transforms: one torch thread keeps them fast on a busy runner (see ``one_thread`` in conftest).
pytestmark = pytest.mark.usefixtures("one_thread")


# --------------------------------------------------------------------------------------------------------
# reference implementation, written from the definition (one image at a time, float64, NumPy)
# --------------------------------------------------------------------------------------------------------


def _np_integrated_halves(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """D(x) of one C x H x W image: normalise, pad an odd height, rfft2, split, cumulate rows then columns."""
    x = (image - image.mean()) / image.std(ddof=1)
    if x.shape[1] % 2:
        x = np.concatenate([x, np.zeros((x.shape[0], 1, x.shape[2]))], axis=1)
    spectrum = np.fft.rfft2(x, axes=(-2, -1))
    half = spectrum.shape[1] // 2
    p_half = spectrum[:, :half]
    q_half = spectrum[:, half:][:, ::-1]
    return tuple(np.cumsum(np.cumsum(h, axis=1), axis=2) for h in (p_half, q_half))


def _np_band_of_coefficients(padded_height: int, width: int, num_bands: int) -> tuple[np.ndarray, np.ndarray]:
    """Band index of every coefficient of the P and Q halves, from the radial frequency of the definition."""
    edges = np.linspace(0.0, math.sqrt(2.0), num_bands + 1)
    k = np.arange(padded_height // 2)
    fx = np.arange(width // 2 + 1) / width
    out = []
    for fy in (k / padded_height, (k + 1) / padded_height):
        rho = 2.0 * np.sqrt(fx[None, :] ** 2 + fy[:, None] ** 2)
        # bands are [edge_b, edge_b+1), the last one closed; a coefficient on an edge goes to the upper band
        band = np.searchsorted(edges, rho + 1e-9 * edges[1], side="right") - 1
        out.append(np.clip(band, 0, num_bands - 1))
    return out[0], out[1]


def np_fsds(preds: np.ndarray, target: np.ndarray, reference: str = "target", num_bands: int | None = None):
    """Per-image FSDS (N,) and, with ``num_bands``, per-image curves (N, num_bands), in float64."""
    scores, curves = [], []
    for p, t in zip(np.asarray(preds, np.float64), np.asarray(target, np.float64), strict=True):
        dp, dt = _np_integrated_halves(p), _np_integrated_halves(t)
        dr = dt if reference == "target" else dp
        num = [np.abs(a - b) ** 2 for a, b in zip(dp, dt, strict=True)]
        den = [np.abs(r) ** 2 for r in dr]
        scores.append(-10 * np.log10(sum(n.sum() for n in num) / sum(d.sum() for d in den)))
        if num_bands is not None:
            bands = _np_band_of_coefficients(2 * dp[0].shape[1], t.shape[-1], num_bands)
            band_num, band_den = np.zeros(num_bands), np.zeros(num_bands)
            for n, d, b in zip(num, den, bands, strict=True):
                np.add.at(band_num, b, n.sum(0))
                np.add.at(band_den, b, d.sum(0))
            with np.errstate(divide="ignore", invalid="ignore"):
                curves.append(-10 * np.log10(band_num / band_den))
    return np.array(scores), (np.array(curves) if num_bands is not None else None)


# --------------------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------------------


def bicubic_pair(hr: torch.Tensor, scale: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(SR, HR): HR cropped to a multiple of ``scale``, downsampled with antialias, upsampled back bicubic."""
    height, width = hr.shape[-2:]
    hr = hr[..., : height - height % scale, : width - width % scale]
    lr = F.interpolate(hr[None], scale_factor=1 / scale, mode="bicubic", antialias=True, align_corners=False)
    sr = F.interpolate(lr, size=hr.shape[-2:], mode="bicubic", align_corners=False)
    return sr[0], hr


@pytest.fixture(scope="module")
def photo_pairs() -> dict[tuple[str, int], tuple[torch.Tensor, torch.Tensor]]:
    """(SR, HR) of every photograph at x2, x3, x4, from its central 250 x 251 crop (keeps the tests fast).

    The crops for x3 are 249 x 249: odd heights and widths are covered.
    """
    pairs = {}
    for name in PHOTO_NAMES:
        hr = load_photo(name, dtype=torch.float64)
        top, left = (hr.shape[-2] - 250) // 2, (hr.shape[-1] - 251) // 2
        hr = hr[:, top : top + 250, left : left + 251]
        for scale in (2, 3, 4):
            pairs[name, scale] = bicubic_pair(hr, scale)
    return pairs


@pytest.fixture(scope="module")
def photo_reference(photo_pairs) -> dict[str, np.ndarray]:
    """NumPy FSDS of every photograph pair, for both references."""
    out = {}
    for reference in ("target", "preds"):
        out[reference] = np.array(
            [np_fsds(sr[None].numpy(), hr[None].numpy(), reference)[0][0] for sr, hr in photo_pairs.values()]
        )
    return out


def random_pair(shape, seed=0, noise=0.1, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    target = torch.rand(shape, generator=gen, dtype=dtype)
    preds = target + noise * torch.randn(shape, generator=gen, dtype=dtype)
    return preds, target


# --------------------------------------------------------------------------------------------------------
# parity
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reference", ["target", "preds"])
def test_parity_bicubic_photographs(photo_pairs, photo_reference, reference):
    ours = np.array([fsds(sr, hr, reference=reference).item() for sr, hr in photo_pairs.values()])
    np.testing.assert_allclose(ours, photo_reference[reference], rtol=0, atol=1e-4)
    # Sanity against the paper (bicubic on DIV2K: 32.79 / 28.90 / 26.57 dB at x2 / x3 / x4): the score drops
    # with the scale factor on average, and the smoother photographs score 30 dB or more at x2.
    keys = list(photo_pairs)
    by_scale = {s: ours[[i for i, (_, sc) in enumerate(keys) if sc == s]].mean() for s in (2, 3, 4)}
    assert by_scale[2] > by_scale[3] > by_scale[4]
    for name in ("astronaut", "camera"):
        assert 30.0 < ours[keys.index((name, 2))] < 45.0


def test_parity_bicubic_photographs_float32(photo_pairs, photo_reference):
    """float32 inputs are computed in float32: close to the float64 reference, not bit-exact."""
    ours = []
    for sr, hr in photo_pairs.values():
        ours.append(fsds(sr.float(), hr.float()))
        assert ours[-1].dtype == torch.float32
    # the reference was computed on the float64 images, which float32 rounds at the 1e-8 level
    np.testing.assert_allclose(torch.stack(ours).numpy(), photo_reference["target"], rtol=0, atol=1e-3)


@pytest.mark.parametrize("reference", ["target", "preds"])
@pytest.mark.parametrize(
    "shape", [(3, 3, 16, 16), (2, 3, 17, 16), (2, 3, 16, 17), (2, 1, 15, 23), (1, 2, 2, 2)]
)
def test_parity_random_odd_and_even_sizes(shape, reference):
    preds, target = random_pair(shape, seed=sum(shape))
    expected, _ = np_fsds(preds.numpy(), target.numpy(), reference)
    ours = fsds(preds, target, reduction="none", reference=reference)
    np.testing.assert_allclose(ours.numpy(), expected, rtol=0, atol=1e-4)
    assert fsds(preds, target, reference=reference).item() == pytest.approx(expected.mean(), abs=1e-4)
    assert fsds(preds, target, "sum", reference).item() == pytest.approx(expected.sum(), abs=1e-4)


@pytest.mark.parametrize("reference", ["target", "preds"])
@pytest.mark.parametrize(
    ("shape", "num_bands"), [((2, 3, 24, 24), 16), ((2, 3, 25, 18), 7), ((1, 2, 31, 33), 1)]
)
def test_curve_parity(shape, num_bands, reference):
    preds, target = random_pair(shape, seed=num_bands)
    _, expected = np_fsds(preds.numpy(), target.numpy(), reference, num_bands)
    freqs, values = frequency_similarity_curve(preds, target, num_bands, "none", reference)
    assert values.shape == (shape[0], num_bands)
    np.testing.assert_allclose(values.numpy(), expected, rtol=0, atol=1e-4)
    torch.testing.assert_close(freqs, frequency_bands(num_bands, dtype=torch.float64)[0])
    mean_freqs, mean_values = frequency_similarity_curve(preds, target, num_bands, reference=reference)
    np.testing.assert_allclose(mean_values.numpy(), expected.mean(0), rtol=0, atol=1e-4)
    assert mean_freqs.shape == (num_bands,)


def test_curve_parity_on_a_photograph(photo_pairs):
    """Bicubic keeps the LR passband and loses the rest: on a natural photograph the curve falls with frequency."""
    sr, hr = photo_pairs["coffee", 3]
    _, expected = np_fsds(sr[None].numpy(), hr[None].numpy(), num_bands=8)
    _, values = frequency_similarity_curve(sr, hr, num_bands=8, reduction="none")
    np.testing.assert_allclose(values.numpy(), expected, rtol=0, atol=1e-4)
    assert values[0, 0] > values[0, -1] + 10


# --------------------------------------------------------------------------------------------------------
# identities and properties
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 3, 20, 20), (2, 3, 21, 19)])
@pytest.mark.parametrize("num_bands", [1, 5, 16])
def test_curve_pooling_identity(shape, num_bands):
    """Summing the band numerators and denominators gives back the scalar FSDS of every image."""
    preds, target = random_pair(shape)
    for reference in ("target", "preds"):
        num, den, valid, band_num, band_den = fs._fsds_update(preds, target, reference, num_bands)
        torch.testing.assert_close(band_num.sum(1), num, rtol=1e-12, atol=0)
        torch.testing.assert_close(band_den.sum(1), den, rtol=1e-12, atol=0)
        pooled = -10 * torch.log10(band_num.sum(1) / band_den.sum(1))
        torch.testing.assert_close(pooled, fsds(preds, target, "none", reference), rtol=0, atol=1e-10)
        assert valid.all()


def test_invariant_to_affine_intensity_change():
    preds, target = random_pair((2, 3, 18, 21))
    base = fsds(preds, target, "none")
    torch.testing.assert_close(fsds(3.0 * preds - 7.0, 0.5 * target + 2.0, "none"), base, rtol=0, atol=1e-9)


def test_reference_preds_is_target_with_swapped_inputs():
    preds, target = random_pair((2, 3, 16, 17))
    torch.testing.assert_close(
        fsds(preds, target, "none", "preds"), fsds(target, preds, "none", "target"), rtol=0, atol=1e-12
    )


def test_identical_images_score_plus_inf():
    _, target = random_pair((2, 3, 16, 16))
    assert torch.isposinf(fsds(target, target, "none")).all()
    assert torch.isposinf(fsds(target.float(), target.float()))
    _, values = frequency_similarity_curve(target, target, num_bands=4)
    assert torch.isposinf(values).all()


def test_reductions_and_three_dimensional_inputs():
    preds, target = random_pair((4, 3, 16, 16))
    scores = fsds(preds, target, reduction="none")
    assert scores.shape == (4,)
    torch.testing.assert_close(fsds(preds, target), scores.mean())
    torch.testing.assert_close(fsds(preds, target, reduction="sum"), scores.sum())
    torch.testing.assert_close(fsds(preds, target, reduction=None), scores)
    single = fsds(preds[1], target[1], reduction="none")
    assert single.shape == (1,)
    torch.testing.assert_close(single, scores[1:2])
    assert fsds(preds[1], target[1]).shape == ()
    _, curve = frequency_similarity_curve(preds[1], target[1], num_bands=3, reduction="none")
    assert curve.shape == (1, 3)


def test_batched_equals_per_image_and_chunking_does_not_matter(monkeypatch):
    preds, target = random_pair((7, 3, 33, 20))
    pairs = list(zip(preds, target, strict=True))
    per_image = torch.cat([fsds(p, t, "none") for p, t in pairs])
    per_image_curves = torch.cat([frequency_similarity_curve(p, t, 6, "none")[1] for p, t in pairs])
    for chunk in (1, 3, 7):
        monkeypatch.setattr(fs, "_chunk_size", lambda _, chunk=chunk: chunk)
        torch.testing.assert_close(fsds(preds, target, "none"), per_image, rtol=0, atol=1e-10)
        _, curves = frequency_similarity_curve(preds, target, 6, "none")
        torch.testing.assert_close(curves, per_image_curves, rtol=0, atol=1e-10)


def test_chunk_policy(monkeypatch):
    """Chunks are counted by the stacked spectra of both images of a pair (what a chunk holds in memory)."""
    big = torch.empty(5, 3, 1020, 1020)  # 50 MB of stacked spectra per pair: over the budget
    small = torch.empty(40, 3, 64, 64)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert fs._chunk_size(big) == 1
    assert fs._chunk_size(small) == min(40, fs.CPU_CHUNK_BYTES // (2 * 3 * 64 * 33 * 8))
    # Two threads (the batch that was slower batched than looped): one pair per chunk, whose stacked transform
    # already holds 6 2-D transforms, 3 per thread.
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert fs._chunk_size(big) == 1
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)
    assert fs._chunk_size(big) == 2  # at least 2 transforms per thread: 2 pairs of 2 x 3 channels
    assert fs._chunk_size(big[:1]) == 1
    monkeypatch.setattr(torch, "get_num_threads", lambda: 8)
    assert fs._chunk_size(torch.empty(5, 1, 1020, 1020)) == 5  # 16 transforms of one channel at most


@pytest.mark.parametrize("reference", ["target", "preds"])
def test_autograd_path_gives_the_same_values(reference):
    """With autograd the spectra are not overwritten in place; the numbers must not change."""
    preds, target = random_pair((3, 3, 17, 16))
    plain = frequency_similarity_curve(preds, target, 5, "none", reference)[1]
    plain_scores = fsds(preds, target, "none", reference)
    tracked = frequency_similarity_curve(preds.requires_grad_(True), target, 5, "none", reference)[1]
    tracked_scores = fsds(preds, target, "none", reference)
    assert tracked.requires_grad and tracked_scores.requires_grad
    torch.testing.assert_close(tracked.detach(), plain, rtol=0, atol=0)
    torch.testing.assert_close(tracked_scores.detach(), plain_scores, rtol=0, atol=0)


def test_noncontiguous_inputs():
    preds, target = random_pair((2, 3, 16, 18))
    expected = fsds(preds, target, "none")
    preds_t = preds.transpose(-1, -2).contiguous().transpose(-1, -2)
    target_cl = target.contiguous(memory_format=torch.channels_last)
    assert not preds_t.is_contiguous()
    torch.testing.assert_close(fsds(preds_t, target_cl, "none"), expected, rtol=0, atol=1e-12)


def test_empty_batch():
    preds, target = random_pair((0, 3, 8, 8))
    assert fsds(preds, target, "none").shape == (0,)
    assert torch.isnan(fsds(preds, target))
    _, curve = frequency_similarity_curve(preds, target, num_bands=4, reduction="none")
    assert curve.shape == (0, 4)


def test_empty_band_is_nan():
    preds, target = random_pair((1, 1, 4, 4))
    _, values = frequency_similarity_curve(preds, target, num_bands=64, reduction="none")
    assert torch.isnan(values).any() and torch.isfinite(values).any()


def test_frequency_bands():
    centres, edges = frequency_bands(4, dtype=torch.float64)
    torch.testing.assert_close(edges, torch.linspace(0, math.sqrt(2), 5, dtype=torch.float64))
    torch.testing.assert_close(centres, (edges[1:] + edges[:-1]) / 2)
    assert frequency_bands(1)[0].item() == pytest.approx(math.sqrt(2) / 2)


# --------------------------------------------------------------------------------------------------------
# dtypes, gradients, devices
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.int32, torch.uint8])
def test_low_precision_and_integer_inputs_are_computed_in_float32(dtype):
    gen = torch.Generator().manual_seed(3)
    target = torch.randint(0, 256, (2, 3, 16, 16), generator=gen).to(dtype)
    preds = (target.double() + torch.randint(-20, 21, (2, 3, 16, 16), generator=gen)).clamp(0, 255).to(dtype)
    out = fsds(preds, target, "none")
    assert out.dtype == torch.float32
    expected, _ = np_fsds(preds.double().numpy(), target.double().numpy())
    np.testing.assert_allclose(out.numpy(), expected, rtol=0, atol=2e-3)
    _, curve = frequency_similarity_curve(preds, target, 4)
    assert curve.dtype == torch.float32


def test_float64_is_kept_and_mixed_dtypes_promote():
    preds, target = random_pair((2, 3, 16, 16))
    assert fsds(preds, target).dtype == torch.float64
    assert fsds(preds.float(), target).dtype == torch.float64
    assert fsds(preds.float(), target.float()).dtype == torch.float32
    assert fsds(preds > 0.5, target).dtype == torch.float64


def test_gradcheck_float64():
    preds, target = random_pair((1, 2, 5, 4), noise=0.3)
    preds.requires_grad_(True)
    target.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p, t: fsds(p, t, "none"), (preds, target))
    target.requires_grad_(False)
    assert torch.autograd.gradcheck(lambda p: fsds(p, target, "none", "preds"), (preds,))
    assert torch.autograd.gradcheck(
        lambda p: frequency_similarity_curve(p, target, 3, "none")[1], (preds,), fast_mode=True
    )


@pytest.mark.parametrize("bad", [0.25, float("nan"), float("inf")])
def test_gradients_stay_finite_with_a_bad_image_in_the_batch(bad):
    """A constant or non-finite image gets a zero gradient; the others get the gradient they get alone."""
    preds, target = random_pair((3, 3, 12, 11))
    alone = preds[[0, 2]].clone().requires_grad_(True)
    (-fsds(alone, target[[0, 2]], "sum")).backward()
    if bad == 0.25:
        target[1] = bad
    else:
        target[1, 2, 3, 4] = bad
    preds.requires_grad_(True)
    with pytest.warns(UserWarning, match="1 of 3"):
        loss = -fsds(preds, target, "sum")
    loss.backward()
    assert torch.isfinite(preds.grad).all()
    assert preds.grad[1].abs().sum() == 0
    torch.testing.assert_close(preds.grad[[0, 2]], alone.grad)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    preds, target = random_pair((3, 3, 33, 32), dtype=torch.float32)
    expected = fsds(preds, target, "none")
    torch.testing.assert_close(fsds(preds.cuda(), target.cuda(), "none").cpu(), expected, rtol=0, atol=1e-3)
    _, curve = frequency_similarity_curve(preds.cuda().half(), target.cuda().half(), 8)
    assert curve.device.type == "cuda" and curve.dtype == torch.float32


# --------------------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preds", "target", "error", "match"),
    [
        ([[0.0]], torch.rand(1, 3, 4, 4), TypeError, "`preds`.*torch.Tensor.*list"),
        (torch.rand(1, 3, 4, 4), np.zeros((1, 3, 4, 4)), TypeError, "`target`.*torch.Tensor.*ndarray"),
        (
            torch.rand(1, 3, 4, 4, dtype=torch.complex64),
            torch.rand(1, 3, 4, 4),
            TypeError,
            "`preds`.*real.*complex64",
        ),
        (torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4, dtype=torch.complex64), TypeError, "`target`.*real"),
        (torch.rand(4, 4), torch.rand(4, 4), ValueError, r"`preds`.*\(N, C, H, W\).*\(4, 4\)"),
        (torch.rand(1, 1, 1, 4, 4), torch.rand(1, 1, 1, 4, 4), ValueError, r"`preds`.*\(1, 1, 1, 4, 4\)"),
        (
            torch.rand(1, 3, 4, 4),
            torch.rand(1, 3, 4, 5),
            ValueError,
            r"same shape.*\(1, 3, 4, 4\).*\(1, 3, 4, 5\)",
        ),
        (torch.rand(2, 3, 1, 8), torch.rand(2, 3, 1, 8), ValueError, r"H, W >= 2.*\(2, 3, 1, 8\)"),
        (torch.rand(2, 3, 8, 1), torch.rand(2, 3, 8, 1), ValueError, r"H, W >= 2.*\(2, 3, 8, 1\)"),
        (torch.rand(2, 0, 8, 8), torch.rand(2, 0, 8, 8), ValueError, "at least one channel"),
    ],
)
def test_bad_tensors(preds, target, error, match):
    with pytest.raises(error, match=match):
        fsds(preds, target)
    with pytest.raises(error, match=match):
        frequency_similarity_curve(preds, target)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"reduction": "mean"}, "`reduction`.*'mean'"),
        ({"reference": "hr"}, "`reference`.*'hr'"),
    ],
)
def test_bad_arguments(kwargs, match):
    preds, target = random_pair((1, 3, 8, 8))
    with pytest.raises(ValueError, match=match):
        fsds(preds, target, **kwargs)
    with pytest.raises(ValueError, match=match):
        frequency_similarity_curve(preds, target, **kwargs)


@pytest.mark.parametrize("num_bands", [0, -2, 2.5, True, "4"])
def test_bad_num_bands(num_bands):
    preds, target = random_pair((1, 3, 8, 8))
    with pytest.raises(ValueError, match=r"`num_bands`.*positive integer"):
        frequency_similarity_curve(preds, target, num_bands=num_bands)
    with pytest.raises(ValueError, match="`num_bands`"):
        frequency_bands(num_bands)


@pytest.mark.parametrize(
    ("spoil", "which"),
    [
        (lambda x: x.fill_(0.7), "preds"),
        (lambda x: x.fill_(0.0), "target"),
        (lambda x: x.__setitem__((0, 5, 5), float("nan")), "preds"),
        (lambda x: x.__setitem__((1, 0, 0), float("inf")), "target"),
        (lambda x: x.__setitem__((2, 3, 1), -float("inf")), "preds"),
    ],
)
def test_constant_or_non_finite_image_scores_nan_with_one_warning(spoil, which):
    preds, target = random_pair((4, 3, 12, 13))
    clean = fsds(preds, target, "none")
    spoil(preds[2] if which == "preds" else target[2])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scores = fsds(preds, target, "none")
        mean = fsds(preds, target)
        _, curves = frequency_similarity_curve(preds, target, 4, "none")
    assert len(caught) == 3 and all("constant" in str(w.message) for w in caught)
    assert "1 of 4" in str(caught[0].message)
    assert torch.isnan(scores[2]) and torch.isnan(curves[2]).all()
    keep = torch.tensor([0, 1, 3])
    torch.testing.assert_close(scores[keep], clean[keep], rtol=0, atol=1e-12)
    torch.testing.assert_close(mean, clean[keep].mean())
    assert torch.isfinite(curves[keep]).all()


def test_all_pairs_invalid_gives_nan_reductions():
    preds = torch.full((2, 3, 8, 8), 0.5)
    target = torch.rand(2, 3, 8, 8)
    with pytest.warns(UserWarning, match="2 of 2"):
        assert torch.isnan(fsds(preds, target))
    with pytest.warns(UserWarning):
        assert torch.isnan(fsds(preds, target, reduction="sum"))


def test_nearly_constant_image_is_not_treated_as_constant():
    """Only rounding-level variation counts as constant; a faint but real image is scored."""
    preds, target = random_pair((1, 1, 16, 16), dtype=torch.float32)
    faint = 0.5 + 1e-3 * target
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        score = fsds(preds, faint)
    assert torch.isfinite(score)


def test_alias():
    assert fsds is frequency_spectrum_distribution_similarity


def test_empty_bands_do_not_poison_the_gradients_of_the_others():
    """8 x 8 images, 16 bands: some bands hold no coefficient (0/0, NaN in value) but the gradient of every
    other band, and of the NaN-ignoring mean, is finite."""
    preds, target = random_pair((2, 3, 8, 8))
    preds.requires_grad_(True)
    _, curve = frequency_similarity_curve(preds, target, num_bands=16)
    assert torch.isnan(curve).any() and torch.isfinite(curve[2])
    curve[2].backward()
    assert torch.isfinite(preds.grad).all() and preds.grad.abs().sum() > 0
    preds.grad = None
    _, curve = frequency_similarity_curve(preds, target, num_bands=16)
    curve.nanmean().backward()
    assert torch.isfinite(preds.grad).all() and preds.grad.abs().sum() > 0
    preds.grad = None
    _, curves = frequency_similarity_curve(preds, target, num_bands=16, reduction="none")
    curves[:, 2].sum().backward()
    assert torch.isfinite(preds.grad).all()


def test_large_mean_float32_image_is_scored_not_called_constant():
    """``image + 1e5`` in float32 is not constant: no warning, and the score of those float32 values equals the
    float64 score of the same values."""
    preds, target = random_pair((2, 3, 32, 31), dtype=torch.float32)
    shifted = preds + 1e5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        score32 = fsds(shifted, target, "none")
        _, curve32 = frequency_similarity_curve(target, shifted, 4, "none")
    score64 = fsds(shifted.double(), target.double(), "none")
    curve64 = frequency_similarity_curve(target.double(), shifted.double(), 4, "none")[1]
    torch.testing.assert_close(score32.double(), score64, rtol=0, atol=2e-3)
    torch.testing.assert_close(curve32.double(), curve64, rtol=0, atol=2e-3)
    # an image that is constant up to its last bits is still constant
    flat = torch.full((1, 3, 16, 16), 0.3) + torch.randint(-1, 2, (1, 3, 16, 16)) * 2.0**-25
    with pytest.warns(UserWarning, match="constant"):
        assert torch.isnan(fsds(flat, target[:1, :, :16, :16]))


def test_compile_failure_falls_back_to_eager_with_one_warning(monkeypatch):
    preds, target = random_pair((3, 3, 16, 15))
    expected = fsds(preds, target, "none")

    def broken_compile(fn, **kwargs):
        def compiled(*args):
            raise RuntimeError("no compiler here")

        return compiled

    monkeypatch.setattr(fs, "COMPILE", True)
    monkeypatch.setattr(fs, "_COMPILE_ON_CPU", True)
    monkeypatch.setattr(fs, "_compiled_chunk", None)
    monkeypatch.setattr(fs, "_compile_failed", False)
    monkeypatch.setattr(torch, "compile", broken_compile)
    with pytest.warns(UserWarning, match="torch.compile failed.*no compiler here.*eager"):
        torch.testing.assert_close(fsds(preds, target, "none"), expected, rtol=0, atol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torch.testing.assert_close(fsds(preds, target, "none"), expected, rtol=0, atol=0)


@pytest.mark.slow
def test_compiled_chunk_traces_and_matches_eager(monkeypatch):
    """The per-chunk computation traces through torch.compile (AOT autograd, no code generation here) without
    a graph-breaking host read, and gives the eager numbers."""
    import functools

    preds, target = random_pair((3, 3, 32, 31))
    expected = fsds(preds, target, "none")
    expected_curve = frequency_similarity_curve(preds, target, 8, "none")[1]
    monkeypatch.setattr(fs, "COMPILE", True)
    monkeypatch.setattr(fs, "_COMPILE_ON_CPU", True)
    monkeypatch.setattr(fs, "_compiled_chunk", None)
    monkeypatch.setattr(fs, "_compile_failed", False)
    monkeypatch.setattr(
        torch, "compile", functools.partial(torch.compile, backend="aot_eager", fullgraph=True)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        torch.testing.assert_close(fsds(preds, target, "none"), expected, rtol=0, atol=1e-12)
        curve = frequency_similarity_curve(preds, target, 8, "none")[1]
    torch.testing.assert_close(curve, expected_curve, rtol=0, atol=1e-12)
    assert not fs._compile_failed
