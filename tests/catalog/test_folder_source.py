"""A curator's folder + Darwin Core CSV, good and hostile, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from catalog.sources.folder import FolderError, FolderSource
from catalog.tables import Media, Taxon, TraitValue
from tests.support import (
    HYLA,
    good_corpus,
    hostile_corpus,
    make_settings,
    row,
    write_audio,
    write_csv,
)
from vita.settings import Settings


def test_good_folder_is_ingested_with_metadata(settings: Settings, db_url: str, tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    root.mkdir()
    write_csv(root / "metadata.csv", good_corpus(root))
    traits = write_csv(tmp_path / "traits.csv", [
        {"scientificName": "Hyla versicolor", "activity": "nocturnal", "habitat": "forest;wetland", "trophic": "no"},
        {"scientificName": "Strix varia", "activity_pattern": "nocturnal", "predator": "true"},
        {"scientificName": "Hyla chrysoscelis", "activity": "nocturnal"},  # a species made via its genus
    ], ["scientificName", "activity", "habitat", "trophic", "activity_pattern", "predator"])
    cat = settings.open_catalog(db_url)
    report = cat.ingest(FolderSource(root, traits_csv=traits))
    assert (report.added, report.failed) == (5, 0), report.failures
    with cat.sessions() as s:
        m = s.scalar(select(Media).where(Media.source_id == "H-2"))
        assert m.license == "cc0"
        assert m.kind == "audio"
        assert m.format == "flac"
        assert m.observed_on == dt.date(2021, 6, 25)
        assert m.lat == pytest.approx(42.1)
        assert s.scalar(select(Media.license).where(Media.source_id == "O-1")) == "cc-by-nc"
        assert s.scalar(select(Media.observed_on).where(Media.source_id == "H-4")) == dt.date(2019, 7, 4)
        photo = s.scalar(select(Media).where(Media.source_id == "H-4"))
        assert (photo.kind, photo.width, photo.height) == ("image", 48, 32)
        chrys = s.scalar(select(Taxon).where(Taxon.name == "Hyla chrysoscelis"))
        assert (chrys.family_name, chrys.class_name) == ("Hylidae", "Amphibia")  # via its genus
        assert s.scalar(select(Taxon.common_name).where(Taxon.name == "Hyla versicolor")) == "Gray Treefrog"
        facts = {(t.category, t.label): t.present for t in s.scalars(
            select(TraitValue).join(Taxon).where(Taxon.name == "Strix varia"))}
        assert facts[("activity", "nocturnal")]
        assert facts[("trophic", "predator")]
        assert s.scalar(select(func.count()).select_from(TraitValue).join(Taxon)
                        .where(Taxon.name == "Hyla chrysoscelis", TraitValue.present.is_(True))) == 1
    again = cat.ingest(FolderSource(root, traits_csv=traits))
    assert (again.added, again.skipped, again.failed) == (0, 5, 0)
    with cat.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Media)) == 5
    cat.close()


def test_a_folder_records_place_columns_and_results_name_the_place(tmp_path: Path) -> None:
    """Darwin Core's locality, stateProvince and country are kept; a result names them in that order."""
    from catalog.sources.base import MediaRecord
    from indexer.search.join import place_of

    root = tmp_path / "corpus"
    root.mkdir()
    good = good_corpus(root)[:1]
    good[0].update(locality="Sapsucker Woods", stateProvince="New York", country="United States")
    write_csv(root / "metadata.csv", good, [*good[0]])
    rec = next(r for r in FolderSource(root).records() if isinstance(r, MediaRecord))
    assert place_of(rec.extra) == "Sapsucker Woods, New York, United States"
    assert place_of({"country": "Peru"}) == "Peru"
    assert place_of({}) is None


def test_hostile_folder_records_every_failure_and_keeps_the_rest(tmp_path: Path, db_url: str) -> None:
    settings = make_settings(tmp_path, max_file_bytes=2 * 1024**2, max_audio_seconds=5.0)
    root = tmp_path / "corpus"
    rows, expected = hostile_corpus(root)
    write_csv(root / "metadata.csv", rows)
    cat = settings.open_catalog(db_url)
    # something already stored must survive a bad run
    write_audio(tmp_path / "earlier/a.wav", 1.0, freq=1234.0)
    write_csv(tmp_path / "earlier/metadata.csv", [row("E-1", "a.wav", "Hyla arborea", HYLA)])
    assert cat.ingest(FolderSource(tmp_path / "earlier", source_name="earlier")).added == 1

    report = cat.ingest(FolderSource(root))
    assert report.added == 5
    assert report.duplicates == 1
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
    assert again.added == 1
    assert again.failed == len(expected) - 1
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
    cat = settings.open_catalog()
    report = cat.ingest(FolderSource(root, traits_csv=traits))
    reasons = sorted(r for _, _, r in report.failures)
    assert report.failed == 3
    assert report.added == 5
    assert any("one of" in r for r in reasons)
    assert any("sleepy" in r for r in reasons)
    assert any("unknown species 'Unknownia nowhere'" in r for r in reasons)
    cat.close()
