"""Read files out of a Qt resource bundle (`.rcc`, versions 1-3), as GCompris ships its media.

Layout: a 'qres' header (version, tree, data and names offsets), a tree of 14-byte nodes (22 from
version 2, with a modification time), names as length + hash + UTF-16BE, and data blobs as a
4-byte size then the bytes, zlib-compressed behind a 4-byte length when flagged (qCompress).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

COMPRESSED, DIRECTORY, COMPRESSED_ZSTD = 0x01, 0x02, 0x04


class RccError(ValueError):
    pass


def read_rcc(path: Path) -> Iterator[tuple[str, bytes]]:
    """(path inside the bundle, contents) for every file."""
    blob = path.read_bytes()
    if blob[:4] != b"qres":
        raise RccError(f"{path}: not a Qt resource bundle")
    version, tree, data, names = struct.unpack(">IIII", blob[4:20])
    if version not in (1, 2, 3):
        raise RccError(f"{path}: rcc version {version} is not supported")
    node = 14 if version == 1 else 22

    def name(offset: int) -> str:
        (length,) = struct.unpack(">H", blob[names + offset: names + offset + 2])
        start = names + offset + 6  # length, then a 4-byte hash, then the characters
        return blob[start: start + 2 * length].decode("utf-16-be")

    def walk(index: int, prefix: str) -> Iterator[tuple[str, bytes]]:
        at = tree + index * node
        name_off, flags = struct.unpack(">IH", blob[at: at + 6])
        here = f"{prefix}/{name(name_off)}" if index else ""
        if flags & DIRECTORY:
            count, first = struct.unpack(">II", blob[at + 6: at + 14])
            for child in range(first, first + count):
                yield from walk(child, here)
            return
        (offset,) = struct.unpack(">I", blob[at + 10: at + 14])
        (size,) = struct.unpack(">I", blob[data + offset: data + offset + 4])
        raw = blob[data + offset + 4: data + offset + 4 + size]
        if flags & COMPRESSED_ZSTD:
            raise RccError(f"{path}:{here}: zstd-compressed entries are not supported")
        yield here.lstrip("/"), zlib.decompress(raw[4:]) if flags & COMPRESSED else raw

    yield from walk(0, "")
