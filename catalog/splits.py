"""Splits: train / val / test-seen / test-unseen, as in BioVITA and AnimalCLAP.

Unseen species are held out whole and must share their genus (or, failing that, their
family) with training species, so taxonomy can carry a model to them. Rarer species are
held out first (AnimalCLAP takes species with few recordings). Seen species' media are split
by a stable hash of their group (one observation's photos and sounds stay together), and
every seen species keeps at least one training group.

Assignments are sticky: a species' role and a media item's split never change once set, so
re-running an ingest can only add, never leak test data into training.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog.tables import Media, Split, Taxon
from catalog.taxonomy import Rank


@dataclass(frozen=True, slots=True)
class SplitPolicy:
    seed: int = 0
    unseen_fraction: float = 0.15
    val_fraction: float = 0.1
    test_fraction: float = 0.1


def _unit(seed: int, key: str) -> float:
    """A stable pseudo-random number in [0, 1) for `key`."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_splits(session: Session, policy: SplitPolicy = SplitPolicy()) -> None:
    _assign_roles(session, policy)
    _assign_media(session, policy)
    session.commit()


def _assign_roles(session: Session, policy: SplitPolicy) -> None:
    counts = dict(session.execute(select(Media.taxon_id, func.count()).group_by(Media.taxon_id)).all())
    species = [s for s in session.scalars(select(Taxon).where(Taxon.rank == Rank.SPECIES.value))
               if counts.get(s.id)]
    if not species:
        return
    by_genus: dict[str, list[Taxon]] = defaultdict(list)
    by_family: dict[str, list[Taxon]] = defaultdict(list)
    for s in species:
        by_genus[s.genus_name or ""].append(s)
        by_family[s.family_name or ""].append(s)
    target = round(policy.unseen_fraction * len(species)) - sum(s.split_role == "unseen" for s in species)
    new = sorted((s for s in species if s.split_role is None),
                 key=lambda s: (counts[s.id], _unit(policy.seed, s.name)))
    for s in new:
        if target > 0 and _can_hold_out(s, by_genus[s.genus_name or ""], by_family[s.family_name or ""]):
            s.split_role = "unseen"
            target -= 1
        else:
            s.split_role = "seen"
    session.flush()


def _can_hold_out(s: Taxon, genus: list[Taxon], family: list[Taxon]) -> bool:
    """Hold out only if related species stay seen: one in the genus, or two in the family.

    At most a third of a genus (at least one) is held out, so genera stay mostly seen.
    """
    others = [t for t in genus if t is not s]
    unseen_in_genus = sum(t.split_role == "unseen" for t in genus)
    if unseen_in_genus >= max(1, len(genus) // 3):
        return False
    seen_like = [t for t in others if t.split_role != "unseen"]
    if seen_like:
        return True
    family_seen = [t for t in family if t is not s and t.split_role != "unseen"]
    return len(family_seen) >= 2


def _assign_media(session: Session, policy: SplitPolicy) -> None:
    rows = session.execute(
        select(Media, Taxon.split_role).join(Taxon, Media.taxon_id == Taxon.id).where(Media.split.is_(None))
    ).all()
    if not rows:
        return
    has_train = set(session.scalars(select(Media.taxon_id).where(Media.split == Split.TRAIN.value).distinct()))
    # Seen species' new media, grouped so an observation's media stay together.
    groups: dict[int, dict[str, list[Media]]] = defaultdict(lambda: defaultdict(list))
    for media, role in rows:
        if role == "unseen":
            media.split = Split.TEST_UNSEEN.value
        else:
            groups[media.taxon_id][str(media.extra.get("group") or media.sha256)].append(media)
    for taxon_id, by_group in groups.items():
        ordered = sorted(by_group, key=lambda g: _unit(policy.seed, g))
        for i, group in enumerate(ordered):
            u = _unit(policy.seed + 1, group)
            if taxon_id not in has_train and i == 0:
                split = Split.TRAIN
            elif u < policy.test_fraction:
                split = Split.TEST_SEEN
            elif u < policy.test_fraction + policy.val_fraction:
                split = Split.VAL
            else:
                split = Split.TRAIN
            for media in by_group[group]:
                media.split = split.value
        has_train.add(taxon_id)
