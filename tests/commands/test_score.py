"""``hyra-lightning score``: pairing, every option, and the numbers against an independent NumPy computation."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hyra_lightning.commands.pairing import pair_files
from hyra_lightning.commands.score import score
from hyra_lightning.data import load_photo
from tests.conftest import run_cli

# ------------------------------------------------------------------------------ independent reference maths


def _y(img: np.ndarray) -> np.ndarray:
    """BasicSR's ``rgb2ycbcr(img, y_only=True)`` for RGB in [0, 1], back in [0, 1] (16-235 range)."""
    return (16.0 + img[0] * 65.481 + img[1] * 128.553 + img[2] * 24.966)[None] / 255.0


def _psnr(sr: np.ndarray, hr: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((sr - hr) ** 2)))


def _ssim_channel(a: np.ndarray, b: np.ndarray) -> float:
    """BasicSR's ``_ssim``: 11 x 11 Gaussian (sigma 1.5), 'valid' filtering, C1/C2 of data range 1."""
    x = np.arange(11) - 5
    g = np.exp(-(x**2) / (2 * 1.5**2))
    g /= g.sum()
    win = np.outer(g, g)

    def filt(z: np.ndarray) -> np.ndarray:
        v = np.lib.stride_tricks.sliding_window_view(z, (11, 11))
        return np.einsum("ijkl,kl->ij", v, win)

    c1, c2 = 0.01**2, 0.03**2
    mu1, mu2 = filt(a), filt(b)
    s11 = filt(a * a) - mu1**2
    s22 = filt(b * b) - mu2**2
    s12 = filt(a * b) - mu1 * mu2
    m = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1**2 + mu2**2 + c1) * (s11 + s22 + c2))
    return float(m.mean())


def _ssim(sr: np.ndarray, hr: np.ndarray) -> float:
    return float(np.mean([_ssim_channel(sr[c], hr[c]) for c in range(sr.shape[0])]))


def _integrated(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = (x - x.mean()) / x.std(ddof=1)
    if x.shape[-2] % 2:
        x = np.concatenate([x, np.zeros_like(x[..., :1, :])], axis=-2)
    f = np.fft.rfft2(x)
    half = f.shape[-2] // 2
    p, q = f[..., :half, :], f[..., half:, :][..., ::-1, :]
    return tuple(np.cumsum(np.cumsum(h, axis=-2), axis=-1) for h in (p, q))


def _fsds(sr: np.ndarray, hr: np.ndarray, reference: str = "target") -> float:
    dp, dt = _integrated(sr), _integrated(hr)
    dr = dt if reference == "target" else dp
    num = sum(np.sum(np.abs(a - b) ** 2) for a, b in zip(dp, dt, strict=True))
    den = sum(np.sum(np.abs(r) ** 2) for r in dr)
    return float(-10 * np.log10(num / den))


def _expected(sr_file: Path, hr_file: Path, *, y: bool, border: int, reference: str) -> dict[str, float]:
    sr, hr = _read(sr_file), _read(hr_file)
    if border:
        sr, hr = sr[:, border:-border, border:-border], hr[:, border:-border, border:-border]
    ps, ph = (_y(sr), _y(hr)) if y else (sr, hr)
    return {"psnr": _psnr(ps, ph), "ssim": _ssim(ps, ph), "fsds": _fsds(sr, hr, reference)}


def _read(path: Path) -> np.ndarray:
    """Independent decoding (8-bit RGB or 16-bit grey PNG) to float64 C x H x W in [0, 1]."""
    with Image.open(path) as im:
        if im.mode.startswith("I"):
            a = np.asarray(im, dtype=np.float64) / 65535.0
            return np.repeat(a[None], 3, axis=0)
        return np.asarray(im.convert("RGB"), dtype=np.float64).transpose(2, 0, 1) / 255.0


# ------------------------------------------------------------------------------------------------ fixtures


def _save(img: np.ndarray, path: Path) -> None:
    Image.fromarray((np.clip(img, 0, 1).transpose(1, 2, 0) * 255).round().astype(np.uint8)).save(path)


def _degrade(hr: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    blurred = (hr + np.roll(hr, 1, axis=1) + np.roll(hr, 1, axis=2) + np.roll(hr, (1, 1), axis=(1, 2))) / 4
    return np.clip(blurred + rng.normal(0, 0.02, hr.shape), 0, 1)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """HR crops of three photographs (two sizes, one odd height) and SR files named in each documented way,
    plus a 16-bit grey pair."""
    root = tmp_path_factory.mktemp("score")
    sr_dir, hr_dir = root / "sr", root / "hr"
    sr_dir.mkdir()
    hr_dir.mkdir()
    crops = {"0801": ("coffee", 64, 96), "0802": ("astronaut", 80, 80), "0803": ("brick", 67, 72)}
    sr_names = {"0801": "0801x4.png", "0802": "0802_x4_SR.png", "0803": "0803_EDSR.png"}
    for k, (name, (photo, h, w)) in enumerate(crops.items()):
        hr = load_photo(photo).double().numpy()[:, 40 : 40 + h, 30 : 30 + w]
        _save(hr, hr_dir / f"{name}.png")
        _save(_degrade(_read(hr_dir / f"{name}.png"), k), sr_dir / sr_names[name])
    grey = load_photo("camera", mode="L").double().numpy()[0, 100:164, 100:164]
    Image.fromarray((grey * 65535).round().astype(np.uint16)).save(hr_dir / "0804.png")
    noisy = np.clip(grey + np.random.default_rng(9).normal(0, 1e-3, grey.shape), 0, 1)
    Image.fromarray((noisy * 65535).round().astype(np.uint16)).save(sr_dir / "0804.png")
    return sr_dir, hr_dir


def _check(result: dict, sr_dir: Path, hr_dir: Path, *, y: bool, border: int, reference: str) -> None:
    files = {p.stem: p for p in hr_dir.iterdir()}
    sr_files = {p.name: p for p in sr_dir.iterdir()}
    assert [img["name"] for img in result["images"]] == ["0801", "0802", "0803", "0804"]
    means = {"psnr": [], "ssim": [], "fsds": []}
    for img in result["images"]:
        exp = _expected(
            sr_files[Path(img["sr"]).name], files[img["name"]], y=y, border=border, reference=reference
        )
        assert img["psnr"] == pytest.approx(exp["psnr"], abs=2e-4), img["name"]
        assert img["ssim"] == pytest.approx(exp["ssim"], abs=1e-5), img["name"]
        assert img["fsds"] == pytest.approx(exp["fsds"], abs=2e-3), img["name"]
        for k in means:
            means[k].append(exp[k])
    for k, values in means.items():
        assert result["mean"][k] == pytest.approx(float(np.mean(values)), abs=2e-3 if k == "fsds" else 2e-4)


@pytest.mark.parametrize(
    ("args", "y", "border", "reference"),
    [
        ([], False, 0, "target"),
        (["--y-channel"], True, 0, "target"),
        (["--scale", "4"], False, 4, "target"),
        (["--scale", "4", "--crop-border", "2", "--y-channel", "--reference", "preds"], True, 2, "preds"),
        (["--protocol", "paper"], False, 0, "preds"),
    ],
)
def test_scores_equal_an_independent_computation(folders, tmp_path, args, y, border, reference):
    sr_dir, hr_dir = folders
    out = tmp_path / "scores.json"
    with pytest.raises(SystemExit) as exc:
        run_cli(
            ["score", "--sr", str(sr_dir), "--hr", str(hr_dir), "--out", str(out), "--no-progress", *args]
        )
    assert exc.value.code == 0
    result = json.loads(out.read_text())
    _check(result, sr_dir, hr_dir, y=y, border=border, reference=reference)
    assert result["protocol"]["color"] == ("y" if y else "rgb")
    assert result["protocol"]["crop_border"] == border
    assert result["protocol"]["fsds_reference"] == reference
    assert result["protocol"]["data_range"] == 1.0
    assert result["protocol"]["name"] == ("paper" if "paper" in args else "custom")


def test_batched_and_per_image_scores_agree(folders):
    sr_dir, hr_dir = folders
    a = score(sr_dir, hr_dir, batch_size=8, workers=2, progress=False)
    b = score(sr_dir, hr_dir, batch_size=1, workers=0, progress=False)
    for x, z in zip(a.images, b.images, strict=True):
        for k in ("psnr", "ssim", "fsds"):
            assert x[k] == pytest.approx(z[k], rel=1e-5, abs=1e-5)


def test_csv_and_md_outputs_and_the_printed_table(folders, tmp_path, capsys):
    sr_dir, hr_dir = folders
    ref = score(sr_dir, hr_dir, progress=False)
    for suffix in (".csv", ".md"):
        out = tmp_path / f"scores{suffix}"
        with pytest.raises(SystemExit) as exc:
            run_cli(
                ["score", "--sr", str(sr_dir), "--hr", str(hr_dir), "--out", str(out), "--no-progress"],
                capture=False,
            )
        assert exc.value.code == 0
        text = out.read_text()
        if suffix == ".csv":
            first, *lines = text.splitlines()
            assert first == f"# protocol: {ref.protocol_text()}"  # the one comment line, then the table
            assert "RGB, crop border 0 (no scale given), data range 1, FSDS reference target" in first
            rows = list(csv.DictReader(lines))
            assert [r["name"] for r in rows] == ["0801", "0802", "0803", "0804", "mean"]
            assert float(rows[0]["psnr"]) == ref.images[0]["psnr"]
            assert float(rows[-1]["fsds"]) == ref.mean["fsds"]
        else:
            assert "| image | PSNR (dB) | SSIM | FSDS (dB) |" in text
            assert f"| 0802 | {ref.images[1]['psnr']:.4f} |" in text
            assert "FSDS reference target" in text
    printed = capsys.readouterr().out
    assert "0803" in printed and "mean" in printed and f"{ref.mean['psnr']:9.4f}" in printed


# ------------------------------------------------------------------------------------------------ pairing


def test_pairing_rule():
    sr = [
        Path(n)
        for n in (
            "0801x4.png",
            "0802_x4_SR.png",
            "0803_EDSR.png",
            "0804.png",
            "0805x2.png",
            "08061.png",
            "zzz.png",
        )
    ]
    hr = [
        Path(n) for n in ("0801.png", "0802.png", "0803.png", "0804.png", "0805.png", "0806.png", "0807.png")
    ]
    p = pair_files(sr, hr, scale=4)
    assert [(n, s.name) for n, s, _ in p.pairs] == [
        ("0801", "0801x4.png"),
        ("0802", "0802_x4_SR.png"),
        ("0803", "0803_EDSR.png"),
        ("0804", "0804.png"),
    ]
    reasons = {s.name: why for s, why in p.unmatched_sr}
    assert "x2" in reasons["0805x2.png"] and "--scale" in reasons["0805x2.png"]
    assert "08061.png" in reasons  # "1" is not a suffix: 08061 is not 0806
    assert "zzz.png" in reasons
    assert [h.name for h in p.unmatched_hr] == ["0805.png", "0806.png", "0807.png"]
    # Without --scale, any x<k> suffix pairs; the longest HR stem wins.
    p = pair_files(
        [Path("0805x2.png"), Path("a_b_SR.png")], [Path("0805.png"), Path("a.png"), Path("a_b.png")]
    )
    assert [(n, s.name) for n, s, _ in p.pairs] == [("0805", "0805x2.png"), ("a_b", "a_b_SR.png")]
    # Two SR files claiming one HR file: listed, neither scored.
    p = pair_files([Path("1x4.png"), Path("1_x4_SR.png")], [Path("1.png")])
    assert p.pairs == [] and sorted(s.name for s in p.ambiguous["1"]) == ["1_x4_SR.png", "1x4.png"]


def test_unmatched_and_size_mismatches_are_listed_not_skipped(folders, tmp_path, capsys):
    sr_src, hr_src = folders
    sr_dir, hr_dir = tmp_path / "sr", tmp_path / "hr"
    sr_dir.mkdir()
    hr_dir.mkdir()
    for p in sr_src.iterdir():
        (sr_dir / p.name).write_bytes(p.read_bytes())
    for p in hr_src.iterdir():
        (hr_dir / p.name).write_bytes(p.read_bytes())
    Image.new("RGB", (20, 20)).save(sr_dir / "lonely_x4.png")
    Image.new("RGB", (20, 20)).save(hr_dir / "0900.png")
    Image.new("RGB", (24, 20)).save(sr_dir / "0900x4.png")  # wrong size
    out = tmp_path / "s.json"
    with pytest.raises(SystemExit) as exc:
        run_cli(
            ["score", "--sr", str(sr_dir), "--hr", str(hr_dir), "--out", str(out), "--no-progress"],
            capture=False,
        )
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "unmatched SR file lonely_x4.png" in err
    assert "size mismatch for 0900: SR 24 x 20, HR 20 x 20" in err
    doc = json.loads(out.read_text())
    assert [m["name"] for m in doc["size_mismatches"]] == ["0900"]
    assert [Path(u["file"]).name for u in doc["unmatched"]["sr"]] == ["lonely_x4.png"]
    assert len(doc["images"]) == 4  # the others are still scored


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--protocol", "paper", "--y-channel"], "--protocol paper"),
        (["--protocol", "paper", "--crop-border", "4"], "--crop-border 4"),
        (["--protocol", "paper", "--reference", "target"], "--reference target"),
        (["--out", "x.txt"], ".json, .csv or .md"),
        (["--crop-border", "-1"], "crop_border"),
        (["--device", "foo"], "Expected `--device` to be 'auto', 'cpu', 'cuda' or 'cuda:N', got 'foo'"),
        pytest.param(
            ["--device", "cuda"],
            "torch sees none",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU"),
        ),
    ],
)
def test_option_errors(folders, capsys, args, message):
    sr_dir, hr_dir = folders
    with pytest.raises(SystemExit) as exc:
        run_cli(["score", "--sr", str(sr_dir), "--hr", str(hr_dir), "--no-progress", *args], capture=False)
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Traceback" not in captured.err
    assert "image pairs" not in captured.out  # refused before anything is scored


def test_folder_errors(folders, tmp_path, capsys):
    sr_dir, hr_dir = folders
    empty = tmp_path / "empty"
    empty.mkdir()
    other = tmp_path / "other"
    other.mkdir()
    Image.new("RGB", (8, 8)).save(other / "unrelated.png")
    cases = [
        (["--sr", str(tmp_path / "missing"), "--hr", str(hr_dir)], "not a folder"),
        (["--sr", str(sr_dir), "--hr", str(empty)], "found none"),
        (["--sr", str(other), "--hr", str(hr_dir)], "No SR file"),
    ]
    for args, message in cases:
        with pytest.raises(SystemExit) as exc:
            run_cli(["score", *args, "--no-progress"], capture=False)
        assert exc.value.code == 2
        assert message in capsys.readouterr().err


def test_help_documents_the_paper_protocol(capsys):
    with pytest.raises(SystemExit):
        run_cli(["score", "--help"], capture=False)
    text = " ".join(capsys.readouterr().out.split())
    assert "RGB, no border crop, data range 1, FSDS with --reference preds" in text
    assert "0801_x4_SR.png" in text


def test_identical_images_score_infinite_fsds_as_null_in_json(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    _save(load_photo("coins").numpy()[:, :32, :32], d / "a.png")
    result = score(d, d, progress=False)
    assert math.isinf(result.images[0]["fsds"]) and math.isinf(result.images[0]["psnr"])
    result.write(tmp_path / "o.json")
    doc = json.loads((tmp_path / "o.json").read_text())
    assert doc["images"][0]["fsds"] is None  # strict JSON: undefined numbers are null


def test_reading_ahead_is_bounded(folders, monkeypatch):
    """The reader threads decode at most ``batch_size + workers`` pairs ahead (a large folder never fills memory)."""
    import hyra_lightning.io
    from hyra_lightning.commands import score as score_module

    sr_dir, hr_dir = folders
    pairs = pair_files(sorted(sr_dir.iterdir()), sorted(hr_dir.iterdir())).pairs * 10  # 40 pairs
    calls = []
    real = hyra_lightning.io.read_image
    monkeypatch.setattr(hyra_lightning.io, "read_image", lambda p: calls.append(p) or real(p))
    batches = score_module._batches(pairs, batch_size=2, workers=2)
    first = next(batches)
    import time

    time.sleep(0.5)  # let the threads run as far ahead as they may
    assert len(first) == 2
    assert len(calls) <= 2 * (2 + 2 + 2)  # two files per pair: the batch, plus batch_size + workers ahead
    assert sum(len(b) for b in batches) == 38


# ------------------------------------------------------------------------ scale, protocol and bad input


def _pairs(root: Path, sr_names: dict[str, str], size: int = 40) -> tuple[Path, Path]:
    """An HR folder of crops of a photograph named by the keys, and SR folder files named by the values."""
    sr_dir, hr_dir = root / "sr", root / "hr"
    sr_dir.mkdir()
    hr_dir.mkdir()
    photo = load_photo("astronaut").double().numpy()
    for k, (hr_stem, sr_name) in enumerate(sr_names.items()):
        hr = photo[:, 50 + 30 * k : 50 + 30 * k + size, 60 : 60 + size]
        _save(hr, hr_dir / f"{hr_stem}.png")
        _save(_degrade(hr, k), sr_dir / sr_name)
    return sr_dir, hr_dir


def _run(args: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        run_cli(["score", "--no-progress", *args], capture=False)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return exc.value.code, captured.out, captured.err


def test_scale_comes_from_a_suffix_all_paired_files_agree_on(tmp_path, capsys):
    sr_dir, hr_dir = _pairs(tmp_path, {"a": "a_x4.png", "b": "bx4.png", "c": "c_x4_SR.png"})
    code, out, _ = _run(["--sr", str(sr_dir), "--hr", str(hr_dir), "--out", str(tmp_path / "s.json")], capsys)
    assert code == 0
    assert "scale 4 taken from the x4 suffix that every paired SR file carries" in out
    assert "crop border 4 (from the x4 file name suffixes)" in out
    doc = json.loads((tmp_path / "s.json").read_text())
    assert doc["protocol"]["crop_border"] == 4
    assert (doc["protocol"]["scale"], doc["protocol"]["scale_source"]) == (4, "suffix")
    given = score(sr_dir, hr_dir, scale=4, progress=False)
    assert [img["psnr"] for img in doc["images"]] == [img["psnr"] for img in given.images]
    assert given.protocol["scale_source"] == "--scale"
    # --crop-border wins over the suffixes, and says so.
    code, out, _ = _run(["--sr", str(sr_dir), "--hr", str(hr_dir), "--crop-border", "1"], capsys)
    assert "crop border 1 (from --crop-border)" in out
    # Files that do not all agree give no scale: border 0, printed either way.
    (sr_dir / "c_x4_SR.png").rename(sr_dir / "c_x2.png")
    code, out, _ = _run(["--sr", str(sr_dir), "--hr", str(hr_dir)], capsys)
    assert code == 0 and "taken from" not in out
    assert "crop border 0 (no scale given)" in out


def test_scale_that_contradicts_the_suffixes_says_what_they_say(tmp_path, capsys):
    sr_dir, hr_dir = _pairs(tmp_path, {"a": "a_x4.png", "b": "b_x4.png"})
    code, _, err = _run(["--sr", str(sr_dir), "--hr", str(hr_dir), "--scale", "2"], capsys)
    assert code == 2
    assert "their file name suffixes say x4, but `--scale` is 2" in err and "--scale 4" in err


def test_two_sr_files_for_one_hr_file_name_the_ambiguity(tmp_path, capsys):
    sr_dir, hr_dir = _pairs(tmp_path, {"a": "a.png"})
    (sr_dir / "a_x2.png").write_bytes((sr_dir / "a.png").read_bytes())
    code, _, err = _run(["--sr", str(sr_dir), "--hr", str(hr_dir)], capsys)
    assert code == 2
    assert "a.png, a_x2.png all pair with HR a" in err


def test_y_rounding_is_an_option_named_in_every_output(tmp_path, capsys):
    sr_dir, hr_dir = _pairs(tmp_path, {"a": "a.png", "b": "b.png"})
    outs = {s: tmp_path / f"s{s}" for s in (".json", ".csv", ".md")}
    texts = {}
    for suffix, out in outs.items():
        code, printed, _ = _run(
            [
                "--sr",
                str(sr_dir),
                "--hr",
                str(hr_dir),
                "--y-channel",
                "--y-rounding",
                "matlab",
                "--out",
                str(out),
            ],
            capsys,
        )
        assert code == 0 and "Y rounded to integers (MATLAB)" in printed
        texts[suffix] = out.read_text()
    doc = json.loads(texts[".json"])
    assert (doc["protocol"]["color"], doc["protocol"]["y_rounding"]) == ("y", "matlab")
    assert texts[".csv"].startswith("# protocol: custom (Y rounded to integers (MATLAB), crop border 0")
    assert "Y rounded to integers (MATLAB)" in texts[".md"]
    as_float = score(sr_dir, hr_dir, y_channel=True, progress=False)
    assert "Y as a float (BasicSR)" in as_float.protocol_text()
    for img, ref in zip(doc["images"], as_float.images, strict=True):
        sr, hr = _read(Path(img["sr"])), _read(Path(img["hr"]))
        ys, yh = (np.floor(_y(x) * 255 + 0.5) / 255 for x in (sr, hr))  # Y on 0-255, rounded as MATLAB
        assert img["ssim"] == pytest.approx(_ssim(ys, yh), abs=1e-5)
        assert img["psnr"] == pytest.approx(_psnr(ys, yh), abs=2e-4)
        assert img["ssim"] != ref["ssim"]


def test_bad_files_are_listed_and_the_others_scored(tmp_path, capsys):
    sr_dir, hr_dir = _pairs(tmp_path, {"a": "a.png", "b": "b.png", "c": "c.png", "d": "d.png"})
    Image.new("RGB", (8, 8)).save(hr_dir / "tiny.png")  # smaller than the SSIM window
    Image.new("RGB", (8, 8)).save(sr_dir / "tiny.png")
    data = (sr_dir / "b.png").read_bytes()
    (sr_dir / "b.png").write_bytes(data[: len(data) // 2])  # truncated
    (hr_dir / "c.png").write_text("not an image")
    (sr_dir / "loop.png").symlink_to(sr_dir / "loop.png")  # a symlink loop
    (sr_dir / "gone.png").symlink_to(sr_dir / "missing.png")  # a broken symlink
    out = tmp_path / "s.json"
    code, printed, err = _run(
        ["--sr", str(sr_dir), "--hr", str(hr_dir), "--out", str(out), "--workers", "2"], capsys
    )
    assert code == 1
    assert "unreadable file b.png: " in err and "unreadable file c.png: " in err
    assert "unreadable file loop.png: a symlink loop" in err
    assert "unreadable file gone.png: a broken symlink" in err
    assert "too small: tiny is 8 x 8 (width x height); SSIM needs 11 x 11" in err
    assert "5 file(s) not scored" in err
    doc = json.loads(out.read_text())
    assert [img["name"] for img in doc["images"]] == ["a", "d"]
    assert [Path(u["file"]).name for u in doc["unmatched"]["unreadable"]] == [
        "b.png",
        "c.png",
        "gone.png",
        "loop.png",
    ]
    assert [t["name"] for t in doc["too_small"]] == ["tiny"]
    assert "2 image pairs" in printed
    # A crop border that leaves less than the window lists every pair, and still ends with exit code 1.
    code, printed, err = _run(["--sr", str(sr_dir), "--hr", str(hr_dir), "--crop-border", "15"], capsys)
    assert code == 1 and "0 image pairs" in printed and "too small: a is 40 x 40" in err


def test_unwritable_out_is_refused_before_scoring(folders, tmp_path, capsys):
    sr_dir, hr_dir = folders
    a_file = tmp_path / "file.txt"
    a_file.write_text("")
    (tmp_path / "folder.json").mkdir()
    for out, message in [
        (a_file / "scores.json", "is a file, not a folder"),
        (tmp_path / "folder.json", "which is a folder"),
        *([(Path("/proc/scores.json"), "Cannot write `--out`")] if Path("/proc/self").exists() else []),
    ]:
        code, printed, err = _run(["--sr", str(sr_dir), "--hr", str(hr_dir), "--out", str(out)], capsys)
        assert code == 2 and message in err and "`--out`" in err
        assert "image pairs" not in printed  # refused before anything is scored
