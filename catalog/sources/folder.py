"""A curator's own archive: a folder of media plus a Darwin Core CSV (and optional traits CSV).

Media CSV columns (Darwin Core names): scientificName, vernacularName, class, order, family,
genus, license, rightsHolder, eventDate, decimalLatitude, decimalLongitude, and a file path
column (`file`, `filePath`, `path`, `associatedMedia` or `accessURI`, relative to the folder).
`catalogNumber` or `occurrenceID`, when present, identifies the row; otherwise its path does.

Traits CSV: `scientificName` plus one column per trait category (catalog.traits keys such as
`activity` or `habitat`, multi-label values separated by ';') or AnimalCLAP's trait names.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from catalog.errors import VitaError
from catalog.licenses import normalise_license
from catalog.sources.base import (
    LocalFetchMixin,
    MediaRecord,
    Record,
    RecordFailure,
    TaxonRecord,
    TraitRecord,
    parse_coordinate,
    parse_date,
)
from catalog.taxonomy import RANKS, Lineage, normalise_scientific_name
from catalog.traits import ANIMALCLAP_TRAITS, BY_KEY, TraitError, TraitSource, expand, from_animalclap

PATH_COLUMNS = ("file", "filePath", "path", "associatedMedia", "accessURI")
ID_COLUMNS = ("catalogNumber", "occurrenceID", "id")
#: Darwin Core taxonRank values -> the rank kept (a subspecies' media count as its species').
_RANK_WORDS = {**{r: r for r in RANKS}, "subspecies": "species", "variety": "species", "form": "species"}
DEFAULT_CSV_NAMES = ("metadata.csv", "occurrences.csv", "media.csv")


class FolderError(VitaError, ValueError):
    """The folder or its CSV cannot be read at all (as opposed to one bad row)."""


def species_from(name: str) -> str:
    """'Hyla versicolor versicolor LeConte, 1825' -> 'Hyla versicolor' (binomial only)."""
    words = name.replace(",", " ").split()
    return normalise_scientific_name(" ".join(words[:2]))


class FolderSource(LocalFetchMixin):
    name = "folder"

    def __init__(self, root: Path, csv_path: Path | None = None, traits_csv: Path | None = None,
                 source_name: str = "folder") -> None:
        self.root = root.resolve()
        if not self.root.is_dir():
            raise FolderError(f"{root}: not a directory")
        self.csv_path = self._find_csv(csv_path)
        self.traits_csv = traits_csv
        self.name = source_name

    def _find_csv(self, csv_path: Path | None) -> Path:
        if csv_path is not None:
            path = csv_path if csv_path.is_absolute() else (Path.cwd() / csv_path)
            if not path.is_file():
                raise FolderError(f"{csv_path}: metadata CSV not found")
            return path
        for name in DEFAULT_CSV_NAMES:
            if (self.root / name).is_file():
                return self.root / name
        raise FolderError(f"{self.root}: no metadata CSV (looked for {', '.join(DEFAULT_CSV_NAMES)}); "
                          "pass --csv")

    def params(self) -> dict[str, Any]:
        return {"root": str(self.root), "csv": str(self.csv_path),
                "traits_csv": str(self.traits_csv) if self.traits_csv else None}

    def records(self) -> Iterator[Record]:
        media: list[MediaRecord] = []
        named: set[str] = set()
        for record in self._media_rows():
            if isinstance(record, MediaRecord) and record.lineage is not None and record.species not in named:
                named.add(record.species)
                yield TaxonRecord(record.lineage, record.extra.get("vernacularName"))
            if isinstance(record, MediaRecord):
                media.append(record)
            else:
                yield record
        yield from media
        if self.traits_csv is not None:  # after media, so species made from media rows exist
            yield from self._trait_rows(self.traits_csv)

    def _media_rows(self) -> Iterator[MediaRecord | RecordFailure]:
        with self.csv_path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            path_col = next((c for c in PATH_COLUMNS if c in header), None)
            if "scientificName" not in header or path_col is None:
                raise FolderError(f"{self.csv_path.name}: needs columns scientificName and one of "
                                  f"{', '.join(PATH_COLUMNS)}; found {', '.join(header) or 'none'}")
            id_col = next((c for c in ID_COLUMNS if c in header), None)
            for line, row in enumerate(reader, start=2):
                where = f"{self.csv_path.name}:{line}"
                try:
                    yield self._row(row, path_col, id_col, where)
                except ValueError as exc:
                    item = (row.get(path_col) or "").strip() or where
                    yield RecordFailure(f"{item} ({where})", "csv", str(exc))

    def _row(self, row: dict[str, str], path_col: str, id_col: str | None, where: str) -> MediaRecord:
        get = lambda k: (row.get(k) or "").strip()
        rel = get(path_col)
        if not rel:
            raise ValueError(f"empty {path_col}")
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"path {rel!r} escapes the corpus root {self.root}")
        name = get("scientificName")
        columns = [(r, get(k).capitalize()) for r, k in zip(RANKS, ("class", "order", "family", "genus")) if get(k)]
        rank = _RANK_WORDS.get(get("taxonRank").lower(), "?") if get("taxonRank") else None
        if rank == "?":
            raise ValueError(f"taxonRank {get('taxonRank')!r} is not one of {', '.join(RANKS)}")
        if not name and columns:  # lineage columns alone: the deepest one is the identification
            rank, name = columns[-1]
        if not name:
            raise ValueError("missing scientificName")
        lineage, record_rank = None, "species"
        higher: tuple[tuple[str, str], ...] = ()
        if rank in (None, "species") and len(name.split()) >= 2:
            species = species_from(name)
            ranks = [get(k) for k in ("class", "order", "family", "genus")]
            if all(ranks):
                lineage = Lineage(*(r.capitalize() for r in ranks), species)  # type: ignore[call-arg]  # four capitalised ranks and the species: exactly the five fields
        elif rank == "species":
            raise ValueError(f"scientificName {name!r} is not a species (genus and epithet)")
        else:  # identified to genus, family, order or class; unsaid, the rank is the column naming it
            species = normalise_scientific_name(name.split()[0])
            record_rank = rank or next((r for r, v in columns if v == species), "")
            if record_rank:
                above = [(r, v) for r, v in columns if RANKS.index(r) < RANKS.index(record_rank)]
                higher = (*above, (record_rank, species))
        return MediaRecord(
            source_id=get(id_col) if id_col and get(id_col) else str(path.relative_to(self.root)),
            species=species, path=path, lineage=lineage, rank=record_rank, higher=higher,
            license=normalise_license(get("license")), rights_holder=get("rightsHolder") or None,
            attribution=get("bibliographicCitation") or get("rightsHolder") or None,
            observed_on=parse_date(get("eventDate")),
            lat=parse_coordinate(get("decimalLatitude"), 90, "decimalLatitude"),
            lon=parse_coordinate(get("decimalLongitude"), 180, "decimalLongitude"),
            extra={k: v for k, v in {"csv_row": where, "vernacularName": get("vernacularName") or None,
                                     "scientificName": name, "locality": get("locality") or None,
                                     "region": get("stateProvince") or None,
                                     "country": get("country") or get("countryCode") or None}.items() if v},
        )

    def _trait_rows(self, path: Path) -> Iterator[Record]:
        if not path.is_file():
            yield RecordFailure(str(path), "traits", "traits CSV not found")
            return
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            for line, row in enumerate(reader, start=2):
                where = f"{path.name}:{line}"
                name = (row.pop("scientificName", "") or "").strip()
                if not name:
                    yield RecordFailure(where, "traits", "missing scientificName")
                    continue
                try:
                    facts: dict[tuple[str, str], bool] = {}
                    clap = {k: v for k, v in row.items() if k in ANIMALCLAP_TRAITS and v and v.strip()}
                    facts.update(from_animalclap(clap))
                    for key, value in row.items():
                        if key in BY_KEY and value is not None and value.strip():
                            facts.update({(key, lab): v for lab, v in expand(key, value).items()})
                        elif key not in ANIMALCLAP_TRAITS and key not in BY_KEY and key and value:
                            raise TraitError(f"unknown trait column {key!r}")
                except TraitError as exc:
                    yield RecordFailure(f"{where} ({name})", "traits", str(exc))
                    continue
                yield TraitRecord(species_from(name), facts, TraitSource.TABLE, 1.0)
