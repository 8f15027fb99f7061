"""Writes to the catalog that every source shares: taxa with lineage, trait facts, failures."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from catalog.tables import Failure, Taxon, TraitValue
from catalog.taxonomy import Lineage, Rank
from catalog.traits import ALL_LABELS, TraitSource, keyword

_LINEAGE_COLUMNS = ("class_name", "order_name", "family_name", "genus_name")


class TaxonCache:
    """(rank, name) -> taxon id, so a large ingest does not query per record."""

    def __init__(self, session: Session) -> None:
        self.reload(session)

    def reload(self, session: Session) -> None:
        self._ids: dict[tuple[str, str], int] = {
            (r, n): i for i, r, n in session.execute(select(Taxon.id, Taxon.rank, Taxon.name))
        }

    def get(self, rank: Rank, name: str) -> int | None:
        return self._ids.get((rank.value, name))

    def put(self, rank: Rank, name: str, taxon_id: int) -> None:
        self._ids[(rank.value, name)] = taxon_id


def upsert_lineage(session: Session, cache: TaxonCache, lineage: Lineage,
                   common_name: str | None = None, source_ids: dict[str, Any] | None = None) -> int:
    """Create the missing taxa of a lineage (class down to species); returns the species id.

    An existing species keeps its lineage (the first source to name it wins); a common name
    or source id is added where it was missing.
    """
    parent_id: int | None = None
    names = lineage.names()
    for rank in Rank.ordered():
        name = lineage.at(rank)
        taxon_id = cache.get(rank, name)
        if taxon_id is None:
            cols = {c: names[i] for i, c in enumerate(_LINEAGE_COLUMNS) if i <= rank.level}
            taxon = Taxon(rank=rank.value, name=name, parent_id=parent_id, source_ids={}, **cols)
            session.add(taxon)
            session.flush()
            taxon_id = taxon.id
            cache.put(rank, name, taxon_id)
        parent_id = taxon_id
    species = session.get(Taxon, parent_id)
    assert species is not None
    if common_name and not species.common_name:
        species.common_name = common_name
    if source_ids:
        merged = {**(species.source_ids or {}), **{k: v for k, v in source_ids.items() if v is not None}}
        if merged != species.source_ids:
            species.source_ids = merged
    return species.id


def set_traits(session: Session, taxon_id: int, facts: dict[tuple[str, str], bool],
               source: TraitSource, confidence: float = 1.0) -> int:
    """Insert or update trait facts of one source for one taxon; returns how many changed."""
    valid = set(ALL_LABELS)
    unknown = [f for f in facts if f not in valid]
    if unknown:
        raise ValueError(f"unknown trait label {keyword(*unknown[0])}")
    existing = {
        (t.category, t.label): t
        for t in session.scalars(
            select(TraitValue).where(TraitValue.taxon_id == taxon_id, TraitValue.source == source.value)
        )
    }
    changed = 0
    for (cat, label), present in facts.items():
        row = existing.get((cat, label))
        if row is None:
            session.add(TraitValue(taxon_id=taxon_id, category=cat, label=label, present=present,
                                   source=source.value, confidence=confidence))
            changed += 1
        elif row.present != present or row.confidence != confidence:
            row.present, row.confidence = present, confidence
            changed += 1
    return changed


def record_failure(session: Session, source: str, item: str, stage: str, reason: str,
                   run_id: int | None) -> None:
    """Upsert the one failure row of (source, item)."""
    row = session.scalar(select(Failure).where(Failure.source == source, Failure.item == item))
    now = dt.datetime.now(dt.UTC)
    if row is None:
        session.add(Failure(source=source, item=item, stage=stage, reason=reason, run_id=run_id,
                            resolved=False, created_at=now, updated_at=now))
    else:
        row.stage, row.reason, row.run_id, row.resolved, row.updated_at = stage, reason, run_id, False, now


def resolve_failure(session: Session, source: str, item: str) -> None:
    row = session.scalar(select(Failure).where(Failure.source == source, Failure.item == item,
                                               Failure.resolved.is_(False)))
    if row is not None:
        row.resolved = True
        row.updated_at = dt.datetime.now(dt.UTC)


def resolve_failures(session: Session, source: str, items: list[str], chunk: int = 500) -> None:
    """`resolve_failure` for many items in a few UPDATEs: an index batch's successes (one SELECT
    each, every one flushing the batch's pending rows first, was most of a commit's catalog time)."""
    now = dt.datetime.now(dt.UTC)
    for i in range(0, len(items), chunk):
        session.execute(update(Failure).where(Failure.source == source, Failure.item.in_(items[i:i + chunk]),
                                              Failure.resolved.is_(False)).values(resolved=True, updated_at=now))


def upsert_path(session: Session, cache: TaxonCache, path: tuple[tuple[str, str], ...]) -> int | None:
    """The taxon at the end of a (rank, name) path, class downwards, created with its missing
    ancestors when the path starts at the class; an existing taxon is found by its own rank and
    name. None when the taxon is new and the path does not reach up to its class."""
    rank, name = path[-1]
    known = cache.get(Rank(rank), name)
    if known is not None:
        return known
    if path[0][0] != Rank.CLASS.value:
        return None
    parent_id: int | None = None
    names: dict[str, str] = {}
    for r, n in path:
        names[r] = n
        taxon_id = cache.get(Rank(r), n)
        if taxon_id is None:
            cols = {c: names[k] for k, c in zip(("class", "order", "family", "genus"), _LINEAGE_COLUMNS) if k in names}
            taxon = Taxon(rank=r, name=n, parent_id=parent_id, source_ids={}, **cols)
            session.add(taxon)
            session.flush()
            taxon_id = taxon.id
            cache.put(Rank(r), n, taxon_id)
        parent_id = taxon_id
    return parent_id


def find_higher(cache: TaxonCache, name: str) -> tuple[str, int] | None:
    """A taxon above species known by this name alone: (rank, id), when exactly one rank holds it."""
    hits = [(r.value, i) for r in Rank.ordered()[:-1] if (i := cache.get(r, name)) is not None]
    return hits[0] if len(hits) == 1 else None


def lineage_via_genus(session: Session, cache: TaxonCache, species: str) -> Lineage | None:
    """A new species of a genus the catalog already knows inherits that genus's lineage."""
    genus_id = cache.get(Rank.GENUS, species.split(" ", 1)[0])
    genus = session.get(Taxon, genus_id) if genus_id is not None else None
    if genus is None or not (genus.class_name and genus.order_name and genus.family_name):
        return None
    return Lineage(genus.class_name, genus.order_name, genus.family_name, genus.name, species)
