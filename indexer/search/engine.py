"""The search part: one vector against the media and taxa collections, per target, with grouping."""

from __future__ import annotations

import numpy as np

from indexer.filters import Filter
from indexer.schema import RANK_FIELDS
from indexer.search.request import GroupBy, Target
from indexer.store import Hit, VectorStore

TAXA_FIELDS = frozenset({*RANK_FIELDS, "traits", "rank"})  # what a taxon point can be filtered on
OVERFETCH = 8  # grouped queries fetch this many hits per wanted group, then more if needed


class VectorSearch:
    """Nearest points of the target collections, best first, at most one per group when grouping."""

    def __init__(self, store: VectorStore, media_c: str, taxa_c: str) -> None:
        self.store, self.media_c, self.taxa_c = store, media_c, taxa_c

    def run(self, vector: np.ndarray, target: Target, flt: Filter, k: int, group_by: GroupBy) -> list[Hit]:
        hits: list[Hit] = []
        if target in (Target.AUDIO, Target.IMAGE, Target.ANY):
            media_flt = flt if target is Target.ANY else flt.merged(Filter({"modality": [target.value]}))
            hits += self.grouped(self.media_c, vector, media_flt, k, group_by)
        if target in (Target.TEXT, Target.ANY):
            taxa_flt = restrict(flt, TAXA_FIELDS)
            if taxa_flt is not None:
                hits += self.grouped(self.taxa_c, vector, taxa_flt, k, GroupBy.NONE)
        hits.sort(key=lambda h: -h.score)
        return hits[:k]

    def grouped(self, collection: str, vector: np.ndarray, flt: Filter, k: int, group_by: GroupBy) -> list[Hit]:
        if group_by is GroupBy.NONE:
            return self.store.query(collection, vector, flt, limit=k)
        key = "species" if group_by is GroupBy.SPECIES else "recording"
        fetch = k * OVERFETCH
        while True:
            hits = self.store.query(collection, vector, flt, limit=fetch)
            best: dict[str, Hit] = {}
            for h in hits:  # best first, so the first hit of a group is its best
                best.setdefault(str(h.payload.get(key) or h.id), h)  # an item identified above species is its own group
            if len(best) >= k or len(hits) < fetch or fetch >= 64 * k:
                return list(best.values())[:k]
            fetch *= 4


def restrict(flt: Filter, allowed: frozenset[str]) -> Filter | None:
    """The filter as it applies to taxa; None when it names media-only fields (licence, date, place),
    since no taxon can satisfy those."""
    if flt.date_from or flt.date_to or flt.bbox or any(k not in allowed for k in flt.keywords):
        return None
    return Filter(dict(flt.keywords), {k: v for k, v in flt.exclude.items() if k in allowed},
                  traits=dict(flt.traits))
