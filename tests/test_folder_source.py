"""A curator's folder + Darwin Core CSV, good and hostile, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sqlalchemy import func, select

from catalog.api import Catalog
from catalog.models import Media, Taxon, TraitValue
from catalog.sources.folder import FolderError, FolderSource
from tests.conftest import make_settings
from tests.media import tone, truncate, write_audio, write_image

COLUMNS = ["catalogNumber", "file", "scientificName", "vernacularName", "class", "order", "family", "genus",
           "license", "rightsHolder", "eventDate", "decimalLatitude", "decimalLongitude"]
HYLA = ["Amphibia", "Anura", "Hylidae", "Hyla"]


def row(cat: str, file: str, name: str, lineage: list[str] | None = None, **kw: str) -> dict[str, str]:
    base = dict(zip(["class", "order", "family", "genus"], lineage or ["", "", "", ""]))
    return {"catalogNumber": cat, "file": file, "scientificName": name, "vernacularName": kw.pop("common", ""),
            **base, "license": kw.pop("license", "CC BY 4.0"), "rightsHolder": kw.pop("holder", "A. Curator"),
            "eventDate": kw.pop("date", "2021-06-25"), "decimalLatitude": kw.pop("lat", "42.1"),
            "decimalLongitude": kw.pop("lon", "-71.5"), **kw}


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str] = COLUMNS) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
    return path


def good_corpus(root: Path) -> list[dict[str, str]]:
    write_audio(root / "frogs/hv1.wav", 1.2)
    write_audio(root / "frogs/hv2.flac", 1.0, freq=880.0)
    write_audio(root / "frogs/hc1.m4a", 1.0, freq=660.0)
    write_image(root / "photos/hv.jpg")
    write_audio(root / "owls/sv1.mp3", 1.0, freq=500.0)
    return [
        row("H-1", "frogs/hv1.wav", "Hyla versicolor LeConte, 1825", HYLA, common="Gray Treefrog"),
        row("H-2", "frogs/hv2.flac", "Hyla versicolor", HYLA, license="http://creativecommons.org/publicdomain/zero/1.0/"),
        # no lineage columns, but the genus is known from the rows above
        row("H-3", "frogs/hc1.m4a", "Hyla chrysoscelis", date="2020-05"),
        row("H-4", "photos/hv.jpg", "Hyla versicolor", HYLA, date="2019-07-04T21:30:00Z"),
        row("O-1", "owls/sv1.mp3", "Strix varia", ["Aves", "Strigiformes", "Strigidae", "Strix"],
            common="Barred Owl", license="CC BY-NC"),
    ]


def test_good_folder_is_ingested_with_metadata(settings, db_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "corpus"
    root.mkdir()
    write_csv(root / "metadata.csv", good_corpus(root))
    traits = write_csv(tmp_path / "traits.csv", [
        {"scientificName": "Hyla versicolor", "activity": "nocturnal", "habitat": "forest;wetland", "trophic": "no"},
        {"scientificName": "Strix varia", "activity_pattern": "nocturnal", "predator": "true"},
        {"scientificName": "Hyla chrysoscelis", "activity": "nocturnal"},  # a species made via its genus
    ], ["scientificName", "activity", "habitat", "trophic", "activity_pattern", "predator"])
    cat = Catalog(settings, url=db_url)
    report = cat.ingest(FolderSource(root, traits_csv=traits))
    assert (report.added, report.failed) == (5, 0), report.failures
    with cat.sessions() as s:
        m = s.scalar(select(Media).where(Media.source_id == "H-2"))
        assert m.license == "cc0" and m.kind == "audio" and m.format == "flac"
        assert m.observed_on == dt.date(2021, 6, 25) and m.lat == pytest.approx(42.1)
        assert s.scalar(select(Media.license).where(Media.source_id == "O-1")) == "cc-by-nc"
        assert s.scalar(select(Media.observed_on).where(Media.source_id == "H-4")) == dt.date(2019, 7, 4)
        photo = s.scalar(select(Media).where(Media.source_id == "H-4"))
        assert (photo.kind, photo.width, photo.height) == ("image", 48, 32)
        chrys = s.scalar(select(Taxon).where(Taxon.name == "Hyla chrysoscelis"))
        assert (chrys.family_name, chrys.class_name) == ("Hylidae", "Amphibia")  # via its genus
        assert s.scalar(select(Taxon.common_name).where(Taxon.name == "Hyla versicolor")) == "Gray Treefrog"
        facts = {(t.category, t.label): t.present for t in s.scalars(
            select(TraitValue).join(Taxon).where(Taxon.name == "Strix varia"))}
        assert facts[("activity", "nocturnal")] and facts[("trophic", "predator")]
        assert s.scalar(select(func.count()).select_from(TraitValue).join(Taxon)
                        .where(Taxon.name == "Hyla chrysoscelis", TraitValue.present.is_(True))) == 1
    again = cat.ingest(FolderSource(root, traits_csv=traits))
    assert (again.added, again.skipped, again.failed) == (0, 5, 0)
    with cat.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Media)) == 5
    cat.close()


def hostile_corpus(root: Path) -> tuple[list[dict[str, str]], dict[str, str]]:
    """Rows for a corpus full of trouble; returns (rows, {item fragment: reason fragment})."""
    root.mkdir(parents=True, exist_ok=True)
    rows = good_corpus(root)
    (root / "bad").mkdir()
    (root / "bad/empty.wav").touch()
    write_audio(root / "bad/cut.flac", 3.0) and truncate(root / "bad/cut.flac")
    (root / "bad/notes.wav").write_text("field notes\n" * 20)
    write_image(root / "bad/pic.png").rename(root / "bad/pic.wav")
    sf.write(root / "bad/silent.wav", np.zeros(8000, np.float32), 8000)
    nan = tone(1.0, 8000)
    nan[10:20] = np.nan
    sf.write(root / "bad/nan.wav", nan, 8000, subtype="FLOAT")
    write_audio(root / "bad/long.flac", 8.0, sr=8000)
    with (root / "bad/huge.wav").open("wb") as fh:
        fh.write(b"RIFF")
        fh.truncate(3 * 1024**2)
    (root.parent / "outside.wav").write_bytes((root / "frogs/hv1.wav").read_bytes())
    write_audio(root / "bad/orphan.wav", 1.0, freq=300.0)
    write_audio(root / "bad/nameless.wav", 1.0, freq=310.0)
    write_audio(root / "bad/baddate.wav", 1.0, freq=320.0)
    write_audio(root / "bad/badlat.wav", 1.0, freq=330.0)
    rows += [
        row("B-1", "bad/empty.wav", "Hyla versicolor", HYLA),
        row("B-2", "bad/cut.flac", "Hyla versicolor", HYLA),
        row("B-3", "bad/notes.wav", "Hyla versicolor", HYLA),
        row("B-4", "bad/pic.wav", "Hyla versicolor", HYLA),
        row("B-5", "bad/silent.wav", "Hyla versicolor", HYLA),
        row("B-6", "bad/nan.wav", "Hyla versicolor", HYLA),
        row("B-7", "bad/long.flac", "Hyla versicolor", HYLA),
        row("B-8", "bad/huge.wav", "Hyla versicolor", HYLA),
        row("B-9", "../outside.wav", "Hyla versicolor", HYLA),
        row("B-10", "bad/orphan.wav", "Nonexistus imaginarius"),
        row("B-11", "bad/nameless.wav", ""),
        row("B-12", "bad/baddate.wav", "Hyla versicolor", HYLA, date="31/31/2020"),
        row("B-13", "bad/badlat.wav", "Hyla versicolor", HYLA, lat="123.4"),
        row("B-14", "bad/missing.wav", "Hyla versicolor", HYLA),
        row("B-15", "frogs/hv1.wav", "Hyla versicolor", HYLA),  # same file again under another id
    ]
    expected = {
        "empty.wav": "empty", "cut.flac": "", "notes.wav": "text", "pic.wav": "PNG", "silent.wav": "silent",
        "nan.wav": "NaN", "long.flac": "limit", "huge.wav": "limit", "outside.wav": "escapes the corpus root",
        "orphan.wav": "unknown species 'Nonexistus imaginarius'", "nameless.wav": "missing scientificName",
        "baddate.wav": "bad date", "badlat.wav": "outside", "missing.wav": "not found",
    }
    return rows, expected


def test_hostile_folder_records_every_failure_and_keeps_the_rest(tmp_path: Path, db_url: str) -> None:
    settings = make_settings(tmp_path, max_file_bytes=2 * 1024**2, max_audio_seconds=5.0)
    root = tmp_path / "corpus"
    rows, expected = hostile_corpus(root)
    write_csv(root / "metadata.csv", rows)
    cat = Catalog(settings, url=db_url)
    # something already stored must survive a bad run
    write_audio(tmp_path / "earlier/a.wav", 1.0, freq=1234.0)
    write_csv(tmp_path / "earlier/metadata.csv", [row("E-1", "a.wav", "Hyla arborea", HYLA)])
    assert cat.ingest(FolderSource(tmp_path / "earlier", source_name="earlier")).added == 1

    report = cat.ingest(FolderSource(root))
    assert report.added == 5 and report.duplicates == 1
    assert report.failed == len(expected)
    listed = cat.failures()
    assert len(listed) == len(expected)
    for fragment, reason in expected.items():
        hits = [f for f in listed if fragment in f.item]
        assert len(hits) == 1, (fragment, [f.item for f in listed])
        assert reason in hits[0].reason, (fragment, hits[0].reason)
    with cat.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Media)) == 6
        assert s.scalar(select(Media.source_id).where(Media.source == "earlier")) == "E-1"

    # the curator fixes one file; the re-run adds it and the failure is resolved, not forgotten
    write_audio(root / "bad/silent.wav", 1.0, freq=555.0)
    again = cat.ingest(FolderSource(root))
    assert again.added == 1 and again.failed == len(expected) - 1
    assert not any("silent.wav" in f.item for f in cat.failures())
    assert any("silent.wav" in f.item and f.resolved for f in cat.failures(include_resolved=True))
    cat.close()


def test_unreadable_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FolderError, match="not a directory"):
        FolderSource(tmp_path / "nope")
    (tmp_path / "c").mkdir()
    with pytest.raises(FolderError, match="no metadata CSV"):
        FolderSource(tmp_path / "c")
    write_csv(tmp_path / "c/metadata.csv", [{"a": "1"}], ["a"])
    with pytest.raises(FolderError, match="needs columns scientificName"):
        list(FolderSource(tmp_path / "c").records())


def test_bad_traits_rows_are_failures(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    root = tmp_path / "corpus"
    root.mkdir()
    write_csv(root / "metadata.csv", good_corpus(root))
    traits = write_csv(tmp_path / "traits.csv", [
        {"scientificName": "Hyla versicolor", "activity": "nocturnal;diurnal"},
        {"scientificName": "Hyla versicolor", "activity": "sleepy"},
        {"scientificName": "Unknownia nowhere", "activity": "nocturnal"},
        {"scientificName": "Strix varia", "activity": "nocturnal"},
    ], ["scientificName", "activity"])
    cat = Catalog(settings)
    report = cat.ingest(FolderSource(root, traits_csv=traits))
    reasons = sorted(r for _, _, r in report.failures)
    assert report.failed == 3 and report.added == 5
    assert any("one of" in r for r in reasons) and any("sleepy" in r for r in reasons)
    assert any("unknown species 'Unknownia nowhere'" in r for r in reasons)
    cat.close()
