"""Pairing SR files with HR files by name stem, for ``hyra-lightning score``.

The rule (case-sensitive): an SR file pairs with the HR file whose stem is either its own stem or a prefix of
it followed by a scale and/or method suffix, ``x<k>`` (optionally after ``_`` or ``-``) and/or
``_<anything>`` / ``-<anything>``: ``0801.png``, ``0801x4.png``, ``0801_x4.png``, ``0801_x4_SR.png`` and
``0801_EDSR.png`` all pair with ``0801.png``. When several HR stems fit, the longest wins. With a scale ``S``
a ``x<k>`` suffix must say ``k == S``. SR files that pair with nothing, HR files no SR file pairs with, and
HR files claimed by several SR files are returned, never dropped. The ``x<k>`` suffixes are kept, so a caller
can take the scale from them when every paired file says the same (:attr:`Pairing.common_scale`) and say why
files were refused (:attr:`Pairing.refused_scales`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Pairing", "pair_files"]

_SUFFIX = re.compile(r"^(?:[_-]?[xX](?P<scale>\d+))?(?:[_-].*)?$")


@dataclass
class Pairing:
    """The outcome of :func:`pair_files`.

    Attributes:
        pairs: ``(name, sr_path, hr_path)``, ``name`` the HR stem, sorted by name.
        unmatched_sr: SR files that pair with no HR file, each with the reason.
        unmatched_hr: HR files no SR file pairs with.
        ambiguous: ``{hr_name: [sr paths]}`` HR files that several SR files pair with (none is scored).
        suffix_scales: ``{sr_path: k}`` the ``x<k>`` suffix of every SR file that paired (``None``: no suffix).
        refused_scales: ``{sr_path: k}`` SR files refused only because their ``x<k>`` suffix is not the scale.
    """

    pairs: list[tuple[str, Path, Path]] = field(default_factory=list)
    unmatched_sr: list[tuple[Path, str]] = field(default_factory=list)
    unmatched_hr: list[Path] = field(default_factory=list)
    ambiguous: dict[str, list[Path]] = field(default_factory=dict)
    suffix_scales: dict[Path, int | None] = field(default_factory=dict)
    refused_scales: dict[Path, int] = field(default_factory=dict)

    @property
    def common_scale(self) -> int | None:
        """The ``k`` that the ``x<k>`` suffixes of all paired SR files say, or ``None`` if they do not all agree.

        Example:
            >>> pair_files([Path("1_x4.png"), Path("2x4.png")], [Path("1.png"), Path("2.png")]).common_scale
            4
            >>> pair_files([Path("1_x4.png"), Path("2.png")], [Path("1.png"), Path("2.png")]).common_scale is None
            True
        """
        paired = {self.suffix_scales.get(sr) for _, sr, _ in self.pairs}
        return paired.pop() if len(paired) == 1 else None


def pair_files(sr_files: Sequence[Path], hr_files: Sequence[Path], scale: int | None = None) -> Pairing:
    """Pair SR files with HR files by stem (the rule of this module's docstring).

    Example:
        >>> p = pair_files([Path("0801x4.png"), Path("0802_x4_SR.png"), Path("9.png")],
        ...                [Path("0801.png"), Path("0802.png")])
        >>> [(n, s.name) for n, s, _ in p.pairs], [s.name for s, _ in p.unmatched_sr]
        ([('0801', '0801x4.png'), ('0802', '0802_x4_SR.png')], ['9.png'])
    """
    hr_by_stem: dict[str, Path] = {}
    for path in hr_files:
        if path.stem in hr_by_stem:
            raise ValueError(
                f"Two HR files share the stem {path.stem!r}: {hr_by_stem[path.stem].name} and {path.name}."
                " Expected one HR file per name."
            )
        hr_by_stem[path.stem] = path
    claims: dict[str, list[Path]] = {}
    result = Pairing()
    for sr in sr_files:
        stem = sr.stem
        match: str | None = None
        suffix_scale: int | None = None
        reason = "no HR file with this stem or a prefix of it"
        for cut in range(len(stem), 0, -1):  # longest HR stem first
            prefix = stem[:cut]
            if prefix not in hr_by_stem:
                continue
            m = _SUFFIX.match(stem[cut:])
            if m is None or (cut < len(stem) and stem[cut] not in "_-xX"):
                continue
            k = m.group("scale")
            if scale is not None and k is not None and int(k) != scale:
                reason = f"its suffix says x{k}, but `--scale` is {scale}"
                result.refused_scales.setdefault(sr, int(k))
                continue
            match = prefix
            suffix_scale = None if k is None else int(k)
            break
        if match is None:
            result.unmatched_sr.append((sr, reason))
        else:
            result.refused_scales.pop(sr, None)
            result.suffix_scales[sr] = suffix_scale
            claims.setdefault(match, []).append(sr)
    for name in sorted(claims):
        srs = claims[name]
        if len(srs) > 1:
            result.ambiguous[name] = sorted(srs)
        else:
            result.pairs.append((name, srs[0], hr_by_stem[name]))
    result.unmatched_hr = sorted(p for stem, p in hr_by_stem.items() if stem not in claims)
    return result
