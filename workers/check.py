"""`vita index --check`: do the catalog's index entries and the store's points agree? And put them
back in agreement where they do not, so that the next `vita index` redoes exactly what is missing.

An index run writes a batch's points first and its catalog entries second, so a crash between the
two (the coordinator or the store killed, the disk full) leaves points the catalog does not know
of; a store that lost its last writes leaves entries whose points are missing. Both are repaired
the same way: the media item's points and its entry go, and the next run indexes it again (ids are
deterministic, so nothing doubles either way).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import delete, select

from catalog.facade import Catalog
from catalog.tables import IndexCollection, IndexEntry
from indexer.filters import Filter
from indexer.schema import CollectionKind
from indexer.store import VectorStore


@dataclass
class CheckReport:
    collection: str
    entries: int = 0  # media the catalog says are indexed here
    points: int = 0  # points in the store
    agree: int = 0  # media whose entry and points agree
    unknown_points: dict[int, int] = field(default_factory=dict)  # media -> points with no indexed entry
    short: dict[int, tuple[int, int]] = field(default_factory=dict)  # media -> (entry says, store has)
    repaired: bool = False

    @property
    def disagreements(self) -> int:
        return len(self.unknown_points) + len(self.short)


def point_counts(store: VectorStore, collection: str) -> Counter[int]:
    """Points per media item, in one pass over the collection (payloads only, no vectors)."""
    counts: Counter[int] = Counter()
    for h in store.scroll(collection, batch=1024):
        if "media_id" in h.payload:
            counts[int(h.payload["media_id"])] += 1
    return counts


def check(catalog: Catalog, store: VectorStore, collection: str, repair: bool = True) -> CheckReport:
    """Compare one media collection with the catalog; with `repair`, drop what disagrees (points
    and entry) so the next index run redoes those media."""
    report = CheckReport(collection)
    counts = point_counts(store, collection)
    report.points = sum(counts.values())
    with catalog.sessions() as s:
        entries = {e.media_id: e.points for e in s.scalars(
            select(IndexEntry).where(IndexEntry.collection == collection, IndexEntry.status == "indexed"))}
    report.entries = len(entries)
    for media_id, n in counts.items():
        if media_id not in entries:
            report.unknown_points[media_id] = n
    for media_id, want in entries.items():
        have = counts.get(media_id, 0)
        if have != want:
            report.short[media_id] = (want, have)
        else:
            report.agree += 1
    if repair and report.disagreements:
        _repair(catalog, store, collection, sorted({*report.unknown_points, *report.short}))
        report.repaired = True
    return report


def _repair(catalog: Catalog, store: VectorStore, collection: str, media_ids: list[int]) -> None:
    for i in range(0, len(media_ids), 256):
        part = media_ids[i:i + 256]
        ids = [h.id for h in store.scroll(collection, Filter({"media_id": [str(m) for m in part]}), batch=1024)]
        for j in range(0, len(ids), 1024):
            store.delete(collection, ids[j:j + 1024])
    with catalog.sessions() as s:
        for i in range(0, len(media_ids), 500):
            part = media_ids[i:i + 500]
            s.execute(delete(IndexEntry).where(IndexEntry.collection == collection, IndexEntry.media_id.in_(part)))
        s.commit()


def media_collections(catalog: Catalog, store: VectorStore) -> list[str]:
    """The media collections the catalog registered that the store holds."""
    with catalog.sessions() as s:
        names = list(s.scalars(select(IndexCollection.name).where(IndexCollection.kind == CollectionKind.MEDIA.value)))
    return [n for n in names if store.exists(n)]
