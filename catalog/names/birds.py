"""The eBird/Clements bird taxonomy (2024), as the `birdnames` package ships it (MIT; data from the
Cornell Lab of Ornithology): every bird species' common name, genus, family and order.

It names birds the catalog does not hold yet ("mallard" -> Anas platyrhynchos, Anatidae,
Anseriformes) and gives BirdNET's labels full lineages.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources

from catalog.taxonomy import Lineage

#: The file inside the `birdnames` wheel: the eBird/Clements checklist of 2024.
PACKAGE, TABLE = "birdnames", "data/processed/ebird_2024_taxonomy.csv"


@dataclass(frozen=True)
class BirdTaxonomy:
    by_scientific: dict[str, tuple[Lineage, str]]  # binomial -> (lineage, English name)
    by_common: dict[str, str]  # lower-cased English name -> binomial
    higher: dict[str, tuple[str, str]]  # lower-cased genus, family or order -> (rank, name)
    above: dict[tuple[str, str], dict[str, str]]  # (rank, name) of a genus, family or order -> its lineage

    def lineage(self, scientific: str) -> Lineage | None:
        hit = self.by_scientific.get(scientific)
        return hit[0] if hit else None

    def common_name(self, scientific: str) -> str | None:
        hit = self.by_scientific.get(scientific)
        return hit[1] if hit else None

    def lineage_at(self, rank: str, name: str) -> dict[str, str] | None:
        """rank -> name from the class down to a bird taxon at any rank, or None for no bird taxon."""
        if rank == "species":
            lin = self.lineage(name)
            return dict(zip(("class", "order", "family", "genus", "species"), lin.names())) if lin else None
        return self.above.get((rank, name))

    def species_for(self, common: str) -> str | None:
        return self.by_common.get(common.strip().lower())


@cache
def bird_taxonomy() -> BirdTaxonomy | None:
    """The checklist, read once; None when `birdnames` is not installed."""
    try:
        text = resources.files(PACKAGE).joinpath(TABLE).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        return None
    by_sci: dict[str, tuple[Lineage, str]] = {}
    by_com: dict[str, str] = {}
    higher: dict[str, tuple[str, str]] = {}
    above: dict[tuple[str, str], dict[str, str]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        sci, genus = row["scientific_name"].strip(), row["genus"].strip()
        if len(sci.split()) != 2 or sci.split()[0] != genus:
            continue  # slashes, hybrids, spuhs: not species
        try:
            lineage = Lineage("Aves", row["ebird_order"].strip(), row["ebird_family"].strip(), genus, sci)
        except ValueError:
            continue
        common = row["ebird_common_name"].strip()
        by_sci[sci] = (lineage, common)
        if common:
            by_com.setdefault(common.lower(), sci)
        path: dict[str, str] = {"class": "Aves"}
        for rank, name in (("order", lineage.order), ("family", lineage.family), ("genus", genus)):
            higher.setdefault(name.lower(), (rank, name))
            path[rank] = name
            above.setdefault((rank, name), dict(path))
    return BirdTaxonomy(by_sci, by_com, higher, above)
