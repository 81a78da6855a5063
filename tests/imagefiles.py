"""Writers of image files Pillow cannot write itself (16-bit colour PNG and TIFF), for the reader's tests.

Both follow the file specifications directly (PNG: all five row filters, optional Adam7 interlacing; TIFF:
one strip, uncompressed or deflate-compressed, either byte order), so the reader is tested against files
produced independently of the decoder it uses.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

PNG_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type (grey, grey+alpha, RGB, RGBA)
_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)  # x0, y0, dx, dy


def _filter_rows(rows: np.ndarray, bpp: int, filters: tuple[int, ...]) -> bytes:
    out = bytearray()
    prev = np.zeros(rows.shape[1], np.int64)
    pad = np.zeros(bpp, np.int64)
    for y, row in enumerate(rows.astype(np.int64)):
        kind = filters[y % len(filters)]
        left = np.concatenate([pad, row[:-bpp]])
        upleft = np.concatenate([pad, prev[:-bpp]])
        if kind == 0:
            diff = row
        elif kind == 1:
            diff = row - left
        elif kind == 2:
            diff = row - prev
        elif kind == 3:
            diff = row - (left + prev) // 2
        else:  # Paeth
            # the predictor uses reconstructed bytes to the left, which equal the raw bytes here
            p = left + prev - upleft
            pa, pb, pc = np.abs(p - left), np.abs(p - prev), np.abs(p - upleft)
            diff = row - np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, upleft))
        out.append(kind)
        out += (diff % 256).astype(np.uint8).tobytes()
        prev = row
    return bytes(out)


def write_png(
    path: Path, samples: np.ndarray, filters: tuple[int, ...] = (0, 1, 2, 3, 4), interlace: bool = False
) -> None:
    """Write ``H x W`` or ``H x W x C`` uint8/uint16 ``samples`` as a PNG of that bit depth."""
    arr = samples if samples.ndim == 3 else samples[..., None]
    height, width, channels = arr.shape
    depth = 16 if arr.dtype == np.uint16 else 8
    bpp = channels * depth // 8
    big = arr.astype(">u2" if depth == 16 else "u1")

    def encode(sub: np.ndarray) -> bytes:
        if sub.size == 0:
            return b""
        rows = np.frombuffer(sub.tobytes(), np.uint8).reshape(sub.shape[0], sub.shape[1] * bpp)
        return _filter_rows(rows, bpp, filters)

    if interlace:
        data = b"".join(encode(big[y0::dy, x0::dx]) for x0, y0, dx, dy in _ADAM7)
    else:
        data = encode(big)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, depth, PNG_COLOUR_TYPES[channels], 0, 0, int(interlace))
    Path(path).write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(data))
        + chunk(b"IEND", b"")
    )


def write_tiff16(path: Path, samples: np.ndarray, *, big_endian: bool = False, deflate: bool = False) -> None:
    """Write ``H x W x C`` uint16 ``samples`` (C = 3 or 4) as a one-strip 16-bit RGB(A) TIFF."""
    height, width, channels = samples.shape
    bo = ">" if big_endian else "<"
    data = samples.astype(f"{bo}u2").tobytes()
    if deflate:
        data = zlib.compress(data)
    tags = [
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, channels, None),  # BitsPerSample, stored after the IFD
        (259, 3, 1, 8 if deflate else 1),  # Compression: Adobe deflate or none
        (262, 3, 1, 2),  # RGB
        (273, 4, 1, None),  # StripOffsets
        (277, 3, 1, channels),
        (278, 4, 1, height),
        (279, 4, 1, len(data)),
    ]
    if channels == 4:
        tags.append((338, 3, 1, 2))  # ExtraSamples: unassociated alpha
    ifd_size = 2 + 12 * len(tags) + 4
    bits_offset = 8 + ifd_size
    data_offset = bits_offset + 2 * channels
    entries = b""
    for tag, kind, count, value in tags:
        if tag == 258:
            value_bytes = struct.pack(f"{bo}I", bits_offset)
        elif tag == 273:
            value_bytes = struct.pack(f"{bo}I", data_offset)
        elif kind == 3:
            value_bytes = struct.pack(f"{bo}HH", value, 0)
        else:
            value_bytes = struct.pack(f"{bo}I", value)
        entries += struct.pack(f"{bo}HHI", tag, kind, count) + value_bytes
    Path(path).write_bytes(
        (b"MM" if big_endian else b"II")
        + struct.pack(f"{bo}HI", 42, 8)
        + struct.pack(f"{bo}H", len(tags))
        + entries
        + struct.pack(f"{bo}I", 0)
        + struct.pack(f"{bo}{channels}H", *([16] * channels))
        + data
    )
