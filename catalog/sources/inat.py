"""iNaturalist: research-grade observations with sounds and/or photos, through pyinaturalist.

API calls go through a pyinaturalist `ClientSession` (rate limited, cached under the data
directory rather than ~/.local/share); media downloads through our own rate-limited,
resumable `Downloader`. Only media whose own licence is allowed (CC by default) are kept,
with the observer's attribution.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import requests
from pyinaturalist import ClientSession, get_observations, get_taxa, get_taxa_by_id

from catalog.decode import MediaError
from catalog.errors import ConfigError
from catalog.licenses import is_allowed, normalise_license
from catalog.sources.base import (
    FetchConfig,
    MediaRecord,
    Record,
    RecordFailure,
    TaxonRecord,
    parse_coordinate,
)
from catalog.tables import MediaKind
from catalog.taxonomy import Lineage, Rank

_RANKS = {r.value for r in Rank}
TAXA_PER_REQUEST = 30


def api_session(cache_dir: Path, per_second: float = 1.0, expire_days: float = 1.0) -> ClientSession:
    """A pyinaturalist session whose cache and rate-limit files live in `cache_dir`."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    per_minute = max(60.0, per_second * 60 + 1)  # the limiter wants strictly growing limits
    return ClientSession(
        cache_file=str(cache_dir / "inat_api_cache.sqlite"),
        ratelimit_path=str(cache_dir / "inat_ratelimit.sqlite"),
        lock_path=str(cache_dir / "inat_ratelimit.lock"),
        per_second=per_second,
        per_minute=per_minute,
        per_day=max(10_000.0, per_minute * 1440 + 1),
        expire_after=dt.timedelta(days=expire_days),
    )


class Ancestry:
    """Taxon -> class..species lineage, looking ancestors up in batches and caching them."""

    def __init__(self, session: ClientSession) -> None:
        self.session = session
        self._taxa: dict[int, dict[str, Any]] = {}

    def _resolve(self, ids: Iterable[int]) -> None:
        missing = sorted({int(i) for i in ids} - self._taxa.keys())
        for start in range(0, len(missing), TAXA_PER_REQUEST):
            chunk = missing[start:start + TAXA_PER_REQUEST]
            for t in get_taxa_by_id(chunk, session=self.session).get("results", []):
                self._taxa[int(t["id"])] = t

    def lineage(self, taxon: dict[str, Any]) -> tuple[Lineage, str | None]:
        """class..species from the taxon's ancestors; raises ValueError above species level."""
        ids = [int(i) for i in taxon.get("ancestor_ids") or []]
        self._resolve(ids)
        by_rank = {self._taxa[i]["rank"]: self._taxa[i] for i in ids if i in self._taxa
                   and self._taxa[i].get("rank") in _RANKS}
        if taxon.get("rank") == "species":
            by_rank["species"] = taxon
        if "species" not in by_rank:
            raise ValueError(f"taxon {taxon.get('name')!r} is identified to {taxon.get('rank')}, not species")
        missing = [r.value for r in Rank.ordered() if r.value not in by_rank]
        if missing:
            raise ValueError(f"taxon {taxon.get('name')!r}: ancestry lacks {', '.join(missing)}")
        sp = by_rank["species"]
        names = [by_rank[r.value]["name"] for r in Rank.ordered()]
        return Lineage(*names), sp.get("preferred_common_name")


class INatSource:
    name = "inat"

    def __init__(self, fetch: FetchConfig, *, taxon: str | int | None = None, place_id: int | None = None,
                 kinds: Iterable[MediaKind] = (MediaKind.AUDIO, MediaKind.IMAGE),
                 quality_grade: str = "research", max_observations: int | None = None,
                 per_page: int = 200, photo_size: str = "medium",
                 session: ClientSession | None = None, download_session: requests.Session | None = None) -> None:
        if taxon is None and place_id is None:
            raise ConfigError("give a taxon and/or a place; the whole of iNaturalist is too much")
        self.taxon, self.place_id = taxon, place_id
        self.kinds = frozenset(kinds)
        self.quality_grade, self.max_observations, self.per_page = quality_grade, max_observations, per_page
        self.photo_size = photo_size
        self.licenses = [lic.lower() for lic in fetch.licenses]
        self.root = fetch.media_dir / "inat"
        self.session = session or api_session(fetch.cache_dir, fetch.requests_per_second)
        self.downloader = fetch.downloader(download_session or requests.Session())
        self.ancestry = Ancestry(self.session)

    def params(self) -> dict[str, Any]:
        return {"taxon": self.taxon, "place_id": self.place_id, "kinds": sorted(k.value for k in self.kinds),
                "quality_grade": self.quality_grade, "licenses": self.licenses,
                "max_observations": self.max_observations}

    # ------------------------------------------------------------------ API

    def _query(self) -> dict[str, Any]:
        q: dict[str, Any] = {"quality_grade": self.quality_grade, "order_by": "id", "order": "asc",
                             "per_page": self.per_page}
        if isinstance(self.taxon, int) or (isinstance(self.taxon, str) and self.taxon.isdigit()):
            q["taxon_id"] = int(self.taxon)
        elif self.taxon:
            q["taxon_name"] = self.taxon
        if self.place_id is not None:
            q["place_id"] = self.place_id
        upper = [lic.upper() for lic in self.licenses]
        if self.kinds == {MediaKind.AUDIO}:
            q.update(sounds=True, sound_license=upper)
        elif self.kinds == {MediaKind.IMAGE}:
            q.update(photos=True, photo_license=upper)
        return q

    def observations(self) -> Iterator[dict[str, Any]]:
        """All matching observations, paged by id (iNaturalist's advice for deep result sets)."""
        seen, last_id = 0, 0
        while True:
            page = get_observations(**self._query(), id_above=last_id, session=self.session)
            results = page.get("results", [])
            if not results:
                return
            for obs in results:
                yield obs
                seen += 1
                if self.max_observations is not None and seen >= self.max_observations:
                    return
            last_id = max(int(o["id"]) for o in results)
            if len(results) < self.per_page:
                return

    # ------------------------------------------------------------ records

    def records(self) -> Iterator[Record]:
        named: set[str] = set()
        for obs in self.observations():
            item = f"observation {obs.get('id')}"
            try:
                lineage, common = self.ancestry.lineage(obs.get("taxon") or {})
            except ValueError as exc:
                yield RecordFailure(item, "taxonomy", str(exc))
                continue
            if lineage.species not in named:
                named.add(lineage.species)
                species_id = (obs["taxon"]["id"] if obs["taxon"].get("rank") == "species"
                              else obs["taxon"].get("min_species_taxon_id"))
                yield TaxonRecord(lineage, common, {"inat": species_id})
            yield from self._media(obs, lineage)

    def _media(self, obs: dict[str, Any], lineage: Lineage) -> Iterator[Record]:
        user = obs.get("user") or {}
        observed = obs.get("observed_on")
        if isinstance(observed, dt.datetime):
            observed = observed.date()
        elif isinstance(observed, str):
            observed = dt.date.fromisoformat(observed[:10])
        loc = obs.get("location") or [None, None]
        try:
            lat = parse_coordinate(loc[0], 90, "latitude")
            lon = parse_coordinate(loc[1], 180, "longitude")
        except (ValueError, TypeError, IndexError):
            lat = lon = None
        common = dict(species=lineage.species, lineage=lineage, observed_on=observed, lat=lat, lon=lon,
                      rights_holder=user.get("name") or user.get("login"))
        extra = {"observation_id": obs.get("id"), "observation_url": obs.get("uri"),
                 "group": f"inat-observation-{obs.get('id')}", "locality": obs.get("place_guess")}
        wanted: list[tuple[MediaKind, str, dict[str, Any]]] = []
        if MediaKind.AUDIO in self.kinds:
            wanted += [(MediaKind.AUDIO, "sound", s) for s in obs.get("sounds") or []]
        if MediaKind.IMAGE in self.kinds:
            wanted += [(MediaKind.IMAGE, "photo", p) for p in obs.get("photos") or []]
        for kind, label, m in wanted:
            lic = normalise_license(m.get("license_code"))
            if not is_allowed(lic, self.licenses):
                continue  # not an allowed licence: left out by policy, not a failure
            url = m.get("file_url") if kind is MediaKind.AUDIO else self._photo_url(m.get("url") or "")
            if not url:
                yield RecordFailure(f"{label} {m.get('id')} of observation {obs.get('id')}", "source",
                                    "no file URL in the API response")
                continue
            yield MediaRecord(source_id=f"{label}/{m.get('id')}", kind=kind, url=url, license=lic,
                              attribution=m.get("attribution"), extra=extra, **common)  # type: ignore[arg-type]  # the shared fields of a mixed-type dict are MediaRecord fields

    def _photo_url(self, url: str) -> str:
        for size in ("square", "thumb", "small", "medium", "large", "original"):
            if f"/{size}." in url:
                return url.replace(f"/{size}.", f"/{self.photo_size}.")
        return url

    def fetch(self, record: MediaRecord) -> Path:
        assert record.url is not None
        ext = Path(urlparse(record.url).path).suffix.lower() or (".m4a" if record.kind is MediaKind.AUDIO else ".jpg")
        folder = "sounds" if record.kind is MediaKind.AUDIO else "photos"
        dest = self.root / folder / f"{record.source_id.split('/', 1)[1]}{ext}"
        try:
            return self.downloader.get(record.url, dest)
        except MediaError:
            raise
        except OSError as exc:
            raise MediaError("download", f"cannot write {dest}: {exc}") from None


class INatTaxonomy:
    """Resolve a scientific name to its lineage through iNaturalist's taxa API (for sources,
    such as Xeno-canto, that name species but not their families)."""

    def __init__(self, session: ClientSession) -> None:
        self.session = session
        self.ancestry = Ancestry(session)
        self._cache: dict[str, tuple[Lineage, str | None, int] | None] = {}

    def resolve(self, name: str) -> tuple[Lineage, str | None, int] | None:
        if name in self._cache:
            return self._cache[name]
        found = None
        for t in get_taxa(q=name, rank=["species"], session=self.session).get("results", []):
            if t.get("name", "").lower() == name.lower():
                try:
                    lineage, common = self.ancestry.lineage(t)
                    found = (lineage, common, int(t["id"]))
                except ValueError:
                    found = None
                break
        self._cache[name] = found
        return found
