"""The ingest loop's guarantees, whatever the source: nothing stored is lost, everything refused is listed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from catalog.facade import Catalog
from catalog.sources.base import LocalFetchMixin, MediaRecord, Record, TaxonRecord, TraitRecord
from catalog.tables import Media
from catalog.taxonomy import Lineage
from tests.support import write_audio

HV = Lineage("Amphibia", "Anura", "Hylidae", "Hyla", "Hyla versicolor")


class FlakySource(LocalFetchMixin):
    """Yields a taxon, a bad trait record, three good files, then (optionally) dies."""

    name = "flaky"

    def __init__(self, root: Path, die: bool) -> None:
        self.root, self.die = root, die

    def params(self) -> dict[str, Any]:
        return {"root": str(self.root)}

    def records(self) -> Iterator[Record]:
        yield TaxonRecord(HV, "Gray Treefrog")
        yield TraitRecord("Hyla versicolor", {("diet", "rocks"): True})
        yield TraitRecord("Hyla versicolor", {("activity", "nocturnal"): True})
        for i in range(3):
            path = write_audio(self.root / f"{i}.wav", 1.0, freq=300.0 + 100 * i)
            yield MediaRecord(source_id=str(i), species="Hyla versicolor", path=path)
        if self.die:
            raise RuntimeError("the API went away")
        path = write_audio(self.root / "3.wav", 1.0, freq=900.0)
        yield MediaRecord(source_id="3", species="Hyla versicolor", path=path)


def test_a_dying_source_keeps_what_came_before(catalog: Catalog, tmp_path: Path) -> None:
    report = catalog.ingest(FlakySource(tmp_path, die=True))
    assert report.added == 3
    assert report.traits == 1
    assert report.failed == 2  # the bad trait label and the source itself
    stages = sorted(f.stage for f in catalog.failures())
    assert stages == ["source", "traits"]
    assert any("the API went away" in f.reason for f in catalog.failures())
    with catalog.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Media)) == 3

    again = catalog.ingest(FlakySource(tmp_path, die=False))
    assert (again.added, again.skipped) == (1, 3)
    assert [f.stage for f in catalog.failures()] == ["traits"]  # the source failure is resolved
    with catalog.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Media)) == 4
