"""Media -> points: decode, window, embed, payload; and the commit of a batch to store + catalog.

`embed_media` is what a worker does; `commit_batch` writes the points and marks the catalog.
With a Qdrant server the worker commits itself; with the embedded store only the process that
owns it (the `vita index` run) may write, so workers send their points back and it commits.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.decode import MediaError, load_audio, load_image
from catalog.models import IndexEntry, Media, MediaStatus, Taxon, TraitValue
from catalog.store import record_failure, resolve_failure
from catalog.traits import keyword
from encoders.audio import sliding_windows
from encoders.model import VitaEncoder
from indexer.schema import day_number, point_id
from indexer.store import Point, VectorStore

FAILURE_SOURCE = "index"


@dataclass
class Outcome:
    media_id: int
    path: str
    points: int = 0
    stage: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


@dataclass
class BatchResult:
    points: list[Point] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)

    def to_wire(self) -> dict[str, Any]:
        """JSON-safe (Celery's serializer): vectors as base64 float32."""
        return {"points": [[p.id, base64.b64encode(np.asarray(p.vector, np.float32).tobytes()).decode(), p.payload]
                           for p in self.points],
                "outcomes": [asdict(o) for o in self.outcomes]}

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> BatchResult:
        pts = [Point(pid, np.frombuffer(base64.b64decode(vec), np.float32), payload)
               for pid, vec, payload in data["points"]]
        return cls(pts, [Outcome(**o) for o in data["outcomes"]])


def trait_keywords(session: Session, taxon_ids: list[int]) -> dict[int, list[str]]:
    """Known traits per taxon as payload keywords 'category=label' (predictions are not facts)."""
    out: dict[int, list[str]] = defaultdict(list)
    rows = session.execute(select(TraitValue.taxon_id, TraitValue.category, TraitValue.label)
                           .where(TraitValue.taxon_id.in_(taxon_ids), TraitValue.present.is_(True),
                                  TraitValue.source != "predicted"))
    for tid, cat, label in rows:
        kw = keyword(cat, label)
        if kw not in out[tid]:
            out[tid].append(kw)
    return out


def lineage_payload(t: Taxon) -> dict[str, Any]:
    return {"class": t.class_name, "order": t.order_name, "family": t.family_name, "genus": t.genus_name,
            "species": t.name if t.rank == "species" else None, "common_name": t.common_name}


def media_payload(m: Media, t: Taxon, traits: list[str]) -> dict[str, Any]:
    p: dict[str, Any] = {"media_id": m.id, "recording": str(m.id), "modality": m.kind, **lineage_payload(t),
                         "traits": traits, "license": m.license or "unknown", "source": m.source,
                         "rights_holder": m.rights_holder, "split": m.split}
    if m.observed_on:
        p["observed_on"], p["observed_day"] = m.observed_on.isoformat(), day_number(m.observed_on)
    if m.lat is not None and m.lon is not None:
        p["location"] = {"lat": m.lat, "lon": m.lon}
    return {k: v for k, v in p.items() if v is not None}


def embed_media(session: Session, model: VitaEncoder, model_key: str, media_ids: list[int]) -> BatchResult:
    """Decode, window and embed each item; a bad file becomes an outcome with its reason, never an exception."""
    rows = session.execute(select(Media, Taxon).join(Taxon, Media.taxon_id == Taxon.id)
                           .where(Media.id.in_(media_ids)).order_by(Media.id)).all()
    traits = trait_keywords(session, list({t.id for _, t in rows}))
    result = BatchResult()
    audio_cfg = model.cfg.audio
    for m, t in rows:
        out = Outcome(m.id, m.path)
        result.outcomes.append(out)
        base = media_payload(m, t, traits.get(t.id, []))
        try:
            if m.kind == "audio":
                if audio_cfg is None:
                    raise MediaError("embed", f"model {model.cfg.name} has no audio tower")
                wave, sr = load_audio(Path(m.path), audio_cfg.sample_rate)
                if len(wave) == 0 or not np.isfinite(wave).all():
                    raise MediaError("decode", "no finite samples")
                windows = sliding_windows(wave, sr, audio_cfg.window_s, audio_cfg.hop_s)
                vectors = model.embed_audio([w.samples for w in windows], crop="start")
                for n, (w, v) in enumerate(zip(windows, vectors)):
                    length = min(audio_cfg.window_s, len(wave) / sr - w.offset_s)
                    result.points.append(Point(point_id(m.sha256, w.offset_s, model_key), v,
                                               {**base, "window": n, "offset_s": round(w.offset_s, 3),
                                                "duration_s": round(length, 3),
                                                "recording_s": round(len(wave) / sr, 3)}))
                out.points = len(windows)
            else:
                vectors = model.embed_image([load_image(Path(m.path))])
                result.points.append(Point(point_id(m.sha256, 0.0, model_key), vectors[0], {**base, "window": 0}))
                out.points = 1
        except MediaError as exc:
            out.stage, out.reason = exc.stage, exc.reason
        except FileNotFoundError:
            out.stage, out.reason = "decode", "file is missing (moved or deleted since ingest)"
        except Exception as exc:
            out.stage, out.reason = "embed", f"{type(exc).__name__}: {exc}"
    found = {m.id for m, _ in rows}
    result.outcomes += [Outcome(mid, f"media #{mid}", stage="plan", reason="no such media in the catalog")
                        for mid in media_ids if mid not in found]
    return result


def commit_batch(session: Session, store: VectorStore, collection: str, result: BatchResult) -> None:
    """Points first, then the catalog: a crash between the two re-indexes (same ids), never loses."""
    if result.points:
        store.upsert(collection, result.points)
    ids = [o.media_id for o in result.outcomes]
    entries = {e.media_id: e for e in session.scalars(
        select(IndexEntry).where(IndexEntry.collection == collection, IndexEntry.media_id.in_(ids)))}
    media = {m.id: m for m in session.scalars(select(Media).where(Media.id.in_(ids)))}
    now = dt.datetime.now(dt.UTC)
    for o in result.outcomes:
        m = media.get(o.media_id)
        if m is None:
            continue
        entry = entries.get(o.media_id) or IndexEntry(media_id=o.media_id, collection=collection)
        entry.status, entry.points, entry.error, entry.updated_at = (
            ("indexed", o.points, None, now) if o.ok else ("error", 0, f"{o.stage}: {o.reason}", now))
        session.add(entry)
        if o.ok:
            if m.status != MediaStatus.INDEXED.value:  # ready, or fixed since a failed run
                m.status, m.error = MediaStatus.INDEXED.value, None
            resolve_failure(session, FAILURE_SOURCE, o.path)
        else:
            if o.stage == "decode":  # the file itself is bad: keep it out of training too
                m.status, m.error = MediaStatus.ERROR.value, f"{o.stage}: {o.reason}"
            record_failure(session, FAILURE_SOURCE, o.path, o.stage or "index", o.reason or "?", None)
    session.commit()
