"""Detections: the windows of recordings that a query (a sound, a text) or a classifier scores at or
over a threshold, stored in the catalog, and read back for export with the time and frequency box
Raven draws.

- `query_scores` streams (payload, cosine) for every audio window of a collection, a store page at a
  time (memory stays flat however many hours are indexed);
- `detect` stores the windows at or over the threshold as detections (source "query"), replacing
  the same label's last query run;
- `for_export` reads stored detections back as `indexer.raven.Detection`s, each with the frequency
  band of its window's spectrogram (no preset here predicts a band; `band` measures it);
- `merge` joins overlapping windows of one recording into one event, for tables a person reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from sqlalchemy import delete, select

from catalog.facade import Catalog
from catalog.tables import Detection as DetectionRow
from catalog.tables import Media
from indexer.filters import Filter
from indexer.raven import Detection
from indexer.store import VectorStore, vector_pages

PAGE = 512
QUERY_SOURCE = "query"


def query_scores(store: VectorStore, collection: str, vector: np.ndarray, flt: Filter | None = None,
                 page: int = PAGE) -> Iterator[tuple[dict[str, Any], float]]:
    """(payload, cosine to `vector`) for every audio window the filter admits, in store order."""
    q = np.asarray(vector, np.float32).reshape(-1)
    q = q / max(float(np.linalg.norm(q)), 1e-12)
    audio = Filter({"modality": ["audio"]})
    for payloads, matrix in vector_pages(store, collection, flt.merged(audio) if flt is not None else audio, page):
        yield from zip(payloads, (matrix @ q).tolist())


def detect(catalog: Catalog, store: VectorStore, collection: str, vector: np.ndarray, label: str,
           threshold: float, flt: Filter | None = None, source: str = QUERY_SOURCE) -> int:
    """Store every window scoring >= `threshold` as a detection of `label`; returns how many. A new
    run for the same label and source replaces the last one's detections."""
    with catalog.sessions() as s:
        s.execute(delete(DetectionRow).where(DetectionRow.label == label, DetectionRow.source == source))
        n = 0
        for payload, score in query_scores(store, collection, vector, flt):
            if score >= threshold:
                s.add(DetectionRow(media_id=int(payload["media_id"]), offset_s=float(payload.get("offset_s", 0.0)),
                                   duration_s=payload.get("duration_s"), label=label, score=float(score),
                                   source=source))
                n += 1
                if n % 1000 == 0:
                    s.flush()
        s.commit()
    return n


def stored(catalog: Catalog, label: str | None = None, source: str | None = None,
           media_ids: list[int] | None = None) -> list[tuple[DetectionRow, str, int | None]]:
    """(detection, recording path, sample rate) rows, best score first."""
    with catalog.sessions() as s:
        q = select(DetectionRow, Media.path, Media.sample_rate).join(Media, Media.id == DetectionRow.media_id)
        if label:
            q = q.where(DetectionRow.label == label)
        if source:
            q = q.where(DetectionRow.source == source)
        if media_ids:
            q = q.where(DetectionRow.media_id.in_(media_ids))
        rows = [(r, path, sr) for r, path, sr in s.execute(q.order_by(DetectionRow.score.desc()))]
        s.expunge_all()
    return rows


def for_export(catalog: Catalog, label: str | None = None, source: str | None = None,
               media_ids: list[int] | None = None, bands: bool = True) -> list[Detection]:
    """Stored detections as Raven/CSV rows; each box's frequencies are its window's spectrogram band
    (`bands=False`: 0 to Nyquist, without reading the audio)."""
    out = []
    for r, path, sr in stored(catalog, label, source, media_ids):
        start, end = r.offset_s, r.offset_s + (r.duration_s or 0.0)
        low, high = band(path, start, end) if bands else (0.0, (sr or 16000) / 2)
        out.append(Detection(path, start, end, r.label, r.score, low, high))
    return out


def band(path: str, start: float, end: float, rise_db: float = 10.0, lo_q: float = 0.05,
         hi_q: float = 0.95) -> tuple[float, float]:
    """The frequency band where a window's spectrogram rises over its own background: per frequency,
    the background is its median power over the window's frames, and each frame counts by how many
    decibels it rises more than `rise_db` over it (scale-free, so loud low-frequency noise does not
    outweigh a quieter call); the band runs from the `lo_q` to the `hi_q` quantile of that count.
    When nothing rises (a call that fills the whole window), the quantiles of the mean spectrum's
    energy instead. Reads only the window (a seek), so it costs the same in a file of hours; falls
    back to 0..Nyquist when the file cannot be read that way."""
    import soundfile as sf

    try:
        with sf.SoundFile(path) as fh:
            sr = fh.samplerate
            fh.seek(min(int(start * sr), max(0, fh.frames - 1)))
            x = fh.read(max(1, int((end - start) * sr)) if end > start else -1, dtype="float32", always_2d=True)
    except (RuntimeError, OSError, ValueError):
        return 0.0, 8000.0
    x = x.mean(axis=1)
    n_fft, hop = 1024, 256
    if len(x) < n_fft:
        return 0.0, sr / 2
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * np.hanning(n_fft)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2 + 1e-20  # (frames, bins)
    rise = 10 * np.log10(power / np.median(power, axis=0)) - rise_db
    weight = np.clip(rise, 0, None).sum(axis=0)
    if float(weight.sum()) <= 0:
        weight = power.mean(axis=0)
    cdf = np.cumsum(weight) / float(weight.sum())
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    lo, hi = (min(len(freqs) - 1, int(np.searchsorted(cdf, q))) for q in (lo_q, hi_q))
    return float(freqs[lo]), float(freqs[hi])


def merge(detections: list[Detection]) -> list[Detection]:
    """Overlapping windows of one recording and label become one event: earliest start, latest end,
    best score, the union of the bands."""
    out: list[Detection] = []
    for d in sorted(detections, key=lambda d: (d.file, d.label, d.start)):
        last = out[-1] if out else None
        if last is not None and (last.file, last.label) == (d.file, d.label) and d.start < last.end:
            out[-1] = Detection(d.file, last.start, max(last.end, d.end), d.label, max(last.score, d.score),
                                min(last.low_hz, d.low_hz), max(last.high_hz, d.high_hz))
        else:
            out.append(d)
    return out
