"""Browsing without a query: pages of media cards, facet counts, and the index status overview."""

from __future__ import annotations

from enum import Enum
from typing import Any

from sqlalchemy import func, select

from catalog.facade import Catalog
from catalog.tables import IndexCollection, IndexEntry, Media
from indexer.filters import Filter
from indexer.store import Hit, VectorStore

FIRST_WINDOW = Filter({"window": ["0"]})  # one point per media item: its first window


class Order(str, Enum):
    """How Browse orders its cards. The sorted orders page through the facet counts of the sort
    field, so page n costs a facet and the scroll of one value's items, never a sort of the whole
    collection; items without the field (no date, identified above species) come last."""

    STORE = "as indexed"
    NEWEST = "newest first"
    OLDEST = "oldest first"
    SPECIES = "species A-Z"


_SORT_FIELD = {Order.NEWEST: ("observed_day", True), Order.OLDEST: ("observed_day", False),
               Order.SPECIES: ("species", False)}


class Browser:
    """Counts and pages over the media collection; one card per media item, not per window."""

    def __init__(self, catalog: Catalog, store: VectorStore, media_c: str, taxa_c: str) -> None:
        self.catalog, self.store, self.media_c, self.taxa_c = catalog, store, media_c, taxa_c
        self._cursors: dict[tuple[str, int], list[Any]] = {}

    def page(self, flt: Filter, page: int = 0, per_page: int = 20,
             order: Order = Order.STORE) -> tuple[list[Hit], int]:
        """The hits of one page, in `order`, and how many media match in all."""
        if order is not Order.STORE:
            return self._sorted_page(flt, page, per_page, *_SORT_FIELD[order])
        first = flt.merged(FIRST_WINDOW)
        total = self.store.count(self.media_c, first)
        # the store's cursor at the start of each page seen so far, per filter and page size: the
        # next page (what the UI asks for) costs one page, not a scroll from the start
        key = (repr(first), per_page)
        cursors = self._cursors.setdefault(key, [None])
        if len(self._cursors) > 64:  # a long session's filters: keep the newest
            self._cursors.pop(next(iter(self._cursors)))
        n = min(page, len(cursors) - 1)
        while True:
            hits, nxt = self.store.scroll_page(self.media_c, first, per_page, cursors[n])
            if nxt is not None and n + 1 == len(cursors):
                cursors.append(nxt)  # where page n + 1 starts
            if n == page or nxt is None:
                return (hits if n == page else []), total
            n += 1

    def _sorted_page(self, flt: Filter, page: int, per_page: int, key: str,
                     descending: bool) -> tuple[list[Hit], int]:
        first = flt.merged(FIRST_WINDOW)
        total = self.store.count(self.media_c, first)
        counts = self.store.facet(self.media_c, key, first, limit=10_000_000)
        values = sorted(counts, key=(int if key == "observed_day" else str.lower), reverse=descending)
        start, end = page * per_page, (page + 1) * per_page
        hits: list[Hit] = []
        pos = 0
        for value in values:
            n = counts[value]
            if pos + n > start and pos < end:
                part = self.store.scroll_page(self.media_c, first.merged(Filter({key: [value]})),
                                              end - pos, None)[0]
                hits += part[max(0, start - pos): end - pos]
            pos += n
            if pos >= end:
                return hits, total
        if pos < total and pos < end:  # the items without the field, in store order
            rest = (h for h in self.store.scroll(self.media_c, first) if h.payload.get(key) in (None, ""))
            for i, h in enumerate(rest, start=pos):
                if i >= end:
                    break
                if i >= start:
                    hits.append(h)
        return hits, total

    def count(self, flt: Filter | None = None) -> int:
        """Media (not windows) matching a filter."""
        return self.store.count(self.media_c, (flt or Filter()).merged(FIRST_WINDOW))

    def facets(self, key: str, flt: Filter | None = None, limit: int = 200) -> dict[str, int]:
        """Media per value of a payload field (trait facets count `category=label` keywords)."""
        return self.store.facet(self.media_c, key, (flt or Filter()).merged(FIRST_WINDOW), limit)

    def overview(self) -> dict[str, Any]:
        """What the index status page shows: collections, counts per modality and split, progress."""
        with self.catalog.sessions() as s:
            cols = [{"name": c.name, "kind": c.kind, "alias": c.alias, "model": c.model_ref, "points": c.points,
                     "completed": c.completed_at.isoformat() if c.completed_at else None}
                    for c in s.scalars(select(IndexCollection).order_by(IndexCollection.id))]
            media = len(s.scalars(select(Media.id)).all())
            done = {status: n for status, n in s.execute(
                select(IndexEntry.status, func.count()).where(IndexEntry.collection == self.media_c)
                .group_by(IndexEntry.status))}
        return {"collections": cols, "media_collection": self.media_c, "taxa_collection": self.taxa_c,
                "points": self.store.count(self.media_c), "taxa_points": self.store.count(self.taxa_c),
                "by_modality": self.facets("modality"), "by_split": self.facets("split"),
                "catalog_media": media, "indexed": done.get("indexed", 0), "failed": done.get("error", 0)}
