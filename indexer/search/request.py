"""What a search is asked and what it answers: small typed records shared by the CLI, the UI and bench."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from catalog.errors import VitaError
from indexer.filters import Filter
from indexer.hybrid import Ranking
from indexer.parse import Interpretation


class Target(str, Enum):
    AUDIO = "audio"
    IMAGE = "image"
    TEXT = "text"  # taxa: species, genus and family prompts
    ANY = "any"


class GroupBy(str, Enum):
    NONE = "none"
    SPECIES = "species"
    RECORDING = "recording"


class QueryError(VitaError, ValueError):
    """A query that cannot run: no input, an unreadable upload, unknown media ids."""


class UnknownTaxon(QueryError):
    """A taxon filter value that no source of names knows (a typo, an invented name)."""


@dataclass
class SearchRequest:
    text: str | None = None
    audio: Path | None = None
    image: Path | None = None
    media_ids: list[int] = field(default_factory=list)
    target: Target | None = None  # None: a photo finds sounds, a sound photos (the field guide's lookup);
    # text: its modality words, else any; media ids: any
    filters: Filter = field(default_factory=Filter)
    k: int = 10
    group_by: GroupBy = GroupBy.NONE
    parse: bool = True  # read taxon, trait and modality words of the text as filters
    ignore: list[tuple[str, str]] = field(default_factory=list)  # parsed (field, value) pairs the user removed
    rank: Ranking = Ranking.HYBRID  # sound, photo and media queries: taxon evidence fused with similarity


@dataclass
class Result:
    score: float
    modality: str
    species: str | None
    common_name: str | None
    lineage: dict[str, str]
    traits: list[str]
    media_id: int | None = None
    offset_s: float | None = None
    duration_s: float | None = None
    rank: str | None = None  # taxa results
    name: str | None = None  # taxa results; media identified above species: that taxon's name
    identified_to: str | None = None  # media: the rank the item is identified to (species, genus, ... class)
    license: str | None = None
    rights_holder: str | None = None
    attribution: str | None = None
    source: str | None = None
    observed_on: str | None = None
    lat: float | None = None  # where the record was made, when its source says
    lon: float | None = None
    place: str | None = None  # the source's place name (locality, country), when it has one
    path: str | None = None
    url: str | None = None
    point_id: str = ""
    why: str | None = None  # how it was found: "same species as the identified Red Junglefowl 0.88", ...
    relevance: float | None = None  # hybrid: the fused score results are ordered by (score stays the cosine)


@dataclass
class SearchResponse:
    results: list[Result]
    target: Target
    query_kind: str  # text | audio | image | media
    embedded_text: str | None = None
    interpretation: Interpretation | None = None
    filters: Filter = field(default_factory=Filter)
    no_good_match: bool = False  # a text that names nothing known scored no higher than nonsense does
    ranking: Ranking = Ranking.EMBEDDING  # how the results were ranked
    identified: list[tuple[str, str, float]] = field(default_factory=list)  # hybrid: (rank, taxon, p), likeliest first
    evidence: list[str] = field(default_factory=list)  # hybrid: the sources of taxon evidence used
    notes: list[str] = field(default_factory=list)  # e.g. a named taxon the catalog holds nothing of

    @property
    def notice(self) -> str | None:
        """The line to show above the results, if any."""
        if self.no_good_match:
            return ("no good match: nothing known was named, and no result scores higher than random words "
                    "do in this index")
        return "; ".join(self.notes) or None
