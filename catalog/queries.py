"""Read-side views of the catalog: stats, failures, a species card."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from catalog.errors import VitaError
from catalog.names import NameResolver
from catalog.tables import Failure, Media, Taxon, TraitValue
from catalog.taxonomy import RANKS, Rank
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


def above_species(session: Session) -> int:
    """Media identified only to a genus, family, order or class: species-level benchmarks, probes
    and training leave them out, and say how many."""
    return session.scalar(select(func.count()).select_from(Media).join(Taxon, Media.taxon_id == Taxon.id)
                          .where(Taxon.rank != Rank.SPECIES.value)) or 0


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
    rank: str = "species"


class SpeciesNotFound(VitaError, LookupError):
    pass


def find_taxon(session: Session, name: str, resolver: NameResolver | None = None,
               rank: str | None = None) -> Taxon:
    """A catalog taxon by any name the resolver knows (scientific or common, any rank, singular or
    plural, any case); `rank` asks for that rank only. A name with several meanings in the catalog,
    or none, is refused with the choices or the nearest names."""
    resolver = resolver or NameResolver.from_catalog(session)
    res = resolver.resolve(name)
    if res is not None and res.source == "close":  # a lookup by name asks before it corrects a spelling
        spelt = ", ".join(t.name for m in res.meanings for t in m)
        raise SpeciesNotFound(f"no {rank or 'taxon'} {name!r} in the catalog; did you mean: {spelt}?")
    held = [[t for t in m if t.in_catalog] for m in res.held()] if res else []
    held = [m for m in held if m]
    if rank is not None:
        held = [[t for t in m if t.rank == rank] for m in held]
        held = [m for m in held if m]
    if len(held) == 1 and len(held[0]) == 1:
        ref = held[0][0]
        taxon = session.scalar(select(Taxon).where(Taxon.rank == ref.rank, Taxon.name == ref.name))
        if taxon is not None:
            return taxon
    if held:
        choices = "; ".join(" or ".join(t.label() for t in m) for m in held)
        raise SpeciesNotFound(f"{name!r} names several taxa in the catalog: {choices}; give one of them")
    what = rank or "taxon"
    if res is not None:
        known = "; ".join(" or ".join(t.label() for t in m) for m in res.meanings)
        if rank is not None and res.held():
            inside = resolver.suggest(name, limit=8, ranks=(rank,))
            hint = f"; {rank} in it: {', '.join(t.name for t in inside)}" if inside else ""
            raise SpeciesNotFound(f"{name!r} is {known}, not a {rank}{hint}")
        raise SpeciesNotFound(f"{name!r} is {known}; nothing in the catalog is of it")
    near = resolver.suggest(name.split()[0] if name.split() else name, limit=5, ranks=(rank,) if rank else RANKS)
    hint = f"; did you mean: {', '.join(t.name for t in near)}?" if near else ""
    raise SpeciesNotFound(f"no {what} {name!r} in the catalog{hint}")


def find_species(session: Session, name: str, resolver: NameResolver | None = None) -> Taxon:
    """A species by any of its names; a higher taxon's name is refused with the species in it."""
    return find_taxon(session, name, resolver, rank=Rank.SPECIES.value)


def species_card(session: Session, name: str, media_limit: int | None = None,
                 resolver: NameResolver | None = None) -> SpeciesCard:
    """A taxon's card: a species', or a genus', family's, order's or class's (its lineage, and the
    media of every taxon in it)."""
    t = find_taxon(session, name, resolver)
    upto = RANKS.index(t.rank) if t.rank in RANKS else len(RANKS) - 1
    names = [t.class_name or "", t.order_name or "", t.family_name or "", t.genus_name or "", t.name]
    lineage = {r: (names[i] if i < upto else t.name) for i, r in enumerate(RANKS[:upto + 1])}
    card = SpeciesCard(t.name, t.common_name, lineage, t.split_role, dict(t.source_ids or {}), rank=t.rank)
    facts = session.scalars(select(TraitValue).where(TraitValue.taxon_id == t.id, TraitValue.present.is_(True)))
    order = {c.key: i for i, c in enumerate(CATEGORIES)}
    for f in sorted(facts, key=lambda f: (order.get(f.category, 99), BY_KEY[f.category].labels.index(f.label)
                                          if f.category in BY_KEY else 0)):
        card.traits.setdefault(f.category, []).append((f.label, f.source, f.confidence))
    column = getattr(Taxon, f"{t.rank}_name", None) if t.rank in RANKS[:-1] else None
    within = or_(Media.taxon_id == t.id, column == t.name) if column is not None else Media.taxon_id == t.id
    q = select(Media).join(Taxon, Media.taxon_id == Taxon.id).where(within).order_by(Media.kind, Media.id)
    if media_limit:
        q = q.limit(media_limit)
    for m in session.scalars(q):
        size = f"{m.duration_s:.1f} s" if m.duration_s is not None else f"{m.width}x{m.height}"
        card.media.append(MediaRow(m.id, m.kind, m.split, m.source, m.source_id, m.license, m.rights_holder,
                                   m.attribution, m.duration_s, size, m.path, m.url))
    return card
