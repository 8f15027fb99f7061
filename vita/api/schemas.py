"""What `vita api` accepts and answers: pydantic models that refuse unknown fields and bound every
number, so a bad request is a 422 with the field and the reason before any search runs."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, fields
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from catalog.traits import keyword, split_keyword
from indexer.filters import BBox, Filter
from indexer.hybrid import Ranking
from indexer.search import GroupBy, Result, SearchResponse, Target
from indexer.search.browse import Order

MAX_K = 100
MAX_VALUES = 50  # values per filter field
MAX_ID = 2**63 - 1  # ids are 64-bit integers in every catalog database
Name = Field(min_length=1, max_length=200)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Filters(Strict):
    """Values of one field are alternatives (any of); fields must all hold. Traits are `category=label`."""

    class_: list[str] = Field(default_factory=list, alias="class", max_length=MAX_VALUES)
    order: list[str] = Field(default_factory=list, max_length=MAX_VALUES)
    family: list[str] = Field(default_factory=list, max_length=MAX_VALUES)
    genus: list[str] = Field(default_factory=list, max_length=MAX_VALUES)
    species: list[str] = Field(default_factory=list, max_length=MAX_VALUES)
    traits: list[str] = Field(default_factory=list, max_length=MAX_VALUES)
    license: list[str] = Field(default_factory=list, max_length=MAX_VALUES)
    source: list[str] = Field(default_factory=list, max_length=MAX_VALUES)
    modality: list[str] = Field(default_factory=list, max_length=2)
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    bbox: tuple[float, float, float, float] | None = Field(None, description="south, west, north, east (degrees)")

    @field_validator("class_", "order", "family", "genus", "species", "license", "source", "modality", "traits")
    @classmethod
    def _short(cls, values: list[str]) -> list[str]:
        if any(not v or len(v) > 200 for v in values):
            raise ValueError("each value is 1 to 200 characters")
        return values

    @field_validator("traits")
    @classmethod
    def _traits(cls, values: list[str]) -> list[str]:
        return [keyword(*split_keyword(v)) for v in values]  # a TraitError (a ValueError) names the bad one

    @field_validator("modality")
    @classmethod
    def _modality(cls, values: list[str]) -> list[str]:
        if set(values) - {"audio", "image"}:
            raise ValueError("modality is audio or image")
        return values

    def to_filter(self) -> Filter:
        flt = Filter()
        for key in ("class", "order", "family", "genus", "species", "license", "source", "modality"):
            values = getattr(self, "class_" if key == "class" else key)
            if values:
                flt.add(key, *values)
        if self.traits:
            flt.add("traits", *self.traits)
        flt.date_from, flt.date_to = self.date_from, self.date_to
        flt.bbox = BBox(*self.bbox) if self.bbox else None
        return flt


class SearchOptions(Strict):
    """Everything of a search but its query (an upload's form field `options` holds this as JSON)."""

    target: Target | None = Field(None, description="audio | image | text (taxa) | any; default: from the "
                                                    "text's words, else any (an upload: audio for a photo)")
    filters: Filters = Field(default_factory=Filters)
    k: int = Field(10, ge=1, le=MAX_K)
    group_by: GroupBy = GroupBy.NONE
    parse: bool = Field(True, description="read taxon, trait and modality words of the text as filters")
    rank: Ranking = Field(Ranking.HYBRID, description="sound, photo and media queries: hybrid (taxon evidence from "
                                                      "the model's heads and the labelled neighbours, fused with "
                                                      "similarity) or embedding (similarity alone)")


class SearchBody(SearchOptions):
    """A search by text or by indexed media ids (uploads go to /search/upload)."""

    text: str | None = Field(None, min_length=1, max_length=1000)
    media_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(default_factory=list, max_length=MAX_VALUES)


class BrowseBody(Strict):
    filters: Filters = Field(default_factory=Filters)
    page: int = Field(0, ge=0, le=100_000)
    per_page: int = Field(20, ge=1, le=MAX_K)
    order: Order = Field(Order.STORE, description="as indexed | newest first | oldest first | species A-Z")


class AnnotationBody(Strict):
    media_id: int = Field(ge=1, le=MAX_ID)
    label: str = Field(min_length=1, max_length=200)
    positive: bool
    offset_s: float = Field(0.0, ge=0)
    duration_s: float | None = Field(None, gt=0)


RESULT_FIELDS = tuple(f.name for f in fields(Result) if f.name != "path")  # the server's files are its own


def result_json(r: Result) -> dict[str, Any]:
    """A result as JSON, with where to fetch its media (and the second to play it from). Its fields
    are plain values, a flat dict and a list: copied one level, not through `asdict`'s deep copy
    (which cost more than the store's query on a page of results)."""
    out = {name: getattr(r, name) for name in RESULT_FIELDS}
    out["lineage"], out["traits"] = dict(r.lineage), list(r.traits)
    if r.media_id is not None:
        out["media_url"] = f"/media/{r.media_id}/file"
    return out


def response_json(resp: SearchResponse) -> dict[str, Any]:
    interp = resp.interpretation
    return {"target": resp.target.value, "query_kind": resp.query_kind, "embedded_text": resp.embedded_text,
            "understood": [{"field": m.field, "value": m.value, "phrase": m.phrase} for m in interp.matches]
            if interp else [],
            "choices": [asdict(c) for c in interp.choices] if interp else [],
            "no_good_match": resp.no_good_match, "notice": resp.notice, "notes": resp.notes,
            "ranking": resp.ranking.value, "evidence": resp.evidence,
            "identified": [{"rank": r, "name": n, "p": p} for r, n, p in resp.identified],
            "results": [result_json(r) for r in resp.results]}
