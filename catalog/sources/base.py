"""What a source yields, and the one interface every source implements.

A source is a generator of small typed records (taxa, trait facts, media, row failures).
The ingestor (`catalog.ingest`) owns the database: it skips what is already stored before
asking the source to fetch a file, so every source is resumable and idempotent for free.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import requests

from catalog.decode import MediaError
from catalog.tables import MediaKind
from catalog.taxonomy import Lineage
from catalog.traits import TraitSource


@dataclass(frozen=True, slots=True)
class TaxonRecord:
    lineage: Lineage
    common_name: str | None = None
    source_ids: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TraitRecord:
    """Trait facts for one species: {(category, label): present}."""

    species: str
    facts: dict[tuple[str, str], bool]
    source: TraitSource = TraitSource.TABLE
    confidence: float = 1.0


@dataclass(frozen=True, slots=True)
class MediaRecord:
    """One sound or photo. `path` for local files, `url` for files the source downloads."""

    source_id: str
    species: str
    kind: MediaKind | None = None  # None: decided by the file's extension and content
    path: Path | None = None
    url: str | None = None
    license: str | None = None
    rights_holder: str | None = None
    attribution: str | None = None
    observed_on: dt.date | None = None
    lat: float | None = None
    lon: float | None = None
    lineage: Lineage | None = None  # when the record itself knows the species' ancestors
    extra: dict[str, Any] = field(default_factory=dict)
    # Identified above species ("Strigidae", "Anura"): the rank ("" when the record does not say and
    # the catalog must know the name) and the (rank, name) pairs the record gives, class downwards.
    # `species` then holds the taxon's name.
    rank: str = "species"
    higher: tuple[tuple[str, str], ...] = ()

    @property
    def item(self) -> str:
        """How failures name this record: the file, else the URL, else the id."""
        return str(self.path or self.url or self.source_id)


@dataclass(frozen=True, slots=True)
class RecordFailure:
    """A row or response the source itself could not turn into a record."""

    item: str
    stage: str
    reason: str


Record = TaxonRecord | TraitRecord | MediaRecord | RecordFailure


@runtime_checkable
class Source(Protocol):
    name: str

    def params(self) -> dict[str, Any]:
        """What this run was asked for (kept on the ingest run)."""
        ...

    def records(self) -> Iterator[Record]:
        """Taxa (before media that need them), traits, media and failures."""
        ...

    def fetch(self, record: MediaRecord) -> Path:
        """A local file for the record, downloading if needed; raises MediaError."""
        ...


class LocalFetchMixin:
    """For sources whose records already point at local files."""

    def fetch(self, record: MediaRecord) -> Path:
        if record.path is None:
            raise MediaError("file", "record has no local path")
        return record.path


#: Creative Commons licence codes as iNaturalist spells them; online sources accept these by default.
CC_LICENSES: tuple[str, ...] = ("cc0", "cc-by", "cc-by-sa", "cc-by-nd", "cc-by-nc", "cc-by-nc-sa", "cc-by-nc-nd")


@dataclass(frozen=True)
class FetchConfig:
    """What an online source needs to fetch politely: where files and caches go, which licences it
    takes, how fast and how long it may ask, and how large a file may be. Built at the edge."""

    media_dir: Path
    cache_dir: Path
    licenses: tuple[str, ...] = CC_LICENSES
    requests_per_second: float = 1.0
    timeout_s: float = 60.0
    max_file_bytes: int = 2 * 1024**3

    def downloader(self, session: requests.Session) -> Downloader:
        return Downloader(session, RateLimiter(self.requests_per_second), self.timeout_s, self.max_file_bytes)


class RateLimiter:
    """At most `per_second` calls per second (monotonic clock; one process)."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        self._next = 0.0

    def wait(self) -> None:
        now = time.monotonic()
        if now < self._next:
            time.sleep(self._next - now)
        self._next = max(now, self._next) + self.interval


class Downloader:
    """Rate-limited, resumable downloads: `<dest>.part` grows with HTTP Range requests."""

    def __init__(self, session: requests.Session, limiter: RateLimiter, timeout_s: float,
                 max_bytes: int) -> None:
        self.session = session
        self.limiter = limiter
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes

    def get(self, url: str, dest: Path) -> Path:
        if dest.is_file() and dest.stat().st_size > 0:
            return dest  # finished earlier; the ingestor re-validates it
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        self.limiter.wait()
        try:
            with self.session.get(url, headers=headers, stream=True, timeout=self.timeout_s) as resp:
                if resp.status_code == 416:  # the part file is already complete
                    part.replace(dest)
                    return dest
                if resp.status_code >= 400:
                    raise MediaError("download", f"HTTP {resp.status_code} for {url}")
                mode = "ab" if have and resp.status_code == 206 else "wb"
                written = have if mode == "ab" else 0
                with part.open(mode) as fh:
                    for chunk in resp.iter_content(1 << 16):
                        written += len(chunk)
                        if written > self.max_bytes:
                            raise MediaError("download", f"{url} is larger than the "
                                                         f"{self.max_bytes / 1024**2:.0f} MiB limit")
                        fh.write(chunk)
        except requests.RequestException as exc:
            raise MediaError("download", f"{url}: {exc.__class__.__name__}: {exc}") from None
        part.replace(dest)
        return dest


def parse_date(text: str | None) -> dt.date | None:
    """A Darwin Core eventDate (or an API's date) -> a date; raises ValueError when malformed.

    Accepts 'YYYY-MM-DD', a datetime with time and zone, an interval 'start/end' (start is
    kept), and partial dates 'YYYY-MM' / 'YYYY' or Xeno-canto's '2019-05-00' (first day).
    """
    if text is None or not str(text).strip():
        return None
    s = str(text).strip().split("/")[0].strip()
    try:
        return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    parts = s.split("-")
    if 1 <= len(parts) <= 3 and all(p.isdigit() for p in parts) and len(parts[0]) == 4:
        year, month, day = (int(p) for p in parts + ["0"] * (3 - len(parts)))
        try:
            return dt.date(year, month or 1, day or 1)
        except ValueError:
            pass
    raise ValueError(f"bad date {text!r} (expected ISO 8601, e.g. 2021-06-25)")


def parse_coordinate(text: str | float | None, limit: float, what: str) -> float | None:
    """A latitude (limit 90) or longitude (limit 180); raises ValueError when malformed."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"bad {what} {text!r}") from None
    if not -limit <= value <= limit:
        raise ValueError(f"{what} {value} is outside -{limit}..{limit}")
    return value
