"""``hyra-lightning score --sr DIR --hr DIR``: PSNR, SSIM and FSDS of a folder of SR results.

Files pair by name stem (:mod:`hyra_lightning.commands.pairing` gives the rule: ``0801x4.png``,
``0801_x4_SR.png`` and ``0801_EDSR.png`` all pair with ``0801.png``). SR files that pair with nothing, HR
files no SR file pairs with, HR files claimed by several SR files, files that cannot be read (truncated or not
images, broken symlinks, symlink loops), pairs whose sizes differ and pairs smaller than the SSIM window after
the crop are listed (never silently skipped) and left out of the scores; the others are scored.

Metrics (:func:`~hyra_lightning.functional.image_scores.image_scores`), per image then averaged over
images: PSNR (torchmetrics) and SSIM (:func:`~hyra_lightning.functional.image_scores.ssim_valid`: 11 x 11
Gaussian window of sigma 1.5, averaged over the windows inside the image, as BasicSR's ``calculate_ssim``;
not the padded SSIM the training module logs as ``val/ssim``), both with data range 1, on RGB or, with
``--y-channel``, on the BT.601 luma ``Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255`` (values in
[16/255, 235/255]: what BasicSR computes with ``test_y_channel=True``), kept as a float (``--y-rounding
float``, BasicSR) or rounded to integers on the 0-255 scale (``--y-rounding matlab``: MATLAB's ``rgb2ycbcr`` on
8-bit images, and pyiqa's SSIM); FSDS on RGB (the paper's metric is defined on the colour image) with
``--reference``. ``--crop-border N`` removes N pixels on every side before all three (default: the scale, from
``--scale`` or else from an ``x<k>`` suffix that every paired SR file carries; 0 when neither gives one).
"""

from __future__ import annotations

import argparse
import csv
import errno
import io
import json
import math
import sys
import tempfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from hyra_lightning.checks import check_choice, check_int
from hyra_lightning.commands.device import resolve_device
from hyra_lightning.commands.pairing import Pairing, pair_files
from hyra_lightning.commands.records import json_safe
from hyra_lightning.options import (
    FSDS_REFERENCES,
    SCORE_PROTOCOLS,
    Y_ROUNDINGS,
    FSDSReference,
    ScoreProtocol,
    TableFormat,
    YRounding,
)

__all__ = [
    "OUT_FORMATS",
    "PAPER_PROTOCOL",
    "ScoreResult",
    "build_parser",
    "check_out_writable",
    "main",
    "out_format",
    "score",
]

#: What the paper's Table 1 used: RGB, no border crop, data range 1, FSDS with the SR image as reference.
PAPER_PROTOCOL: dict[str, Any] = {"y_channel": False, "crop_border": 0, "reference": "preds"}
#: The extensions of ``--out`` files: the JSON document, a CSV table, a Markdown table.
OUT_FORMATS: tuple[str, ...] = (".json", ".csv", ".md")
#: Side of the SSIM window: the smallest image (after the crop) that can be scored.
_MIN_SIDE = 11

# ------------------------------------------------------------------------------------------- scoring


@dataclass
class ScoreResult:
    """What :func:`score` measured.

    Attributes:
        images: ``[{"name", "sr", "hr", "psnr", "ssim", "fsds"}]`` per scored pair, sorted by name.
        mean: ``{"psnr", "ssim", "fsds"}`` means over the scored images (NaN scores left out).
        protocol: the settings: ``{"name", "color", "y_rounding", "crop_border", "data_range",
            "fsds_reference", "fsds_color", "scale", "scale_source"}``.
        pairing: the :class:`Pairing` (unmatched and ambiguous files).
        size_mismatches: ``[{"name", "sr", "hr", "sr_size", "hr_size"}]`` pairs left out because their sizes differ.
        unreadable: ``[{"file", "reason"}]`` files that could not be read (their pairs are left out).
        too_small: ``[{"name", "sr", "hr", "size"}]`` pairs smaller than the 11 x 11 SSIM window after the crop.
    """

    images: list[dict[str, Any]]
    mean: dict[str, float]
    protocol: dict[str, Any]
    pairing: Pairing
    size_mismatches: list[dict[str, Any]]
    unreadable: list[dict[str, str]] = field(default_factory=list)
    too_small: list[dict[str, Any]] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """One line per file that was not scored, with the reason."""
        lines = [f"unmatched SR file {p.name}: {why}" for p, why in self.pairing.unmatched_sr]
        lines += [f"unmatched HR file {p.name}: no SR file pairs with it" for p in self.pairing.unmatched_hr]
        lines += [
            f"ambiguous: {', '.join(p.name for p in srs)} all pair with HR {name}; none is scored"
            for name, srs in self.pairing.ambiguous.items()
        ]
        lines += [
            f"size mismatch for {m['name']}: SR {m['sr_size'][1]} x {m['sr_size'][0]}, HR {m['hr_size'][1]} x"
            f" {m['hr_size'][0]} (width x height)"
            for m in self.size_mismatches
        ]
        lines += [f"unreadable file {Path(u['file']).name}: {u['reason']}" for u in self.unreadable]
        lines += [
            f"too small: {t['name']} is {t['size'][1]} x {t['size'][0]} (width x height); SSIM needs"
            f" {_MIN_SIDE} x {_MIN_SIDE} after a crop border of {self.protocol['crop_border']} per side"
            for t in self.too_small
        ]
        return lines

    def protocol_text(self) -> str:
        """The settings in one line, as the printed header, the Markdown file and the CSV comment give them.

        Example: ``custom (Y rounded to integers (MATLAB), crop border 4 (from the x4 file name suffixes), data
        range 1, FSDS reference target)``.
        """
        p = self.protocol
        if p["color"] == "y":
            color = (
                "Y as a float (BasicSR)" if p["y_rounding"] == "float" else "Y rounded to integers (MATLAB)"
            )
        else:
            color = "RGB"
        if p["name"] == "paper":
            source = "the paper's protocol"
        elif p.get("crop_border_source") == "--crop-border":
            source = "from --crop-border"
        elif p["scale_source"] == "suffix":
            source = f"from the x{p['scale']} file name suffixes"
        elif p["scale_source"] == "--scale":
            source = "from --scale"
        else:
            source = "no scale given"
        return (
            f"{p['name']} ({color}, crop border {p['crop_border']} ({source}), data range {p['data_range']:g},"
            f" FSDS reference {p['fsds_reference']})"
        )

    def as_dict(self) -> dict[str, Any]:
        """The JSON document written by ``--out FILE.json``."""
        return {
            "images": [
                {k: v for k, v in img.items() if k in ("name", "sr", "hr", "psnr", "ssim", "fsds")}
                for img in self.images
            ],
            "mean": self.mean,
            "protocol": self.protocol,
            "unmatched": {
                "sr": [{"file": str(p), "reason": why} for p, why in self.pairing.unmatched_sr],
                "hr": [str(p) for p in self.pairing.unmatched_hr],
                "ambiguous": {k: [str(p) for p in v] for k, v in self.pairing.ambiguous.items()},
                "unreadable": self.unreadable,
            },
            "size_mismatches": self.size_mismatches,
            "too_small": self.too_small,
        }

    def table(self, fmt: TableFormat = "text") -> str:
        """The per-image table with the mean as last row (plain text or Markdown)."""
        rows = [(img["name"], img["psnr"], img["ssim"], img["fsds"]) for img in self.images]
        rows.append(("mean", self.mean["psnr"], self.mean["ssim"], self.mean["fsds"]))
        if fmt == "md":
            out = ["| image | PSNR (dB) | SSIM | FSDS (dB) |", "| --- | ---: | ---: | ---: |"]
            out += [f"| {n} | {p:.4f} | {s:.4f} | {f:.4f} |" for n, p, s, f in rows]
            return "\n".join(out)
        width = max(5, *(len(r[0]) for r in rows))
        out = [f"{'image':<{width}}  {'PSNR':>9}  {'SSIM':>7}  {'FSDS':>9}"]
        out += [f"{n:<{width}}  {p:9.4f}  {s:7.4f}  {f:9.4f}" for n, p, s, f in rows[:-1]]
        out.append("-" * len(out[0]))
        n, p, s, f = rows[-1]
        out.append(f"{n:<{width}}  {p:9.4f}  {s:7.4f}  {f:9.4f}")
        return "\n".join(out)

    def write(self, path: str | Path) -> None:
        """Write the scores to ``path``: ``.json`` (:meth:`as_dict`), ``.csv`` or ``.md`` by extension."""
        path = Path(path)
        suffix = out_format(path)
        if suffix == ".json":
            text = json.dumps(json_safe(self.as_dict()), indent=2) + "\n"
        elif suffix == ".csv":
            buf = io.StringIO()
            buf.write(f"# protocol: {self.protocol_text()}\n")
            writer = csv.writer(buf, lineterminator="\n")
            writer.writerow(["name", "psnr", "ssim", "fsds"])
            for img in self.images:
                writer.writerow([img["name"], repr(img["psnr"]), repr(img["ssim"]), repr(img["fsds"])])
            writer.writerow(
                ["mean", repr(self.mean["psnr"]), repr(self.mean["ssim"]), repr(self.mean["fsds"])]
            )
            text = buf.getvalue()
        else:
            text = f"Protocol: {self.protocol_text()}\n\n{self.table('md')}\n"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def out_format(path: str | Path) -> str:
    """The format of a ``--out`` file, its lower-case extension (one of :data:`OUT_FORMATS`).

    Raises:
        ValueError: naming ``--out`` and the extensions it takes.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in OUT_FORMATS:
        raise ValueError(f"Expected `--out` to end in .json, .csv or .md, got {Path(path).name!r}.")
    return suffix


def check_out_writable(path: str | Path) -> None:
    """Check, before any scoring, that ``--out`` can be written: a known extension, not a folder, and a folder
    above it that exists (or can be made) and is writable.

    Raises:
        ValueError: naming ``--out`` and what is wrong with it.
    """
    out_format(path)
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"Expected `--out` to be a file, got {str(path)!r}, which is a folder.")
    try:
        if path.exists():
            with path.open("a"):  # opened for appending, not truncated: the file is unchanged
                pass
            return
        parent = path.parent
        while not parent.exists():  # the nearest existing folder above must let us create what is missing
            parent = parent.parent
        if not parent.is_dir():
            raise ValueError(f"Cannot write `--out` {str(path)!r}: {str(parent)!r} is a file, not a folder.")
        with tempfile.TemporaryFile(dir=parent):  # a real try: permissions, read-only or virtual file systems
            pass
    except OSError as err:
        raise ValueError(
            f"Cannot write `--out` {str(path)!r} ({err.strerror or err}). Choose another path."
        ) from err


def _unreadable_entries(folder: Path) -> list[tuple[Path, str]]:
    """Entries of ``folder`` named like images that :func:`~hyra_lightning.io.list_images` cannot list:
    broken symlinks and symlink loops, each with the reason."""
    from hyra_lightning.io import IMAGE_SUFFIXES

    found = []
    for entry in sorted(folder.iterdir()):
        if entry.suffix.lower() not in IMAGE_SUFFIXES or entry.name.startswith(".") or not entry.is_symlink():
            continue
        try:
            entry.stat()
        except OSError as err:
            why = (
                "a symlink loop"
                if err.errno == errno.ELOOP
                else "a broken symlink (its target does not exist)"
            )
            found.append((entry, why))
    return found


def _mean(values: list[float]) -> float:
    """Mean leaving out NaN (undefined scores); an infinite score (identical images) makes the mean infinite."""
    defined = [v for v in values if not math.isnan(v)]
    return float(sum(defined) / len(defined)) if defined else math.nan


def _batches(
    pairs: list[tuple[str, Path, Path]], batch_size: int, workers: int
) -> Iterator[list[tuple[str, Path, Path, Tensor, Tensor]]]:
    """Read the pairs (in a thread pool when ``workers > 0``) and yield runs of up to ``batch_size``.

    A file that cannot be read comes back as its ``ValueError`` in place of the image.
    """
    from hyra_lightning.io import read_image

    def read(path: Path) -> Tensor | ValueError:
        try:
            return read_image(path)
        except ValueError as err:  # a truncated or non-image file: listed by the caller, the others go on
            return err

    def load(pair: tuple[str, Path, Path]) -> tuple[str, Path, Path, Tensor, Tensor]:
        name, sr, hr = pair
        return name, sr, hr, read(sr), read(hr)  # type: ignore[return-value]

    if workers > 0:
        # At most `batch_size + workers` pairs are decoded ahead, so memory stays bounded on large folders.
        ahead = batch_size + workers
        with ThreadPoolExecutor(max_workers=workers) as pool:
            pending: deque[Future] = deque(pool.submit(load, p) for p in pairs[:ahead])
            following = iter(pairs[ahead:])
            batch: list[tuple[str, Path, Path, Tensor, Tensor]] = []
            while pending:
                batch.append(pending.popleft().result())
                nxt = next(following, None)
                if nxt is not None:
                    pending.append(pool.submit(load, nxt))
                if len(batch) == batch_size:
                    yield batch
                    batch = []
            if batch:
                yield batch
        return
    batch = []
    for pair in pairs:
        batch.append(load(pair))
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def score(
    sr: str | Path,
    hr: str | Path,
    *,
    scale: int | None = None,
    y_channel: bool = False,
    y_rounding: YRounding = "float",
    crop_border: int | None = None,
    reference: FSDSReference | None = None,
    protocol: ScoreProtocol = "custom",
    device: str | torch.device = "auto",
    batch_size: int = 4,
    workers: int = 4,
    progress: bool = True,
) -> ScoreResult:
    """Score a folder of SR images against a folder of HR images (see the module docstring for the rules).

    Args:
        sr: folder of SR images.
        hr: folder of HR images.
        scale: the SR scale; checks ``x<k>`` suffixes and sets the default ``crop_border``. When not given, the
            ``x<k>`` suffix that every paired SR file carries gives it (``protocol["scale_source"]`` says which).
        y_channel: PSNR and SSIM on the BT.601 luma.
        y_rounding: the luma as a float (``"float"``, BasicSR) or rounded to integers on the 0-255 scale
            (``"matlab"``, as MATLAB's ``rgb2ycbcr`` on 8-bit images and pyiqa's SSIM).
        crop_border: pixels removed on every side; default the scale (given or from the suffixes), else 0.
        reference: FSDS reference, ``"target"`` (the paper's equation; the default) or ``"preds"`` (its
            Table 1 script).
        protocol: ``"paper"`` sets the paper's Table 1 settings (RGB, no crop, data range 1, FSDS reference
            ``"preds"``) and refuses conflicting options.
        device: ``"auto"`` (the GPU when there is one), ``"cpu"``, ``"cuda:0"``...
        batch_size: images of one size scored together.
        workers: threads that decode image files ahead of the scoring (0: read in the calling thread).
        progress: show a progress bar on stderr.

    Returns:
        A :class:`ScoreResult`.

    Raises:
        ValueError: for a missing folder, a folder without images, bad options, or no pair to score (the
            message says why the files did not pair). Files that cannot be read or scored are listed in the
            result instead (:attr:`ScoreResult.problems`).
    """
    from hyra_lightning.functional.image_scores import image_scores
    from hyra_lightning.io import list_images

    check_choice("protocol", protocol, SCORE_PROTOCOLS)
    check_choice("reference", reference, FSDS_REFERENCES, optional=True)
    check_choice("y_rounding", y_rounding, Y_ROUNDINGS)
    check_int("scale", scale, optional=True)
    check_int("crop_border", crop_border, minimum=0, optional=True)
    check_int("batch_size", batch_size)
    check_int("workers", workers, minimum=0)
    if protocol == "paper":
        conflicts = []
        paper = PAPER_PROTOCOL
        if y_channel != paper["y_channel"]:
            conflicts.append("--y-channel (the paper scores RGB)")
        if crop_border not in (None, paper["crop_border"]):
            conflicts.append(f"--crop-border {crop_border} (the paper crops nothing)")
        if reference not in (None, paper["reference"]):
            conflicts.append(f"--reference {reference} (the paper's Table 1 used the SR image)")
        if conflicts:
            raise ValueError(f"`--protocol paper` fixes these settings; remove {', '.join(conflicts)}.")
        y_channel, border, reference = paper["y_channel"], paper["crop_border"], paper["reference"]
    else:
        border = crop_border
        reference = reference or "target"
    folders = {}
    unreadable: list[dict[str, str]] = []
    for arg, folder in (("--sr", sr), ("--hr", hr)):
        path = Path(folder)
        if not path.is_dir():
            raise ValueError(
                f"Expected `{arg}` to be a folder of images, got {str(folder)!r} (not a folder)."
            )
        files = list_images(path)
        unreadable += [{"file": str(p), "reason": why} for p, why in _unreadable_entries(path)]
        if not files:
            raise ValueError(f"Expected `{arg}` folder {str(folder)!r} to hold images, found none.")
        folders[arg] = files
    pairing = pair_files(folders["--sr"], folders["--hr"], scale)
    if not pairing.pairs:
        raise ValueError(_no_pairs_message(sr, hr, pairing, scale))
    scale_source = "--scale" if scale is not None else None
    if scale is None and pairing.common_scale is not None:
        scale, scale_source = pairing.common_scale, "suffix"
    if border is None:
        border = scale or 0
    dev = resolve_device(device)
    images: list[dict[str, Any]] = []
    mismatches: list[dict[str, Any]] = []
    too_small: list[dict[str, Any]] = []
    from tqdm.auto import tqdm

    bar = tqdm(total=len(pairing.pairs), desc="score", unit="img", disable=not progress, file=sys.stderr)
    try:
        for batch in _batches(pairing.pairs, batch_size, workers):
            groups: dict[tuple[int, ...], list[tuple[str, Path, Path, Tensor, Tensor]]] = {}
            for item in batch:
                name, sr_path, hr_path, sr_img, hr_img = item
                failed = [
                    (f, e) for f, e in ((sr_path, sr_img), (hr_path, hr_img)) if isinstance(e, Exception)
                ]
                if failed:
                    unreadable += [{"file": str(f), "reason": _read_reason(e, f)} for f, e in failed]
                    continue
                if sr_img.shape != hr_img.shape:
                    mismatches.append(
                        {
                            "name": name,
                            "sr": str(sr_path),
                            "hr": str(hr_path),
                            "sr_size": list(sr_img.shape[-2:]),
                            "hr_size": list(hr_img.shape[-2:]),
                        }
                    )
                    continue
                if min(sr_img.shape[-2:]) - 2 * border < _MIN_SIDE:
                    too_small.append(
                        {
                            "name": name,
                            "sr": str(sr_path),
                            "hr": str(hr_path),
                            "size": list(sr_img.shape[-2:]),
                        }
                    )
                    continue
                groups.setdefault(tuple(sr_img.shape), []).append(item)
            for items in groups.values():
                preds = torch.stack([it[3] for it in items]).to(dev, non_blocking=True)
                target = torch.stack([it[4] for it in items]).to(dev, non_blocking=True)
                values = image_scores(
                    preds.clamp_(0, 1),
                    target,
                    y_channel=y_channel,
                    y_rounding=y_rounding,
                    crop_border=border,
                    reference=reference,
                )
                for k, (name, sr_path, hr_path, _, _) in enumerate(items):
                    images.append(
                        {
                            "name": name,
                            "sr": str(sr_path),
                            "hr": str(hr_path),
                            **{m: float(v[k]) for m, v in values.items()},
                        }
                    )
            bar.update(len(batch))
    finally:
        bar.close()
    images.sort(key=lambda img: img["name"])
    mean = {m: _mean([img[m] for img in images]) for m in ("psnr", "ssim", "fsds")}
    protocol_info = {
        "name": protocol,
        "color": "y" if y_channel else "rgb",
        "y_rounding": y_rounding,
        "crop_border": border,
        "crop_border_source": "--crop-border" if crop_border is not None else None,
        "data_range": 1.0,
        "fsds_reference": reference,
        "fsds_color": "rgb",
        "scale": scale,
        "scale_source": scale_source,
    }
    unreadable.sort(key=lambda u: (Path(u["file"]).name, u["file"]))
    return ScoreResult(
        images=images,
        mean=mean,
        protocol=protocol_info,
        pairing=pairing,
        size_mismatches=mismatches,
        unreadable=unreadable,
        too_small=too_small,
    )


def _read_reason(err: Exception, path: Path) -> str:
    """The reader's message without the file name it starts with (the listing names the file)."""
    text = str(err)
    prefix = f"Could not read image file {str(path)!r}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def _no_pairs_message(sr: str | Path, hr: str | Path, pairing: Pairing, scale: int | None) -> str:
    """Why no SR file paired: the scale suffixes that disagree with ``--scale``, the ambiguous claims, or
    the naming rule."""
    lead = f"No SR file in {str(sr)!r} pairs with an HR file in {str(hr)!r}"
    if pairing.refused_scales:
        said = sorted(set(pairing.refused_scales.values()))
        says = " or ".join(f"x{k}" for k in said)
        fix = f"pass `--scale {said[0]}`" if len(said) == 1 else "pass the scale of the files"
        return (
            f"{lead}: their file name suffixes say {says}, but `--scale` is {scale}. {fix.capitalize()}, or"
            " leave `--scale` out."
        )
    if pairing.ambiguous:
        claims = "; ".join(
            f"{', '.join(p.name for p in srs)} all pair with HR {name}"
            for name, srs in pairing.ambiguous.items()
        )
        return (
            f"{lead} unambiguously: {claims}. Expected one SR file per HR file: move the others to another"
            " folder (a suffix such as _x2 is read as a scale, _EDSR as a method)."
        )
    return f"{lead} (pairing is by file name stem, e.g. 0801x4.png or 0801_x4_SR.png with 0801.png)."


# ------------------------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``hyra-lightning score``."""
    from hyra_lightning.commands import HelpFormatter

    parser = argparse.ArgumentParser(
        prog="hyra-lightning score",
        description=(
            "PSNR, SSIM and FSDS of a folder of SR images against a folder of HR images. SR files pair with HR"
            " files by name stem; an SR stem may add a scale and/or method suffix: 0801x4.png, 0801_x4.png,"
            " 0801_x4_SR.png and 0801_EDSR.png all pair with 0801.png (the longest fitting HR stem wins)."
            " Unmatched files, HR files claimed twice and size mismatches are listed and not scored."
        ),
        epilog=(
            "examples:\n"
            "  hyra-lightning score --sr results/EDSR_x4 --hr DIV2K_valid_HR --scale 4 --y-channel --out edsr_x4.md\n"
            "  hyra-lightning score --sr results/EDSR_x4 --hr DIV2K_valid_HR --protocol paper --out table1.json"
        ),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--sr", required=True, metavar="DIR", help="folder of SR images")
    parser.add_argument("--hr", required=True, metavar="DIR", help="folder of HR (ground-truth) images")
    parser.add_argument(
        "--scale",
        type=int,
        default=None,
        metavar="S",
        help="SR scale: checks x<S> suffixes and is the default --crop-border (default: the x<k> suffix every"
        " paired SR file carries, else none)",
    )
    parser.add_argument(
        "--y-channel",
        action="store_true",
        help="PSNR and SSIM on the BT.601 luma Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255, as BasicSR's"
        " test_y_channel=True (FSDS stays on RGB)",
    )
    parser.add_argument(
        "--y-rounding",
        choices=Y_ROUNDINGS,
        default="float",
        help="with --y-channel: keep Y as a float, as BasicSR (default), or round it to integers on the 0-255"
        " scale first, as MATLAB's rgb2ycbcr on 8-bit images and pyiqa's SSIM (SSIM moves by up to about 0.002)",
    )
    parser.add_argument(
        "--crop-border",
        type=int,
        default=None,
        metavar="N",
        help="pixels removed on every side (default: --scale, else 0)",
    )
    parser.add_argument(
        "--reference",
        choices=FSDS_REFERENCES,
        default=None,
        help="FSDS denominator: the HR image (the paper's equation; default) or the SR image (its Table 1 script)",
    )
    parser.add_argument(
        "--protocol",
        choices=SCORE_PROTOCOLS,
        default="custom",
        help="'paper' sets what the paper's Table 1 used: RGB, no border crop, data range 1, FSDS with"
        " --reference preds",
    )
    parser.add_argument(
        "--out", default=None, metavar="FILE", help="write the scores to FILE.json, FILE.csv or FILE.md"
    )
    parser.add_argument(
        "--device", default="auto", help="'auto' (the GPU when there is one), 'cpu', 'cuda:0', ..."
    )
    parser.add_argument("--batch-size", type=int, default=4, help="images of one size scored together")
    parser.add_argument(
        "--workers", type=int, default=4, help="threads decoding image files ahead of the scoring"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``hyra-lightning score``; returns the exit code (1 when some files were not scored)."""
    args = build_parser().parse_args(argv)
    try:
        if args.out is not None:
            check_out_writable(args.out)  # before the scoring, not after it
        result = score(
            args.sr,
            args.hr,
            scale=args.scale,
            y_channel=args.y_channel,
            y_rounding=args.y_rounding,
            crop_border=args.crop_border,
            reference=args.reference,
            protocol=args.protocol,
            device=args.device,
            batch_size=args.batch_size,
            workers=args.workers,
            progress=not args.no_progress,
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    p = result.protocol
    if p["scale_source"] == "suffix":
        print(
            f"scale {p['scale']} taken from the x{p['scale']} suffix that every paired SR file carries"
            " (pass --scale or --crop-border to set it)"
        )
    print(f"{len(result.images)} image pairs, protocol {result.protocol_text()}")
    if result.images:
        print(result.table())
    problems = result.problems
    if problems:
        print(f"\n{len(problems)} file(s) not scored:", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
    if args.out is not None:
        try:
            result.write(args.out)
        except OSError as err:
            print(f"error: could not write `--out` {args.out!r}: {err}", file=sys.stderr)
            return 2
        print(f"wrote {args.out}")
    return 1 if problems else 0
