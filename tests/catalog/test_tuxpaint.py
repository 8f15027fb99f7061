"""Tux Paint's animal stamps (Debian's tuxpaint-stamps-default): captions resolved to taxa, pictures
and sounds written as a Darwin Core folder identified at the rank each caption names, and ingested."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from catalog.names import NameResolver
from catalog.names.birds import bird_taxonomy
from catalog.names.wordnet import WordNet
from catalog.sources.folder import FolderSource
from catalog.sources.packaged.tuxpaint import caption_of, resolve, stamps
from tests.support import make_settings, write_audio, write_image


def test_captions_resolve_through_their_head_noun(wordnet: WordNet) -> None:
    names = NameResolver([], wordnet, bird_taxonomy())
    rooster = resolve(names, wordnet, "colorful rooster")
    assert not isinstance(rooster, str)
    assert rooster[1] == "genus"
    assert rooster[0]["genus"] == "Gallus"
    assert rooster[0]["class"] == "Aves"
    assert rooster[0]["family"] == "Phasianidae"
    owl = resolve(names, wordnet, "owl")
    assert not isinstance(owl, str)
    assert owl == ({"class": "Aves", "order": "Strigiformes"}, "order")
    assert "several taxa" in str(resolve(names, wordnet, "blackbird"))  # an Old World thrush or an icterid
    assert resolve(names, wordnet, "stripey fish") == "no source knows the name"


def test_stamps_leave_out_cartoons_and_spoken_captions(tmp_path: Path) -> None:
    root = tmp_path / "animals"
    write_image(root / "birds/owl.png")
    (root / "birds/owl.txt").write_text("An owl.\nfr.utf8=Un hibou.\n")
    write_audio(root / "birds/owl.ogg", 0.5)
    write_audio(root / "birds/owl_desc.ogg", 0.5)  # a spoken caption, not the animal
    write_image(root / "birds/cartoon/duck.png")
    (root / "birds/cartoon/duck.txt").write_text("A duck.\n")
    write_image(root / "mammals/mole.png")  # no caption: left out
    found = stamps(root)
    assert [(s.key, s.caption, s.sound.name if s.sound else None) for s in found] == [("birds/owl", "owl", "owl.ogg")]
    assert caption_of(root / "birds/owl.txt") == "owl"


@pytest.mark.slow
def test_the_package_builds_a_folder_that_ingests_above_species(tmp_path: Path, wordnet: WordNet) -> None:
    from catalog.sources.packaged.gcompris import PackageError, cached_deb
    from catalog.sources.packaged.tuxpaint import PACKAGE, build

    try:
        deb = cached_deb(Path(os.environ.get("VITA_DEB_CACHE", Path.home() / ".cache" / "vita" / "debs")), PACKAGE)
    except PackageError as exc:
        if os.environ.get("VITA_REQUIRE_REAL_MEDIA"):
            pytest.fail(f"the real-media corpus is required here: {exc}")
        pytest.skip(f"no {PACKAGE}: {exc}")
    csv_path = build(tmp_path / "tux", deb)
    with csv_path.open() as fh:
        rows = list(csv.DictReader(fh))
    sounds = [r for r in rows if r["file"].endswith(".ogg")]
    assert len(sounds) >= 40
    assert len(rows) - len(sounds) >= 80
    assert {r["taxonRank"] for r in rows} <= {"class", "order", "family", "genus", "species"}
    assert all(r["class"] or r["taxonRank"] == "class" for r in rows)
    assert all(r["license"] for r in rows)
    owl = next(r for r in rows if r["catalogNumber"] == "tuxpaint:birds/owl.ogg")
    assert (owl["scientificName"], owl["taxonRank"], owl["class"]) == ("Strigiformes", "order", "Aves")
    cat = make_settings(tmp_path).open_catalog()
    report = cat.ingest(FolderSource(tmp_path / "tux"))
    # the package gives three animals that make no sound a silent file: refused at ingest, each named
    assert report.added + report.duplicates + report.failed == len(rows) and report.failed <= 5, report.failures
    assert all(reason.startswith("recording is silent") for _, _, reason in report.failures), report.failures
    assert cat.species("owls").rank == "order"
    assert cat.species("owls").media
    cat.close()
