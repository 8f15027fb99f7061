"""Ranks and lineages: the five Linnaean ranks every species is filed under."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class Rank(str, Enum):
    """The ranks VITA keeps, broad to narrow (BioVITA and AnimalCLAP use the same five)."""

    CLASS = "class"
    ORDER = "order"
    FAMILY = "family"
    GENUS = "genus"
    SPECIES = "species"

    @classmethod
    def ordered(cls) -> list[Rank]:
        return [cls(r) for r in RANKS]

    @property
    def level(self) -> int:
        """0 for class .. 4 for species."""
        return Rank.ordered().index(self)


#: The rank names, broad to narrow: the one list every layer uses (payload fields, filters, the UI).
RANKS: tuple[str, ...] = ("class", "order", "family", "genus", "species")

_BINOMIAL = re.compile(r"^[A-Z][a-z-]+ [a-z][a-z-]+$")


def normalise_scientific_name(name: str) -> str:
    """'  hyla   VERSICOLOR ' -> 'Hyla versicolor' (genus capitalised, epithet lower case)."""
    parts = name.strip().split()
    if not parts:
        return ""
    head = parts[0][:1].upper() + parts[0][1:].lower()
    return " ".join([head, *(p.lower() for p in parts[1:])])


def is_binomial(name: str) -> bool:
    """True for a plain 'Genus epithet' name (subspecies and hybrids are not species here)."""
    return bool(_BINOMIAL.match(name))


@dataclass(frozen=True, slots=True)
class Lineage:
    """A species and its ancestors; the unit every source must resolve a record to."""

    class_: str
    order: str
    family: str
    genus: str
    species: str  # the binomial, e.g. "Hyla versicolor"

    def __post_init__(self) -> None:
        missing = [r.value for r, v in zip(Rank.ordered(), self.names()) if not v]
        if missing:
            raise ValueError(f"lineage of {self.species or '?'} lacks {', '.join(missing)}")
        if self.species.split()[0] != self.genus:
            raise ValueError(f"species {self.species!r} is not in genus {self.genus!r}")

    def names(self) -> tuple[str, str, str, str, str]:
        return (self.class_, self.order, self.family, self.genus, self.species)

    def at(self, rank: Rank) -> str:
        return self.names()[rank.level]

    @property
    def epithet(self) -> str:
        return self.species.split(" ", 1)[1]
