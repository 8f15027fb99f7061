"""Media -> points: decode, window, embed, payload; and the commit of a batch to store + catalog.

`embed_media` is what a worker does; `commit_batch` writes the points and marks the catalog.
With a Qdrant server the worker commits itself; with the embedded store only the process that
owns it (the `vita index` run) may write, so workers send their points back and it commits.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.decode import MediaError, load_audio, load_image, stream_audio
from catalog.tables import IndexEntry, Media, MediaStatus, Taxon, TraitValue
from catalog.traits import keyword
from catalog.writes import record_failure, resolve_failures
from encoders.audio import sliding_windows, stream_windows
from encoders.config import EncoderConfig
from encoders.encoder import VitaEncoder
from indexer.schema import day_number, point_id
from indexer.store import Point, VectorStore

FAILURE_SOURCE = "index"
#: Recordings longer than this (by the catalog's duration) are streamed, never held whole.
LONG_AUDIO_S = 600.0


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
    #: where the batch's time went in its worker process (`batch_timing`), for the profile of a run
    timing: dict[str, float] = field(default_factory=dict)


def batch_timing(start: float, model_s: float) -> dict[str, float]:
    """A batch's timing as it travels (JSON): the process, its wall-clock start and end (epoch seconds,
    compared only within one process), and the seconds in the model's forward passes; the rest of
    the batch's wall time went to decoding the model waited on, the catalog and the store."""
    return {"pid": float(os.getpid()), "start": start, "end": time.time(), "model_s": model_s}


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


@dataclass
class _Item:
    """One media item of a batch on its way through decode -> windows -> vectors."""

    media: Media
    outcome: Outcome
    base: dict[str, Any]
    inputs: list[Any] = field(default_factory=list)  # audio windows' samples, or one image
    offsets: list[float] = field(default_factory=list)
    recording_s: float = 0.0
    stream: bool = False  # too long to hold whole: decoded, windowed and embedded a block at a time


def _decode(item: _Item, cfg: EncoderConfig) -> _Item:
    """Decode and window one item (in a pool thread: soundfile, soxr and PIL release the GIL)."""
    m, audio_cfg = item.media, cfg.audio
    try:
        if m.kind == "audio":
            if audio_cfg is None:
                raise MediaError("embed", f"model {cfg.name} has no audio tower")
            if (m.duration_s or 0.0) > LONG_AUDIO_S:
                item.stream = True
                return item
            wave, sr = load_audio(Path(m.path), audio_cfg.sample_rate)
            if len(wave) == 0 or not np.isfinite(wave).all():
                raise MediaError("decode", "no finite samples")
            windows = sliding_windows(wave, sr, audio_cfg.window_s, audio_cfg.hop_s)
            item.inputs, item.offsets = [w.samples for w in windows], [w.offset_s for w in windows]
            item.recording_s = len(wave) / sr
        else:
            item.inputs, item.offsets = [load_image(Path(m.path))], [0.0]
    except MediaError as exc:
        item.outcome.stage, item.outcome.reason = exc.stage, exc.reason
    except FileNotFoundError:
        item.outcome.stage, item.outcome.reason = "decode", "file is missing (moved or deleted since ingest)"
    except Exception as exc:  # not known to be the file's fault: not marked bad for training
        item.outcome.stage, item.outcome.reason = "embed", f"{type(exc).__name__}: {exc}"
    return item


def _embed(model: VitaEncoder, kind: str, items: list[_Item]) -> list[np.ndarray]:
    """All inputs of these items in the model's batches; if a batch fails, item by item, so one
    bad input costs only its own item (its outcome says why) and the rest keep their vectors."""
    def run(group: list[_Item]) -> np.ndarray:
        flat = [x for it in group for x in it.inputs]
        return model.embed_audio(flat, crop="start") if kind == "audio" else model.embed_image(flat)

    try:
        vectors = run(items)
    except Exception:
        out = []
        for it in items:
            try:
                out.append(run([it]))
            except Exception as exc:
                it.outcome.stage, it.outcome.reason = "embed", f"{type(exc).__name__}: {exc}"
                out.append(np.zeros((0, model.cfg.dim), np.float32))
        return out
    return list(np.split(vectors, np.cumsum([len(it.inputs) for it in items])[:-1]))


def _embed_stream(it: _Item, model: VitaEncoder, model_key: str, result: BatchResult) -> float:
    """A long recording: blocks -> windows -> the model's batches -> points; memory holds a block,
    a window and one batch, whatever the length (a 2-hour file is not decoded whole). Returns the
    seconds spent in the model."""
    cfg = model.cfg.audio
    assert cfg is not None
    samples = 0
    model_s = 0.0

    def forward(batch: list[np.ndarray]) -> np.ndarray:
        nonlocal model_s
        t = time.perf_counter()
        out = model.embed_audio(batch, crop="start")
        model_s += time.perf_counter() - t
        return out

    def counted(blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        nonlocal samples
        for block in blocks:
            if not np.isfinite(block).all():
                raise MediaError("decode", f"non-finite samples near {samples / sr:.1f} s")
            samples += len(block)
            yield block

    vectors: list[np.ndarray] = []
    batch: list[np.ndarray] = []
    try:
        sr, blocks = stream_audio(Path(it.media.path), cfg.sample_rate)
        for w in stream_windows(counted(blocks), sr, cfg.window_s, cfg.hop_s):
            batch.append(w.samples)
            it.offsets.append(w.offset_s)
            if len(batch) == model.batch_size:
                vectors.append(forward(batch))
                batch = []
        if batch:
            vectors.append(forward(batch))
        if samples == 0:
            raise MediaError("decode", "no audio frames could be decoded")
    except MediaError as exc:
        it.outcome.stage, it.outcome.reason = exc.stage, exc.reason
        return model_s
    except FileNotFoundError:
        it.outcome.stage, it.outcome.reason = "decode", "file is missing (moved or deleted since ingest)"
        return model_s
    except Exception as exc:
        it.outcome.stage, it.outcome.reason = "embed", f"{type(exc).__name__}: {exc}"
        return model_s
    it.recording_s = samples / sr
    result.points += _points(it, np.concatenate(vectors), model, model_key)
    return model_s


def _points(it: _Item, vectors: np.ndarray, model: VitaEncoder, model_key: str) -> list[Point]:
    """One item's points: a photo's one, or a recording's windows with their offsets."""
    sha = it.media.sha256
    it.outcome.points = len(vectors)
    if it.media.kind != "audio":
        return [Point(point_id(sha, 0.0, model_key), vectors[0], {**it.base, "window": 0})]
    window_s = model.cfg.audio.window_s if model.cfg.audio else 0.0
    return [Point(point_id(sha, off, model_key), v, {**it.base, "window": n, "offset_s": round(off, 3),
                                                      "duration_s": round(min(window_s, it.recording_s - off), 3),
                                                      "recording_s": round(it.recording_s, 3)})
            for n, (off, v) in enumerate(zip(it.offsets, vectors))]


def embed_media(session: Session, model: VitaEncoder, model_key: str, media_ids: list[int],
                decode_threads: int = 2) -> BatchResult:
    """Decode, window and embed a batch; a bad file becomes an outcome with its reason, never an exception.

    Decoding runs ahead in a small thread pool while the model works on what is decoded: windows
    from all the batch's recordings (and its photos) are gathered into the model's own batch size
    and go through together. One forward per item left the model waiting on decode and ran photos
    one at a time.
    """
    start = time.time()
    rows = session.execute(select(Media, Taxon).join(Taxon, Media.taxon_id == Taxon.id)
                           .where(Media.id.in_(media_ids)).order_by(Media.id)).all()
    traits = trait_keywords(session, list({t.id for _, t in rows}))
    items = [_Item(m, Outcome(m.id, m.path), media_payload(m, t, traits.get(t.id, []))) for m, t in rows]
    result = BatchResult(outcomes=[it.outcome for it in items])
    waiting: dict[str, list[_Item]] = {"audio": [], "image": []}
    model_s = 0.0

    def flush(kind: str) -> None:
        nonlocal model_s
        group, waiting[kind] = waiting[kind], []
        if group:
            t = time.perf_counter()
            embedded = _embed(model, kind, group)
            model_s += time.perf_counter() - t
            for it, vectors in zip(group, embedded):
                if it.outcome.ok:
                    result.points += _points(it, vectors, model, model_key)
                it.inputs = []  # the samples are no longer needed

    with ThreadPoolExecutor(max(1, decode_threads)) as pool:
        for it in pool.map(lambda it: _decode(it, model.cfg), items):  # in order, decoding ahead
            if not it.outcome.ok or it.stream:
                continue
            kind = "audio" if it.media.kind == "audio" else "image"
            waiting[kind].append(it)
            if sum(len(x.inputs) for x in waiting[kind]) >= model.batch_size:
                flush(kind)
    flush("audio")
    flush("image")
    for it in items:
        if it.stream and it.outcome.ok:
            model_s += _embed_stream(it, model, model_key, result)
    found = {m.id for m, _ in rows}
    result.outcomes += [Outcome(mid, f"media #{mid}", stage="plan", reason="no such media in the catalog")
                        for mid in media_ids if mid not in found]
    result.timing = batch_timing(start, model_s)
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
    resolve_failures(session, FAILURE_SOURCE, [o.path for o in result.outcomes if o.ok and o.media_id in media])
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
        else:
            if o.stage == "decode":  # the file itself is bad: keep it out of training too
                m.status, m.error = MediaStatus.ERROR.value, f"{o.stage}: {o.reason}"
            record_failure(session, FAILURE_SOURCE, o.path, o.stage or "index", o.reason or "?", None)
    session.commit()
