"""Sources of taxa, traits and media: demo world, folder + CSV, iNaturalist, Xeno-canto."""

from catalog.sources.base import (
    MediaRecord,
    Record,
    RecordFailure,
    Source,
    TaxonRecord,
    TraitRecord,
)

__all__ = ["MediaRecord", "Record", "RecordFailure", "Source", "TaxonRecord", "TraitRecord"]
