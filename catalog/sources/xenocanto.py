"""Xeno-canto API v3: recordings by a search query, with recordist, licence and XC number kept.

Xeno-canto's terms ask that every use shows the recordist, the XC catalogue number and the
licence; all three are stored on each media row (rights_holder, source_id, license) and
spelled out in its attribution.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import requests

from catalog.decode import MediaError
from catalog.errors import VitaError
from catalog.licenses import is_allowed, normalise_license
from catalog.sources.base import (
    Downloader,
    FetchConfig,
    MediaRecord,
    RateLimiter,
    Record,
    RecordFailure,
    TaxonRecord,
    parse_coordinate,
    parse_date,
)
from catalog.tables import MediaKind
from catalog.taxonomy import Lineage, normalise_scientific_name

API_URL = "https://xeno-canto.org/api/3/recordings"


class XenoCantoError(VitaError, RuntimeError):
    """The API refused the query (bad key, bad query, server error)."""


class Resolver(Protocol):
    def resolve(self, name: str) -> tuple[Lineage, str | None, int] | None: ...


def species_query(name: str) -> str:
    """'Hyla versicolor' -> the v3 tag query 'sp:"hyla versicolor"'."""
    return f'sp:"{normalise_scientific_name(name).lower()}"'


class XenoCantoSource:
    name = "xc"

    def __init__(self, fetch: FetchConfig, key: str | None, query: str, *, max_recordings: int | None = None,
                 per_page: int = 100, resolver: Resolver | None = None,
                 session: requests.Session | None = None) -> None:
        if not key:
            raise XenoCantoError("Xeno-canto API v3 needs a key: set VITA_XC_KEY "
                                 "(every verified xeno-canto account has one)")
        self.key = key
        self.query, self.max_recordings, self.per_page = query, max_recordings, per_page
        self.licenses = [lic.lower() for lic in fetch.licenses]
        self.resolver = resolver
        self.session = session or requests.Session()
        self.limiter = RateLimiter(fetch.requests_per_second)
        self.timeout = fetch.timeout_s
        self.downloader = Downloader(self.session, self.limiter, fetch.timeout_s, fetch.max_file_bytes)
        self.root = fetch.media_dir / "xc"

    def params(self) -> dict[str, Any]:
        return {"query": self.query, "max_recordings": self.max_recordings, "licenses": self.licenses}

    def _page(self, page: int) -> dict[str, Any]:
        self.limiter.wait()
        try:
            resp = self.session.get(API_URL, params={"query": self.query, "key": self.key, "page": page,  # type: ignore[arg-type]  # requests accepts these int and str values
                                                     "per_page": self.per_page}, timeout=self.timeout)
        except requests.RequestException as exc:
            raise XenoCantoError(f"xeno-canto unreachable: {exc}") from None
        try:
            body = resp.json()
        except ValueError:
            body = {}
        if resp.status_code >= 400 or "error" in body:
            msg = body.get("message") or body.get("error") or resp.reason
            raise XenoCantoError(f"xeno-canto refused the query {self.query!r}: HTTP {resp.status_code}: {msg}")
        return body

    def recordings(self) -> Iterator[dict[str, Any]]:
        page, seen = 1, 0
        while True:
            body = self._page(page)
            for rec in body.get("recordings", []):
                yield rec
                seen += 1
                if self.max_recordings is not None and seen >= self.max_recordings:
                    return
            if page >= int(body.get("numPages") or 1):
                return
            page += 1

    def records(self) -> Iterator[Record]:
        lineages: dict[str, Lineage | None] = {}
        for rec in self.recordings():
            xc = f"XC{rec.get('id')}"
            gen, sp = (rec.get("gen") or "").strip(), (rec.get("sp") or "").strip()
            if not gen or not sp or sp.lower() in {"mystery", "sp.", "sp"}:
                yield RecordFailure(xc, "taxonomy", f"recording is not identified to species ({gen} {sp})".strip())
                continue
            species = normalise_scientific_name(f"{gen} {sp}")
            if species not in lineages:
                resolved = self.resolver.resolve(species) if self.resolver else None
                lineages[species] = resolved[0] if resolved else None
                if resolved:
                    yield TaxonRecord(resolved[0], rec.get("en") or resolved[1], {"inat": resolved[2]})
            lic = normalise_license(rec.get("lic"))
            if not is_allowed(lic, self.licenses):
                continue
            url = rec.get("file")
            if not url:
                yield RecordFailure(xc, "source", "no file URL (restricted recording?)")
                continue
            try:
                observed = parse_date(rec.get("date"))
            except ValueError:
                observed = None
            try:
                lat = parse_coordinate(rec.get("lat"), 90, "lat")
                lon = parse_coordinate(rec.get("lon", rec.get("lng")), 180, "lon")
            except ValueError:
                lat = lon = None
            recordist = (rec.get("rec") or "").strip() or None
            page_url = f"https://xeno-canto.org/{rec.get('id')}"
            yield MediaRecord(
                source_id=xc, species=species, kind=MediaKind.AUDIO, url=url if url.startswith("http") else f"https:{url}",
                license=lic, rights_holder=recordist,
                attribution=f"{recordist or 'unknown recordist'}, {xc}. Accessible at {page_url} ({rec.get('lic')})",
                observed_on=observed, lat=lat, lon=lon, lineage=lineages[species],
                extra={"xc_id": rec.get("id"), "english_name": rec.get("en"), "quality": rec.get("q"),
                       "type": rec.get("type"), "country": rec.get("cnt"), "locality": rec.get("loc"), "group": xc,
                       "file_name": rec.get("file-name"), "sample_rate": rec.get("smp")},
            )

    def fetch(self, record: MediaRecord) -> Path:
        assert record.url is not None
        ext = Path(str(record.extra.get("file_name") or "")).suffix.lower() or ".mp3"
        dest = self.root / f"{record.source_id}{ext}"
        try:
            return self.downloader.get(record.url, dest)
        except OSError as exc:
            raise MediaError("download", f"cannot write {dest}: {exc}") from None
