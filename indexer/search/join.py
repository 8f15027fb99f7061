"""The catalog join: hits from the store -> results with attribution, path and URL from the catalog."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from catalog.facade import Catalog
from catalog.tables import Media
from indexer.schema import RANK_FIELDS
from indexer.search.request import Result
from indexer.store import Hit


def place_of(extra: dict[str, Any]) -> str | None:
    """A record's place name from what its source kept: a locality, then the region and country."""
    parts = [str(extra[k]).strip() for k in ("locality", "region", "country") if str(extra.get(k) or "").strip()]
    return ", ".join(dict.fromkeys(parts)) or None


def join(catalog: Catalog, hits: list[Hit]) -> list[Result]:
    """One query for all the hits' media rows; a taxon hit has no media row."""
    ids = {int(h.payload["media_id"]) for h in hits if "media_id" in h.payload}
    with catalog.sessions() as s:
        media = {m.id: m for m in s.scalars(select(Media).where(Media.id.in_(ids)))} if ids else {}
    out = []
    for h in hits:
        p = h.payload
        m = media.get(int(p["media_id"])) if "media_id" in p else None
        lineage = {r: p[r] for r in RANK_FIELDS if p.get(r)}
        to = next((r for r in reversed(RANK_FIELDS) if r in lineage), None) if "media_id" in p else None
        out.append(Result(
            score=round(h.score, 4), modality=p.get("modality", "?"), species=p.get("species"),
            common_name=p.get("common_name"), lineage=lineage,
            traits=list(p.get("traits", [])), media_id=p.get("media_id"), offset_s=p.get("offset_s"),
            duration_s=p.get("duration_s"), rank=p.get("rank"),
            name=p.get("name") or (lineage[to] if to and to != "species" else None), identified_to=to,
            license=p.get("license"), rights_holder=p.get("rights_holder"),
            attribution=m.attribution if m else None, source=p.get("source"), observed_on=p.get("observed_on"),
            lat=m.lat if m else None, lon=m.lon if m else None, place=place_of(m.extra) if m else None,
            path=m.path if m else None, url=m.url if m else None, point_id=h.id))
    return out
