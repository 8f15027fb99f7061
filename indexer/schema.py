"""What a point is: payload fields, their indexes, deterministic ids, collection names.

Every point carries its species' lineage and traits so that any filter is a payload match,
never a join. Traits are keyword values `category=label` (`activity=nocturnal`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import Enum

from catalog.taxonomy import RANKS

#: Keyword payload fields, each with a payload index (filters and facets need one in Qdrant Edge).
KEYWORD_FIELDS: tuple[str, ...] = (
    "modality", "species", "genus", "family", "order", "class", "common_name", "traits", "license",
    "source", "split", "rank", "recording",
)
#: `window` is 0 for an image and for a recording's first window: browsing and facets count media with it.
INTEGER_FIELDS: tuple[str, ...] = ("media_id", "observed_day", "window")
GEO_FIELD = "location"
RANK_FIELDS: tuple[str, ...] = RANKS

_NAMESPACE = uuid.UUID("6f1c2a52-4a8e-4c33-9d0b-7a1e52f0c1a9")


class CollectionKind(str, Enum):
    MEDIA = "media"  # one point per audio window or image
    TAXA = "taxa"  # one text point per species, genus and family


def point_id(sha256: str, offset_s: float, model_key: str) -> str:
    """Same file, window and model -> same id, so a re-run overwrites instead of duplicating."""
    return str(uuid.uuid5(_NAMESPACE, f"{sha256}:{offset_s:.3f}:{model_key}"))


def taxon_point_id(rank: str, name: str, model_key: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"taxon:{rank}:{name}:{model_key}"))


def collection_name(corpus: str, model_key: str, kind: CollectionKind) -> str:
    return f"vita-{corpus}-{kind.value}-{model_key}"


def alias_name(corpus: str, kind: CollectionKind) -> str:
    """What search reads; a finished re-index moves it to the new collection in one step."""
    return f"vita-{corpus}-{kind.value}"


def day_number(day: dt.date) -> int:
    """Dates as integer days since 1970-01-01: range filters need numbers."""
    return (day - dt.date(1970, 1, 1)).days
