"""Read-side views of the catalog: stats, failures, a species card."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from catalog.errors import VitaError
from catalog.models import Failure, Media, Taxon, TraitValue
from catalog.taxonomy import Rank, normalise_scientific_name
from catalog.traits import BY_KEY, CATEGORIES


@dataclass
class ClassStats:
    name: str
    orders: int = 0
    families: int = 0
    genera: int = 0
    species: int = 0
    seen: int = 0
    unseen: int = 0
    audio: int = 0
    images: int = 0
    audio_hours: float = 0.0


@dataclass
class CatalogStats:
    classes: list[ClassStats]
    splits: dict[str, dict[str, int]]  # split -> kind -> count
    licenses: dict[str, int]
    sources: dict[str, int]
    open_failures: int

    @property
    def species(self) -> int:
        return sum(c.species for c in self.classes)

    @property
    def media(self) -> int:
        return sum(c.audio + c.images for c in self.classes)


def stats(session: Session) -> CatalogStats:
    per_class: dict[str, ClassStats] = {}
    ranks: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for t in session.scalars(select(Taxon).where(Taxon.rank == Rank.SPECIES.value)):
        cls = t.class_name or "?"
        c = per_class.setdefault(cls, ClassStats(cls))
        c.species += 1
        c.seen += t.split_role == "seen"
        c.unseen += t.split_role == "unseen"
        ranks[cls]["order"].add(t.order_name or "")
        ranks[cls]["family"].add(t.family_name or "")
        ranks[cls]["genus"].add(t.genus_name or "")
    for cls, c in per_class.items():
        c.orders, c.families, c.genera = (len(ranks[cls][r]) for r in ("order", "family", "genus"))
    media_rows = session.execute(
        select(Taxon.class_name, Media.kind, func.count(), func.coalesce(func.sum(Media.duration_s), 0.0))
        .join(Taxon, Media.taxon_id == Taxon.id).group_by(Taxon.class_name, Media.kind)
    )
    for cls, kind, n, seconds in media_rows:  # type: ignore[assignment]  # a species without a class is grouped under "?"
        c = per_class.setdefault(cls or "?", ClassStats(cls or "?"))
        if kind == "audio":
            c.audio, c.audio_hours = n, float(seconds or 0.0) / 3600
        else:
            c.images = n
    splits: dict[str, dict[str, int]] = defaultdict(dict)
    for split, kind, n in session.execute(
        select(Media.split, Media.kind, func.count()).group_by(Media.split, Media.kind)
    ):
        splits[split or "unassigned"][kind] = n
    licenses = dict(session.execute(select(func.coalesce(Media.license, "unknown"), func.count())
                                    .group_by(Media.license)).all())
    sources = dict(session.execute(select(Media.source, func.count()).group_by(Media.source)).all())
    open_failures = session.scalar(select(func.count()).select_from(Failure)
                                   .where(Failure.resolved.is_(False))) or 0
    return CatalogStats(sorted(per_class.values(), key=lambda c: c.name), dict(splits),
                        licenses, sources, open_failures)


@dataclass
class FailureRow:
    source: str
    item: str
    stage: str
    reason: str
    run_id: int | None
    resolved: bool
    updated_at: dt.datetime


def failures(session: Session, source: str | None = None, include_resolved: bool = False,
             limit: int | None = None) -> list[FailureRow]:
    q = select(Failure).order_by(Failure.updated_at.desc(), Failure.id.desc())
    if source:
        q = q.where(Failure.source == source)
    if not include_resolved:
        q = q.where(Failure.resolved.is_(False))
    if limit:
        q = q.limit(limit)
    return [FailureRow(f.source, f.item, f.stage, f.reason, f.run_id, f.resolved, f.updated_at)
            for f in session.scalars(q)]


@dataclass
class MediaRow:
    id: int
    kind: str
    split: str | None
    source: str
    source_id: str
    license: str | None
    rights_holder: str | None
    attribution: str | None
    duration_s: float | None
    size: str
    path: str
    url: str | None


@dataclass
class SpeciesCard:
    name: str
    common_name: str | None
    lineage: dict[str, str]
    split_role: str | None
    source_ids: dict[str, object]
    traits: dict[str, list[tuple[str, str, float]]] = field(default_factory=dict)  # cat -> (label, source, conf)
    media: list[MediaRow] = field(default_factory=list)


class SpeciesNotFound(VitaError, LookupError):
    pass


def find_species(session: Session, name: str) -> Taxon:
    """By scientific or common name, case-insensitive; suggests near names when missing."""
    sci = normalise_scientific_name(name)
    taxon = session.scalar(select(Taxon).where(Taxon.rank == Rank.SPECIES.value, Taxon.name == sci))
    if taxon is None:
        taxon = session.scalar(select(Taxon).where(Taxon.rank == Rank.SPECIES.value,
                                                   func.lower(Taxon.common_name) == name.strip().lower()))
    if taxon is None:
        words = [w for w in name.strip().split() if len(w) > 2][:2] or [name.strip()]
        like = [Taxon.name.ilike(f"%{w}%") for w in words] + [Taxon.common_name.ilike(f"%{w}%") for w in words]
        near = session.scalars(select(Taxon.name).where(Taxon.rank == Rank.SPECIES.value, or_(*like))
                               .order_by(Taxon.name).limit(5)).all()
        hint = f"; did you mean: {', '.join(near)}?" if near else ""
        raise SpeciesNotFound(f"no species {name!r} in the catalog{hint}")
    return taxon


def species_card(session: Session, name: str, media_limit: int | None = None) -> SpeciesCard:
    t = find_species(session, name)
    lineage = {"class": t.class_name or "", "order": t.order_name or "", "family": t.family_name or "",
               "genus": t.genus_name or "", "species": t.name}
    card = SpeciesCard(t.name, t.common_name, lineage, t.split_role, dict(t.source_ids or {}))
    facts = session.scalars(select(TraitValue).where(TraitValue.taxon_id == t.id, TraitValue.present.is_(True)))
    order = {c.key: i for i, c in enumerate(CATEGORIES)}
    for f in sorted(facts, key=lambda f: (order.get(f.category, 99), BY_KEY[f.category].labels.index(f.label)
                                          if f.category in BY_KEY else 0)):
        card.traits.setdefault(f.category, []).append((f.label, f.source, f.confidence))
    q = select(Media).where(Media.taxon_id == t.id).order_by(Media.kind, Media.id)
    if media_limit:
        q = q.limit(media_limit)
    for m in session.scalars(q):
        size = f"{m.duration_s:.1f} s" if m.duration_s is not None else f"{m.width}x{m.height}"
        card.media.append(MediaRow(m.id, m.kind, m.split, m.source, m.source_id, m.license, m.rights_holder,
                                   m.attribution, m.duration_s, size, m.path, m.url))
    return card
