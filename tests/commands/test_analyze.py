"""``hyra-lightning analyze``: references against their closed forms, this package's checkpoints, every error,
and the HTML report parsed and checked against report.json."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hyra_lightning.analysis import describe_luminance, impulse_response
from hyra_lightning.commands.report import figure_paths
from hyra_lightning.commands.report_html import INLINE_MODELS
from hyra_lightning.data import load_photo
from hyra_lightning.models import EDSR
from tests.analysis._models import bicubic_closed_form
from tests.conftest import run_cli

DESCRIPTORS = (
    "dc_gain",
    "cutoff",
    "cutoff_h",
    "cutoff_v",
    "sinc_similarity",
    "negative_lobe",
    "stopband_leakage",
)


def _write_photo(path: Path, name: str, size: tuple[int, int], offset: int = 60) -> Path:
    img = load_photo(name)[:, offset : offset + size[0], offset : offset + size[1]]
    Image.fromarray((img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hr")
    _write_photo(folder / "coffee.png", "coffee", (96, 104))
    _write_photo(folder / "astronaut.png", "astronaut", (100, 96))
    return folder


def _analyze(args: list[str], capsys: pytest.CaptureFixture | None = None) -> int:
    with pytest.raises(SystemExit) as exc:
        run_cli(["analyze", "--no-progress", *args], capture=False)
    return int(exc.value.code or 0)


def _sinc_closed_form(scale: int, size: int, taps: int = 16, beta: float = 2.0) -> torch.Tensor:
    """SincUpsampler's response from its documented formula: a separable Kaiser-windowed sinc whose polyphase
    components each sum to one, read at HR pixel X from entry X - s*c + taps*s."""
    s, c = scale, size // 2
    j = np.arange(2 * taps * s + s, dtype=np.float64)
    t = (j - taps * s - (s - 1) / 2) / s
    window = np.i0(beta * np.sqrt(np.clip(1 - (t / taps) ** 2, 0, None))) / np.i0(beta)
    k = np.where(np.abs(t) <= taps, np.sinc(t) * window, 0.0).reshape(-1, s)
    k = (k / k.sum(axis=0, keepdims=True)).reshape(-1)
    idx = np.arange(s * size) - s * c + taps * s
    g = np.where((idx >= 0) & (idx < k.size), k[np.clip(idx, 0, k.size - 1)], 0.0)
    return torch.from_numpy(np.outer(g, g))


# ------------------------------------------------------------------------------------------- HTML parsing


class _ReportParser(HTMLParser):
    """Collects images, model sections, and the data-value cells of every table row."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.sections: list[str] = []
        self.rows: list[tuple[dict[str, str], list[dict[str, str]]]] = []
        self.section: str | None = None
        self.section_of_row: list[str | None] = []
        self.tags: set[str] = set()
        self.errors: dict[str, list[str]] = {}
        self._in_error = False
        self._h4 = ""
        self.row_context: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.add(tag)
        if tag == "img":
            self.images.append(a)
        elif tag == "section" and "data-model" in a:
            self.section = a["data-model"]
            self.sections.append(self.section)
        elif tag == "tr":
            self.rows.append((a, []))
            self.section_of_row.append(self.section)
            self.row_context.append(self._h4)
        elif tag == "td" and "data-key" in a and self.rows:
            self.rows[-1][1].append(a)
        elif tag == "div" and a.get("class") == "error":
            self._in_error = True
        elif tag == "h4":
            self._h4 = "?"

    def handle_endtag(self, tag: str) -> None:
        if tag == "div":
            self._in_error = False

    def handle_data(self, data: str) -> None:
        if self._in_error and self.section is not None:
            self.errors.setdefault(self.section, []).append(data)
        if self._h4 == "?":
            self._h4 = data


def _parse(out: Path) -> _ReportParser:
    parser = _ReportParser()
    parser.feed((out / "report.html").read_text(encoding="utf-8"))
    return parser


def _value(cell: dict[str, str]) -> float | None:
    return None if cell["data-value"] == "null" else float(cell["data-value"])


def _json_value(entry: dict, key: str) -> float | None:
    group, name = key.split(".")
    if group == "delta":
        a, b = entry["scores"][name], entry["bicubic"][name]
        return None if a is None or b is None else a - b
    return entry[group].get(name)


def _same(got: float | None, expected: float | None) -> bool:
    """A cell's value equals report.json's: both undefined (`null`, shown as n/a) or equal to 1e-12."""
    if got is None or expected is None:
        return got is None and expected is None
    return got == pytest.approx(expected, rel=1e-12, abs=1e-12)


def _check_html_against_json(out: Path) -> _ReportParser:
    doc = json.loads((out / "report.json").read_text())
    page = (out / "report.html").read_text(encoding="utf-8")
    parsed = _parse(out)
    # Self-contained: every figure inline (linked from figures/ beyond 12 models), nothing fetched from anywhere.
    assert parsed.images
    for img in parsed.images:
        if len(doc["models"]) <= INLINE_MODELS or img["src"].startswith("data:"):
            assert img["src"].startswith("data:image/png;base64,")
            data = io.BytesIO(base64.b64decode(img["src"].split(",", 1)[1], validate=True))
        else:
            assert img["src"].startswith("figures/") and img["loading"] == "lazy"
            data = out / img["src"]
        with Image.open(data) as im:
            assert im.format == "PNG" and min(im.size) > 10
        assert img["alt"]
    assert "link" not in parsed.tags and "<script src" not in page
    assert "http://" not in page and "https://" not in page
    # Every model has its section, in order.
    assert parsed.sections == [m["name"] for m in doc["models"]]
    # Numbers: comparison-table rows and per-image rows equal report.json.
    by_name = {m["name"]: m for m in doc["models"]}
    checked = 0
    for (attrs, cells), section, context in zip(
        parsed.rows, parsed.section_of_row, parsed.row_context, strict=True
    ):
        if "data-model" in attrs:
            entry = by_name[attrs["data-model"]]
            for cell in cells:
                expected = _json_value(entry, cell["data-key"])
                got = _value(cell)
                assert _same(got, expected), (cell, expected)
                checked += 1
        elif "data-image" in attrs:
            img = next(i for i in by_name[section]["images"] if i["name"] == attrs["data-image"])
            for cell in cells:
                group, key = cell["data-key"].split(".")
                assert _same(_value(cell), img[group][key]), (cell, img[group][key])
                checked += 1
        elif "data-reference" in attrs:
            refs = doc["references"][attrs["data-scale"]][attrs["data-reference"]]
            for cell in cells:
                group, key = cell["data-key"].split(".")[1:]
                if group == "descriptors":
                    assert _same(_value(cell), refs[key]), (cell, refs[key])
                    checked += 1
        elif section is not None and context.startswith("Descriptors"):
            for cell in cells:
                key = cell["data-key"].split(".")[1]
                assert _same(_value(cell), by_name[section]["descriptors"][key]), cell
                checked += 1
    assert checked > 20
    # The PNG files are written beside the report.
    for rel in doc["figures"].values():
        assert (out / rel).is_file()
    for m in doc["models"]:
        for key, rel in m["figures"].items():
            rels = rel.values() if key == "hyra" else [rel]
            for r in rels:
                assert (out / r).is_file()
    return parsed


# ------------------------------------------------------------------------------------------------- tests


def test_references_report_their_closed_form_descriptors(images, tmp_path):
    out = tmp_path / "report"
    code = _analyze(["bicubic", "sinc", "--scale", "2", "--images", str(images), "--out", str(out)])
    assert code == 0
    doc = json.loads((out / "report.json").read_text())
    closed = {
        "bicubic": describe_luminance(bicubic_closed_form(2, 33), 2).as_dict(),
        "sinc": describe_luminance(_sinc_closed_form(2, 33), 2).as_dict(),
    }
    for entry in doc["models"]:
        assert entry["kind"] == "reference" and entry["scale"] == 2 and entry["error"] is None
        for key in DESCRIPTORS:
            assert entry["descriptors"][key] == pytest.approx(closed[entry["name"]][key], abs=1e-9), key
        # A linear, shift-invariant upsampler: HyRA's non-linear part is (almost) nothing.
        assert entry["hyra"]["nonlinear_energy_ratio"] < 1e-3
        assert len(entry["images"]) == 2
    for key in DESCRIPTORS:
        assert doc["references"]["2"]["bicubic"][key] == pytest.approx(closed["bicubic"][key], abs=1e-9)
    # Bicubic upsampling scores exactly as the bicubic baseline.
    bic = doc["models"][0]
    for k in ("psnr", "ssim", "fsds"):
        assert bic["scores"][k] == pytest.approx(bic["bicubic"][k], abs=1e-4)
    assert doc["probe"]["size"] == 33 and [i["name"] for i in doc["images"]] == ["astronaut", "coffee"]
    # The HTML shows the same closed-form numbers.
    parsed = _check_html_against_json(out)
    assert len([i for i in parsed.images if "HyRA panel" in i["alt"]]) == 4
    assert {"overlaid magnitude profiles", "overlaid FSDS curves"} <= {i["alt"] for i in parsed.images}


def _module_checkpoint(
    path: Path, model: torch.nn.Module, class_path: str, init_args: dict, scale: int
) -> Path:
    """A checkpoint shaped like the ones `hyra-lightning fit` writes (LightningCLI stores the model's class path)."""
    torch.save(
        {
            "epoch": 0,
            "global_step": 3,
            "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
            "hyper_parameters": {
                "model": {"class_path": class_path, "init_args": init_args},
                "scale": scale,
                "lr": 1e-3,
                "_instantiator": "lightning.pytorch.cli.instantiate_module",
            },
        },
        path,
    )
    return path


def test_fsds_curve_bands_add_up_to_the_table_fsds_for_every_model(images, tmp_path):
    """One cropping for everything scored. The band denominators of FSDS depend on the HR crop only, so the
    numerators follow from a curve, ``num_b = den_b 10^(-curve_b / 10)``, and ``-10 log10(sum num / sum den)``
    must give back the table's FSDS: for every model, and for bicubic beside it."""
    from hyra_lightning.functional.frequency_similarity import _fsds_update
    from hyra_lightning.io import read_image

    torch.manual_seed(0)
    args = {"scale": 2, "n_resblocks": 1, "n_feats": 8}
    ckpt = _module_checkpoint(tmp_path / "edsr.ckpt", EDSR(**args), "hyra_lightning.models.EDSR", args, 2)
    image = images / "coffee.png"
    out = tmp_path / "out"
    argv = [str(ckpt), "bicubic", "sinc", "--images", str(image), "--size", "9", "--max-size", "64"]
    assert _analyze([*argv, "--out", str(out)]) == 0
    doc = json.loads((out / "report.json").read_text())
    hr = read_image(image)[None].double()
    top, left = (hr.shape[-2] - 64) // 2, (hr.shape[-1] - 64) // 2
    target = hr[
        ..., top + 2 : top + 62, left + 2 : left + 62
    ]  # the 64 x 64 centre crop, 2 pixels per side off
    band_den = _fsds_update(target, target, num_bands=16)[4][0]
    assert bool((band_den > 0).all())
    assert len(doc["models"]) == 3
    for m in doc["models"]:
        assert m["images"][0]["crop"] == [64, 64]
        for curve, table in (
            (m["fsds_curve"]["model"], m["scores"]),
            (m["fsds_curve"]["bicubic"], m["bicubic"]),
        ):
            num = band_den * 10 ** (-torch.tensor(curve, dtype=torch.float64) / 10)
            from_curve = float(-10 * torch.log10(num.sum() / band_den.sum()))
            assert from_curve == pytest.approx(table["fsds"], abs=2e-3), m["name"]
        assert m["hyra"]["fsds_sr"] == pytest.approx(m["scores"]["fsds"], abs=1e-9)
        assert m["hyra"]["fsds_gain"] == pytest.approx(
            m["scores"]["fsds"] - m["hyra"]["fsds_linear"], abs=1e-9
        )


def test_module_checkpoint_and_every_error_while_the_others_get_their_sections(images, tmp_path, capsys):
    torch.manual_seed(0)
    args = {"scale": 2, "n_resblocks": 1, "n_feats": 8}
    edsr = EDSR(**args)
    good = _module_checkpoint(tmp_path / "edsr.ckpt", edsr, "hyra_lightning.models.EDSR", args, 2)
    x3 = _module_checkpoint(
        tmp_path / "edsr_x3.ckpt",
        EDSR(scale=3, n_resblocks=1, n_feats=8),
        "hyra_lightning.models.EDSR",
        {**args, "scale": 3},
        3,
    )
    picky = _module_checkpoint(
        tmp_path / "picky.ckpt",
        __import__("tests.commands._nets", fromlist=["x"]).NeedsMultipleOf8(),
        "tests.commands._nets.NeedsMultipleOf8",
        {},
        2,
    )
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"this is not a checkpoint at all" * 10)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    tiny = _write_photo(tmp_path / "tiny.png", "coins", (40, 40))
    out = tmp_path / "report"
    code = _analyze(
        [
            str(good),
            str(garbage),
            str(text),
            str(picky),
            str(x3),
            "bicubic",
            "--scale",
            "2",
            "--images",
            str(images),
            str(tiny),
            "--out",
            str(out),
            "--trust-module",
            "tests.commands._nets",
            "--name",
            "mine",
            "junk",
            "txt",
            "picky",
            "x3",
            "bic",
        ]
    )
    assert code == 1
    doc = json.loads((out / "report.json").read_text())
    by = {m["name"]: m for m in doc["models"]}
    assert list(by) == ["mine", "junk", "txt", "picky", "x3", "bic"]
    mine = by["mine"]
    assert mine["error"] is None and mine["architecture"] == "EDSR" and mine["kind"] == "hyra-lightning"
    assert mine["scale"] == 2 and mine["details"]["class_path"] == "hyra_lightning.models.EDSR"
    expected = impulse_response(edsr, scale=2).describe().as_dict()
    for key in DESCRIPTORS:
        assert mine["descriptors"][key] == pytest.approx(expected[key], rel=1e-6, abs=1e-9)
    # The too-small image is reported for every model that got that far; the others are analysed.
    assert [i["name"] for i in mine["images"]] == ["astronaut", "coffee"]
    (err,) = mine["image_errors"]
    assert err["image"] == "tiny" and "smaller than the probe's output (66 x 66" in err["message"]
    assert "`--size` (at most 19)" in err["message"]
    assert "not a checkpoint" in by["junk"]["error"]
    assert "not a checkpoint" in by["txt"]["error"] and ".safetensors" in by["txt"]["error"]
    assert "could not run on a 33 x 33 probe" in by["picky"]["error"] and "size=" in by["picky"]["error"]
    assert "Scale mismatch" in by["x3"]["error"] and "x3" in by["x3"]["error"]
    assert by["bic"]["error"] is None and len(by["bic"]["images"]) == 2
    stderr = capsys.readouterr().err
    assert "error: junk:" in stderr and "error: x3:" in stderr
    parsed = _check_html_against_json(out)
    for name in ("junk", "txt", "picky", "x3"):
        assert parsed.errors[name], name
    assert any("smaller than the probe" in e for e in parsed.errors["mine"])


def test_reference_scale_comes_from_the_other_models_or_is_asked_for(images, tmp_path):
    args = {"scale": 2, "n_resblocks": 1, "n_feats": 8}
    ckpt = _module_checkpoint(tmp_path / "m.ckpt", EDSR(**args), "hyra_lightning.models.EDSR", args, 2)
    out = tmp_path / "a"
    assert _analyze([str(ckpt), "sinc", "--images", str(images / "coffee.png"), "--out", str(out)]) == 0
    doc = json.loads((out / "report.json").read_text())
    assert [m["scale"] for m in doc["models"]] == [2, 2] and [m["name"] for m in doc["models"]] == [
        "m",
        "sinc",
    ]
    out = tmp_path / "b"
    assert _analyze(["bicubic", "--images", str(images / "coffee.png"), "--out", str(out)]) == 1
    doc = json.loads((out / "report.json").read_text())
    assert "needs a scale" in doc["models"][0]["error"] and "--scale" in doc["models"][0]["error"]


def test_spandrel_missing_says_how_to_install_it(tmp_path, monkeypatch):
    from hyra_lightning import zoo

    path = tmp_path / "weights.pth"
    torch.save(EDSR(scale=2, n_resblocks=1, n_feats=8).state_dict(), path)
    real = zoo.importlib.import_module

    def fake(name: str, *a, **k):
        if name == "spandrel":
            raise ImportError("No module named 'spandrel'")
        return real(name, *a, **k)

    monkeypatch.setattr(zoo.importlib, "import_module", fake)
    with pytest.raises(zoo.ModelLoadError, match='pip install "hyra-lightning\\[zoo\\]"'):
        zoo.load_model(path)

    def broken(name: str, *a, **k):
        if name == "spandrel":
            raise RuntimeError("operator torchvision::nms does not exist")
        return real(name, *a, **k)

    monkeypatch.setattr(zoo.importlib, "import_module", broken)
    with pytest.raises(zoo.ModelLoadError, match="torchvision built for the installed torch"):
        zoo.load_model(path)


def test_option_errors(images, tmp_path, capsys):
    cases = [
        (["bicubic", "--name", "a", "b"], "one `--name` per MODEL"),
        (["bicubic", "--size", "8"], "odd integer"),
        (["bicubic", "--images", str(tmp_path / "nope.png")], "no such path"),
        (["bicubic", "--max-size", "1"], "--max-size"),
    ]
    cases.append(
        (["bicubic", "--device", "foo"], "Expected `--device` to be 'auto', 'cpu', 'cuda' or 'cuda:N'")
    )
    if not torch.cuda.is_available():
        cases.append((["bicubic", "--device", "cuda"], "torch sees none"))
    for args, message in cases:
        assert _analyze([*args, "--out", str(tmp_path / "o")]) == 2
        assert message in capsys.readouterr().err


@pytest.mark.slow
def test_quickstart_checkpoint(quickstart_run, tmp_path, images):
    """A real checkpoint of `hyra-lightning fit --config configs/quickstart.yaml` (shortened)."""
    import yaml

    from hyra_lightning.module import SuperResolutionModule

    ckpt = quickstart_run.logdir / "checkpoints" / "last.ckpt"
    out = tmp_path / "report"
    assert _analyze([str(ckpt), "bicubic", "--images", str(images), "--out", str(out)]) == 0
    doc = json.loads((out / "report.json").read_text())
    entry = doc["models"][0]
    run_name = (
        f"{quickstart_run.logdir.parent.name}/{quickstart_run.logdir.name}"  # e.g. quickstart/version_0
    )
    assert entry["name"] == run_name and entry["architecture"] == "EDSR" and entry["scale"] == 2
    assert doc["models"][1]["scale"] == 2  # the reference took the checkpoint's scale
    init = yaml.safe_load(quickstart_run.config.read_text())["model"]["model"]["init_args"]
    module = SuperResolutionModule.load_from_checkpoint(ckpt, model=EDSR(**init), map_location="cpu")
    expected = impulse_response(module.model, scale=2).describe().as_dict()
    for key in DESCRIPTORS:
        assert entry["descriptors"][key] == pytest.approx(expected[key], rel=1e-6, abs=1e-9), key
    assert all(math.isfinite(entry["scores"][k]) for k in ("psnr", "ssim", "fsds"))
    assert entry["details"]["network_from"] in (
        "hyper_parameters",
        str(quickstart_run.logdir / "config.yaml"),
    )
    _check_html_against_json(out)
    # Taken out of its run folder, a checkpoint whose hyperparameters do not name the network says what to do.
    alone = tmp_path / "alone" / "last.ckpt"
    alone.parent.mkdir()
    alone.write_bytes(ckpt.read_bytes())
    if "model" not in torch.load(alone, weights_only=True)["hyper_parameters"]:
        assert _analyze([str(alone), "--images", str(images), "--out", str(tmp_path / "o")]) == 1
        doc = json.loads((tmp_path / "o" / "report.json").read_text())
        assert (
            "config.yaml" in doc["models"][0]["error"] and "load_from_checkpoint" in doc["models"][0]["error"]
        )


def test_progress_bar_over_models(images, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        run_cli(
            ["analyze", "bicubic", "sinc", "--scale", "2", "--images", str(images), "--out", str(tmp_path)],
            capture=False,
        )
    assert exc.value.code == 0
    err = capsys.readouterr().err
    assert "analyze: 100%" in err and "2/2" in err  # one step per model


def test_references_are_probed_once_per_scale_and_the_page_renders_from_the_document(
    images, tmp_path, monkeypatch
):
    """The reference upsamplers are probed once per scale (descriptors, profiles and figures share the probe),
    with the run's options; the written page is the one rendered from report.json and its figures alone."""
    import hyra_lightning.analysis as analysis
    from hyra_lightning.commands.analyze import analyze
    from hyra_lightning.commands.report_html import render_html

    probed = []
    real = analysis.impulse_response

    def counting(model, **kwargs):
        probed.append((type(model).__name__, kwargs["options"]))
        return real(model, **kwargs)

    monkeypatch.setattr(analysis, "impulse_response", counting)
    out = tmp_path / "out"
    doc = analyze(
        ["bicubic"],
        images=[images / "coffee.png"],
        scale=2,
        out=out,
        size=9,
        amplitude=0.5,
        max_size=48,
        progress=False,
    )
    # the model itself, then each reference once
    assert [name for name, _ in probed] == ["BicubicUpsampler", "BicubicUpsampler", "SincUpsampler"]
    assert all(o.size == 9 and o.amplitude == 0.5 and o.scale == 2 for _, o in probed)
    assert doc["probe"]["size"] == 9 and doc["probe"]["amplitude"] == 0.5
    pngs = {rel: (out / rel).read_bytes() for rel in figure_paths(doc)}
    assert render_html(json.loads((out / "report.json").read_text()), pngs) == (
        out / "report.html"
    ).read_text(encoding="utf-8")


# ------------------------------------------------------------------------------- labels, crashes, early checks


def test_a_lightning_logs_checkpoint_is_labelled_by_its_run(tmp_path):
    from hyra_lightning.commands.analyze import _expand_models

    run = tmp_path / "lightning_logs" / "quickstart" / "version_0" / "checkpoints"
    run.mkdir(parents=True)
    for name in ("last.ckpt", "epoch=3-step=40.ckpt"):
        (run / name).write_bytes(b"x")
    other = tmp_path / "weights" / "model_x2.pth"
    other.parent.mkdir()
    other.write_bytes(b"x")
    assert _expand_models(
        [str(run / "last.ckpt"), str(run / "epoch=3-step=40.ckpt"), str(other), "bicubic"]
    ) == [
        (str(run / "last.ckpt"), "quickstart/version_0"),
        (str(run / "epoch=3-step=40.ckpt"), "quickstart/version_0/epoch=3-step=40"),
        (str(other), "model_x2"),
        ("bicubic", "bicubic"),
    ]
    # a folder: every checkpoint under it, sorted, labelled by its path in the folder (or its run)
    assert [label for _, label in _expand_models([str(tmp_path)])] == [
        "quickstart/version_0/epoch=3-step=40",
        "quickstart/version_0",
        "weights/model_x2",
    ]


def test_a_denoiser_and_a_nan_model_end_with_the_summary_and_exit_code_1(images, tmp_path, capsys):
    """A scale-1 model (no bicubic baseline: its PSNR delta is undefined) and a model answering NaN: the first is
    analysed, the second fails in its own section with a message saying why, the EDSR beside them gets its
    section, and the command ends with its summary and a table of the failure instead of a TypeError."""
    from tests.commands import _nets

    torch.manual_seed(0)
    args = {"scale": 2, "n_resblocks": 1, "n_feats": 8}
    good = _module_checkpoint(tmp_path / "edsr.ckpt", EDSR(**args), "hyra_lightning.models.EDSR", args, 2)
    den = _module_checkpoint(tmp_path / "den.ckpt", _nets.Denoiser(), "tests.commands._nets.Denoiser", {}, 1)
    nan = _module_checkpoint(
        tmp_path / "nan.ckpt", _nets.ReturnsNaN(), "tests.commands._nets.ReturnsNaN", {}, 2
    )
    out = tmp_path / "out"
    argv = [str(den), str(nan), str(good), "--images", str(images / "coffee.png"), "--size", "9"]
    code = _analyze([*argv, "--max-size", "48", "--out", str(out), "--trust-module", "tests.commands._nets"])
    assert code == 1
    captured = capsys.readouterr()
    by = {m["name"]: m for m in json.loads((out / "report.json").read_text())["models"]}
    assert by["den"]["error"] is None and by["den"]["scale"] == 1 and by["den"]["scores"]["psnr"] is not None
    assert by["edsr"]["error"] is None and by["edsr"]["images"]
    assert "NaN or infinite" in by["nan"]["error"]
    assert "den " in captured.out and "edsr " in captured.out and "n/a" in captured.out
    assert "2 of 3 model(s) analysed" in captured.out
    assert "1 failure(s):" in captured.err and "nan    model  The network's output holds NaN" in captured.err
    assert "Traceback" not in captured.err
    parsed = _check_html_against_json(out)
    assert any("NaN or infinite" in e for e in parsed.errors["nan"])


def test_a_probe_size_no_image_can_hold_is_rejected_before_any_probe(images, tmp_path, monkeypatch, capsys):
    import hyra_lightning.analysis as analysis

    probed = []
    monkeypatch.setattr(analysis, "impulse_response", lambda *a, **k: probed.append(1))
    assert _analyze(["bicubic", "sinc", "--scale", "2", "--size", "3001", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "Expected `--size` to fit the HR crops (at most 256 pixels" in err and "got 3001" in err
    assert probed == []
    # A size that fits an image at scale 1 but at no model's scale: that model fails before its probe, alone.
    small = _write_photo(tmp_path / "small.png", "coins", (40, 40))
    out = tmp_path / "o2"
    code = _analyze(["bicubic", "--scale", "4", "--size", "15", "--images", str(small), "--out", str(out)])
    assert code == 1 and probed == []
    (entry,) = json.loads((out / "report.json").read_text())["models"]
    assert "larger than every HR crop" in entry["error"] and "`--size`" in entry["error"]


# ------------------------------------------------------------------------------------------------ a zoo


def _tiny_zoo(root: Path, count: int = 3) -> list[Path]:
    """``count`` tiny EDSR/ESPCN checkpoints of `hyra-lightning fit` under ``root`` (in sub-folders)."""
    from hyra_lightning.models import ESPCN

    files = []
    for k in range(count):
        torch.manual_seed(k)
        folder = root / ("edsr" if k % 2 == 0 else "espcn")
        folder.mkdir(parents=True, exist_ok=True)
        if k % 2 == 0:
            args = {"scale": 2, "n_resblocks": 1, "n_feats": 4}
            files.append(
                _module_checkpoint(
                    folder / f"m{k:02d}.ckpt", EDSR(**args), "hyra_lightning.models.EDSR", args, 2
                )
            )
        else:
            args = {"scale": 2}
            files.append(
                _module_checkpoint(
                    folder / f"m{k:02d}.pth", ESPCN(**args), "hyra_lightning.models.ESPCN", args, 2
                )
            )
    return files


def test_a_folder_sweep_keeps_going_past_a_broken_file_and_resume_reuses_unchanged_files(
    images, tmp_path, monkeypatch, capsys
):
    """A folder of mixed checkpoints and a broken file: one section each, a failure table at the end. With
    --resume a second run probes nothing, a changed file is analysed again, a new file costs one model."""
    import hyra_lightning.analysis as analysis

    zoo = tmp_path / "zoo"
    files = _tiny_zoo(zoo, 3)
    (zoo / "broken.pth").write_bytes(b"this is not a checkpoint at all" * 10)
    (zoo / "notes.txt").write_text("not a model")  # not a checkpoint suffix: not picked up
    probed: list[str] = []
    real = analysis.impulse_response

    def counting(model, **kwargs):
        probed.append(type(model).__name__)
        return real(model, **kwargs)

    monkeypatch.setattr(analysis, "impulse_response", counting)
    out = tmp_path / "out"
    argv = [str(zoo), "bicubic", "--images", str(images / "coffee.png"), "--size", "9", "--max-size", "32"]
    argv += ["--out", str(out)]
    assert _analyze(argv) == 1
    doc = json.loads((out / "report.json").read_text())
    names = [m["name"] for m in doc["models"]]
    assert names == ["broken", "edsr/m00", "edsr/m02", "espcn/m01", "bicubic"]
    by = {m["name"]: m for m in doc["models"]}
    assert "not a checkpoint" in by["broken"]["error"]
    assert by["espcn/m01"]["architecture"] == "ESPCN" and by["edsr/m00"]["architecture"] == "EDSR"
    assert by["edsr/m00"]["sha256"] == hashlib.sha256(files[0].read_bytes()).hexdigest()
    assert by["bicubic"]["sha256"] is None
    err = capsys.readouterr().err
    assert "1 failure(s):" in err and "broken  model  " in err
    # three networks and the bicubic model, then the references (bicubic and sinc) once at x2
    assert probed.count("EDSR") == 2 and probed.count("ESPCN") == 1
    first = {m["name"]: m for m in doc["models"]}

    # Nothing changed: nothing of the checkpoints is probed again, the numbers are those of the first run.
    probed.clear()
    assert _analyze([*argv, "--resume"]) == 1
    doc = json.loads((out / "report.json").read_text())
    assert "EDSR" not in probed and "ESPCN" not in probed
    for m in doc["models"]:
        if m["name"] != "broken":
            assert m["descriptors"] == first[m["name"]]["descriptors"], m["name"]
    _check_html_against_json(out)

    # One file changed, one added: exactly two models analysed.
    probed.clear()
    torch.manual_seed(99)
    args = {"scale": 2, "n_resblocks": 1, "n_feats": 4}
    _module_checkpoint(files[0], EDSR(**args), "hyra_lightning.models.EDSR", args, 2)
    _module_checkpoint(zoo / "edsr" / "new.ckpt", EDSR(**args), "hyra_lightning.models.EDSR", args, 2)
    assert _analyze([*argv, "--resume"]) == 1
    assert probed.count("EDSR") == 2 and "ESPCN" not in probed
    doc = json.loads((out / "report.json").read_text())
    by = {m["name"]: m for m in doc["models"]}
    assert by["edsr/m00"]["descriptors"] != first["edsr/m00"]["descriptors"]
    assert by["edsr/m02"]["descriptors"] == first["edsr/m02"]["descriptors"]
    assert by["edsr/new"]["error"] is None

    # Other settings: nothing is reused.
    probed.clear()
    assert _analyze([*argv[:-4], "--max-size", "30", "--out", str(out), "--resume"]) == 1
    assert probed.count("EDSR") == 3


def test_an_interrupted_sweep_leaves_report_json_of_the_models_done(images, tmp_path, monkeypatch):
    import hyra_lightning.commands.analyze as analyze_module

    zoo = tmp_path / "zoo"
    _tiny_zoo(zoo, 3)
    real = analyze_module._analyse_model
    calls = []

    def interrupted(source, *a, **k):
        calls.append(source)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(source, *a, **k)

    monkeypatch.setattr(analyze_module, "_analyse_model", interrupted)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        analyze_module.analyze(
            [zoo], images=[images / "coffee.png"], size=9, max_size=32, out=out, progress=False
        )
    doc = json.loads((out / "report.json").read_text())
    assert [m["name"] for m in doc["models"]] == ["edsr/m00", "edsr/m02"]
    assert not (out / "report.json.tmp").exists()
    monkeypatch.setattr(analyze_module, "_analyse_model", real)
    calls.clear()
    monkeypatch.setattr(
        analyze_module,
        "_analyse_model",
        lambda source, *a, **k: calls.append(source) or real(source, *a, **k),
    )
    doc = analyze_module.analyze(
        [zoo], images=[images / "coffee.png"], size=9, max_size=32, out=out, progress=False, resume=True
    )
    assert calls == [str(zoo / "espcn" / "m01.pth")]
    assert [m["name"] for m in doc["models"]] == ["edsr/m00", "edsr/m02", "espcn/m01"]


@pytest.mark.slow
def test_memory_stays_flat_over_a_sweep_and_a_large_zoo_links_its_figures(images, tmp_path, monkeypatch):
    """20 checkpoints: the number of live tensors after each model does not grow (each model is freed before
    the next), and beyond 12 models the page links the models' figures from figures/ instead of inlining them."""
    import gc

    import hyra_lightning.commands.report as report_module
    from hyra_lightning.commands.analyze import analyze

    zoo = tmp_path / "zoo"
    _tiny_zoo(zoo, 20)
    live: list[int] = []
    real = report_module.write_json

    def counting(out, document):
        gc.collect()
        live.append(sum(1 for o in gc.get_objects() if issubclass(type(o), torch.Tensor)))
        return real(out, document)

    monkeypatch.setattr(report_module, "write_json", counting)
    out = tmp_path / "out"
    doc = analyze([zoo], images=[images / "coffee.png"], size=9, max_size=32, out=out, progress=False)
    assert len(doc["models"]) == 20 and all(m["error"] is None for m in doc["models"])
    per_model = live[:20]
    # after the first two models (references probed, caches warm) the count stays where it is
    assert max(per_model[2:]) <= per_model[2] + 2, per_model
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count('<section class="model"') == 20
    assert 'src="figures/' in page and 'loading="lazy"' in page
    assert "data:image/png;base64," in page  # the overview figures stay inline
    _check_html_against_json(out)


def test_zoo_view_scatter_plots_the_chosen_numbers_and_the_table_sorts(images, tmp_path):
    from hyra_lightning.commands.report import _number

    zoo = tmp_path / "zoo"
    _tiny_zoo(zoo, 2)
    out = tmp_path / "out"
    argv = [str(zoo), "bicubic", "--images", str(images / "coffee.png"), "--size", "9", "--max-size", "32"]
    assert _analyze([*argv, "--out", str(out), "--scatter", "sinc_similarity", "delta.psnr"]) == 0
    doc = json.loads((out / "report.json").read_text())
    assert (
        doc["scatter"] == ["sinc_similarity", "delta.psnr"]
        and doc["figures"]["scatter"] == "figures/scatter.png"
    )
    edsr = doc["models"][0]
    assert _number(edsr, "sinc_similarity") == edsr["descriptors"]["sinc_similarity"]
    assert _number(edsr, "delta.psnr") == pytest.approx(edsr["scores"]["psnr"] - edsr["bicubic"]["psnr"])
    assert _number(edsr, "hf_injection") == edsr["hyra"]["hf_injection"]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<h2>Zoo view</h2>" in page and 'table id="comparison" class="sortable"' in page
    assert "<thead>" in page and "addEventListener" in page
    parsed = _check_html_against_json(out)
    assert "scatter of sinc_similarity and delta.psnr" in {i["alt"] for i in parsed.images}


# ------------------------------------------------------------------------------------------------ --lam


def test_lam_attributes_the_same_box_for_every_model_and_reports_di(images, tmp_path, monkeypatch):
    from hyra_lightning.analysis import default_box, local_attribution
    from hyra_lightning.data.datamodule import bicubic_downsample
    from hyra_lightning.io import read_image
    from hyra_lightning.models import BicubicUpsampler

    torch.manual_seed(0)
    args = {"scale": 2, "n_resblocks": 1, "n_feats": 4}
    edsr = EDSR(**args)
    ckpt = _module_checkpoint(tmp_path / "edsr.ckpt", edsr, "hyra_lightning.models.EDSR", args, 2)
    out = tmp_path / "out"
    argv = [str(ckpt), "bicubic", "--images", str(images / "coffee.png"), str(images / "astronaut.png")]
    assert _analyze([*argv, "--size", "9", "--max-size", "32", "--out", str(out), "--lam"]) == 0
    doc = json.loads((out / "report.json").read_text())
    hr = _center_crop_for_test(read_image(images / "coffee.png"), 32)
    lr = bicubic_downsample(hr[None], 2)[0]
    box = default_box(lr, 2, window=16)
    assert doc["lam"]["image"] == "coffee" and doc["lam"]["boxes"] == {"2": list(box)}
    for m, net in zip(doc["models"], (edsr.eval(), BicubicUpsampler(2)), strict=True):
        assert set(m["lam"]) == {"di", "box", "completeness_error"} and m["lam"]["box"] == list(box)
        expected = local_attribution(net, lr, box, window=16, scale=2)
        assert m["lam"]["di"] == pytest.approx(expected.di, rel=1e-4, abs=1e-4)
        assert m["lam"]["completeness_error"] < 1e-2
        assert (out / m["figures"]["lam"]).is_file()
    assert doc["models"][1]["lam"]["di"] < doc["models"][0]["lam"]["di"] + 50  # both finite, comparable
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<h2>Local attribution maps</h2>" in page and 'data-key="lam.di"' in page
    parsed = _check_html_against_json(out)
    assert {"edsr local attribution map", "bicubic local attribution map"} <= {
        i["alt"] for i in parsed.images
    }
    # --resume reuses every model, the boxes with them
    import hyra_lightning.commands.analyze as analyze_module

    calls = []
    real = analyze_module._analyse_model
    monkeypatch.setattr(analyze_module, "_analyse_model", lambda *a, **k: calls.append(a) or real(*a, **k))
    assert _analyze([*argv, "--size", "9", "--max-size", "32", "--out", str(out), "--lam", "--resume"]) == 0
    assert calls == [] and json.loads((out / "report.json").read_text())["lam"]["boxes"] == {"2": list(box)}

    # --lam-box chooses the box; one outside the SR image is a model error
    def bicubic_with_box(out_dir: Path, top: int, left: int) -> int:
        common = ["--size", "9", "--max-size", "32", "--lam", "--lam-box", str(top), str(left)]
        return _analyze(["bicubic", "--scale", "2", *argv[2:], *common, "--out", str(out_dir)])

    out2 = tmp_path / "out2"
    assert bicubic_with_box(out2, 4, 6) == 0
    doc = json.loads((out2 / "report.json").read_text())
    assert doc["models"][0]["lam"]["box"] == [4, 6] and doc["lam"]["boxes"] == {"2": [4, 6]}
    out3 = tmp_path / "out3"
    assert bicubic_with_box(out3, 30, 0) == 1
    doc = json.loads((out3 / "report.json").read_text())
    assert "`--lam-box`" in doc["models"][0]["error"]


def _center_crop_for_test(hr: torch.Tensor, max_size: int) -> torch.Tensor:
    h, w = hr.shape[-2:]
    ch, cw = min(h, max_size) // 2 * 2, min(w, max_size) // 2 * 2
    top, left = (h - ch) // 2, (w - cw) // 2
    return hr[..., top : top + ch, left : left + cw]


@pytest.mark.requires("spandrel", "torchvision")
def test_a_folder_of_published_architectures_beside_package_checkpoints_and_a_broken_file(images, tmp_path):
    """spandrel architectures at random initialisation (plain state dicts) in one folder with checkpoints of
    `hyra-lightning fit` and a broken file: every file gets its section, the broken one its error."""
    from spandrel.architectures.RCAN import RCAN
    from spandrel.architectures.SPAN import SPAN

    zoo = tmp_path / "zoo"
    _tiny_zoo(zoo / "ours", 2)
    (zoo / "published").mkdir()
    torch.manual_seed(0)
    torch.save(
        SPAN(num_in_ch=3, num_out_ch=3, feature_channels=8, upscale=2).state_dict(),
        zoo / "published" / "span.pth",
    )
    rcan = RCAN(scale=2, n_resgroups=1, n_resblocks=1, n_feats=8, reduction=4)
    torch.save({"params_ema": rcan.state_dict()}, zoo / "published" / "rcan.pth")
    (zoo / "published" / "broken.safetensors").write_bytes(b"\x00" * 64)
    out = tmp_path / "out"
    argv = [
        str(zoo),
        "--images",
        str(images / "coffee.png"),
        "--size",
        "9",
        "--max-size",
        "32",
        "--out",
        str(out),
    ]
    assert _analyze(argv) == 1
    doc = json.loads((out / "report.json").read_text())
    by = {m["name"]: m for m in doc["models"]}
    assert set(by) == {
        "ours/edsr/m00",
        "ours/espcn/m01",
        "published/span",
        "published/rcan",
        "published/broken",
    }
    assert by["published/span"]["architecture"] == "SPAN" and by["published/span"]["kind"] == "spandrel"
    assert by["published/rcan"]["architecture"] == "RCAN" and by["published/rcan"]["error"] is None
    assert by["published/broken"]["error"]
    assert all(by[n]["error"] is None for n in by if n != "published/broken")
    _check_html_against_json(out)
