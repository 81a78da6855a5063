"""Tag names are declared once (hyra_lightning/tags.py): the README table lists exactly those, and they match
what the analysis layer produces."""

from __future__ import annotations

import dataclasses
import pathlib
import re

from hyra_lightning import tags
from hyra_lightning.analysis.impulse import READING_ERRORS, ImpulseDescriptors

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _readme_table_tags() -> set[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Tags and loggers") :]
    section = section[section.index("| tag | kind | written | meaning |") :]
    found: set[str] = set()
    for line in section.splitlines()[2:]:
        if not line.startswith("|"):
            break
        first = line.split("|")[1]
        found.update(re.findall(r"`([^`]+)`", first))
    return found


def test_readme_table_lists_exactly_the_declared_tags():
    assert _readme_table_tags() == set(tags.DOCUMENTED_TAGS)


def test_impulse_scalars_are_the_descriptors():
    names = [f.name for f in dataclasses.fields(ImpulseDescriptors)]
    assert names == [*tags.IMPULSE_SCALARS, *tags.IMPULSE_READING_SCALARS]
    assert tags.IMPULSE_READING_SCALARS == READING_ERRORS


def test_variable_tags():
    assert tags.fsds_band(7) == "fsds/band_07"
    assert re.fullmatch(tags.FSDS_BAND_PATTERN, tags.fsds_band(12))
    assert tags.hyra_sample(1) == "hyra/sample_1"
    assert tags.impulse_scalar("cutoff") == "impulse/cutoff"


def test_module_scalars_are_what_the_module_logs():
    from hyra_lightning.module import _make_metrics

    logged = {f"val/{name}" for name in _make_metrics(prefix="")} | {"train/loss", "val/loss"}
    assert logged == set(tags.MODULE_SCALARS)
