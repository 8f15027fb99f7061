"""Real media from a Debian package: the Qt resource reader, the credits parsers, and (where the
.deb can be fetched) the whole GCompris corpus built and ingested."""

from __future__ import annotations

import csv
import struct
import zlib
from pathlib import Path

import pytest

from catalog.sources.folder import FolderSource
from catalog.sources.packaged.gcompris import FILES, build, debian_credit, debian_credits, readme_credits
from catalog.sources.packaged.rcc import RccError, read_rcc
from tests.support import make_settings, real_corpus_deb


def _rcc(files: dict[str, tuple[bytes, bool]], version: int = 3) -> bytes:
    """A Qt resource bundle with one directory 'res' holding `files` (name -> (bytes, compressed))."""
    names, data = b"", b""

    def name(n: str) -> int:
        nonlocal names
        off = len(names)
        names += struct.pack(">HI", len(n), 0) + n.encode("utf-16-be")
        return off

    def node(name_off: int, flags: int, a: int, b: int, file: bool) -> bytes:
        body = struct.pack(">IH", name_off, flags) + (struct.pack(">HHI", 0, 0, b) if file else struct.pack(">II", a, b))
        return body + (b"\0" * 8 if version > 1 else b"")

    nodes = [node(0, 0x02, 1, 1, False), node(name("res"), 0x02, len(files), 2, False)]
    for fname, (blob, compressed) in files.items():
        payload = struct.pack(">I", len(blob)) + zlib.compress(blob) if compressed else blob
        nodes.append(node(name(fname), 0x01 if compressed else 0, 0, len(data), True))
        data += struct.pack(">I", len(payload)) + payload
    header = 20 + (4 if version >= 3 else 0)
    tree = b"".join(nodes)
    offsets = (header, header + len(tree), header + len(tree) + len(data))
    head = b"qres" + struct.pack(">IIII", version, *offsets) + (struct.pack(">I", 0) if version >= 3 else b"")
    return head + tree + data + names


@pytest.mark.parametrize("version", [1, 2, 3])
def test_rcc_files_come_out_whole(tmp_path: Path, version: int) -> None:
    files = {"call.ogg": (b"OggS" + bytes(range(200)), False), "photo.webp": (b"RIFF" + b"x" * 5000, True)}
    (tmp_path / "a.rcc").write_bytes(_rcc(files, version))
    assert dict(read_rcc(tmp_path / "a.rcc")) == {f"res/{k}": v for k, (v, _) in files.items()}
    (tmp_path / "b.rcc").write_bytes(b"PK\x03\x04 not a bundle")
    with pytest.raises(RccError, match="b.rcc"):
        list(read_rcc(tmp_path / "b.rcc"))


def test_credits_from_readme_and_debian_copyright() -> None:
    readme = ("Copyright: Timothée Giet\nLicense: CC-BY-SA 4.0\nFiles:\ncat.svg\ndog.svg\n\n"
              "Copyright: Loliloli\nLicense: Public Domain\nSource: https://commons.wikimedia.org/wiki/File:K.JPG\n"
              "Files:\ncat.webp\n")
    credits = readme_credits(readme)
    assert credits["cat.webp"].rights_holder == "Loliloli"
    assert credits["cat.webp"].source.endswith("K.JPG")
    assert credits["dog.svg"].license == "CC-BY-SA 4.0"
    assert "cow.webp" not in credits
    dep5 = ("Files: *\nCopyright: Everyone\nLicense: GPL-3+\n\n"
            "Files: src/activities/x/resource/animals/*\n       src/other/*\nCopyright: A. B\nLicense: GPL-3+\n\n"
            "Files: src/activities/x/resource/animals/panda.jpg\nCopyright: Jeff\nLicense: public-domain\n")
    stanzas = debian_credits(dep5)
    assert debian_credit(stanzas, "src/activities/x/resource/animals/panda.webp").rights_holder == "Jeff"  # the .jpg, converted
    assert debian_credit(stanzas, "src/activities/x/resource/animals/cow.webp").rights_holder == "A. B"
    assert debian_credit(stanzas, "README").rights_holder == "Everyone"


def test_the_gcompris_corpus_builds_and_ingests(tmp_path: Path) -> None:
    deb = real_corpus_deb()
    csv_path = build(tmp_path / "real", deb)
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    assert len(rows) == len(FILES)
    assert len({r["catalogNumber"] for r in rows}) == len(rows)
    assert all(r["license"] and r["rightsHolder"] and (tmp_path / "real" / r["file"]).stat().st_size > 1000 for r in rows)
    assert sum(r["file"].endswith(".ogg") for r in rows) == 8
    panda = next(r for r in rows if r["file"].endswith("world_animals-panda.webp"))
    assert (panda["license"], panda["rightsHolder"]) == ("cc0", "Jeff Kubina")
    assert "commons.wikimedia.org" in panda["references"]
    cat = make_settings(tmp_path).open_catalog()
    with cat:
        report = cat.ingest(FolderSource(tmp_path / "real"))
        assert (report.added, report.failed) == (len(rows), 0)
        assert cat.species("Gallus gallus").lineage["family"] == "Phasianidae"
