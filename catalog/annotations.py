"""Annotations: a curator's yes/no on a label for one window of a media item (agile modelling's
labels). Added one by one (UI, CLI), from a CSV, or by a classifier; listed and exported as CSV.

CSV columns (import and export): `media_id,offset_s,duration_s,label,positive,source` with
`positive` as 1/0 (yes/no and true/false are read too). A bad row is reported with its line
number and reason; the other rows are added.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.errors import VitaError
from catalog.tables import Annotation, AnnotationSource, Media

COLUMNS = ("media_id", "offset_s", "duration_s", "label", "positive", "source")
_YES, _NO = {"1", "yes", "y", "true", "t", "+"}, {"0", "no", "n", "false", "f", "-"}


class AnnotationError(VitaError, ValueError):
    """An annotation that cannot be stored (unknown media, empty label, bad window)."""


@dataclass(frozen=True)
class AnnotationRow:
    id: int
    media_id: int
    path: str
    offset_s: float
    duration_s: float | None
    label: str
    positive: bool
    source: str
    created_at: dt.datetime


def add(session: Session, media_id: int, label: str, positive: bool, offset_s: float = 0.0,
        duration_s: float | None = None, source: AnnotationSource = AnnotationSource.CLI) -> Annotation:
    """Store one annotation (the caller commits); refuses what would not mean anything. The same
    item, window and label again replaces the earlier answer."""
    label = label.strip()
    if not label:
        raise AnnotationError("an annotation needs a label")
    media = session.get(Media, media_id)
    if media is None:
        raise AnnotationError(f"no media #{media_id} in the catalog")
    if offset_s < 0 or (duration_s is not None and duration_s <= 0):
        raise AnnotationError(f"media #{media_id}: a window starts at >= 0 s and lasts > 0 s "
                              f"(got {offset_s} s, {duration_s} s)")
    if media.duration_s is not None and offset_s > media.duration_s:
        raise AnnotationError(f"media #{media_id}: offset {offset_s} s is past its end ({media.duration_s:.1f} s)")
    # one answer per (item, window, label): a second one (a re-import, a changed mind) replaces it
    row = session.scalar(select(Annotation).where(Annotation.media_id == media_id, Annotation.label == label,
                                                  Annotation.offset_s == float(offset_s)))
    if row is None:
        row = Annotation(media_id=media_id, offset_s=float(offset_s), label=label)
        session.add(row)
    row.duration_s, row.positive, row.source = duration_s, bool(positive), AnnotationSource(source).value
    row.created_at = dt.datetime.now(dt.UTC)
    return row


def listed(session: Session, label: str | None = None) -> list[AnnotationRow]:
    q = select(Annotation, Media.path).join(Media, Media.id == Annotation.media_id).order_by(Annotation.id)
    if label is not None:
        q = q.where(Annotation.label == label)
    return [AnnotationRow(a.id, a.media_id, path, a.offset_s, a.duration_s, a.label, a.positive, a.source,
                          a.created_at) for a, path in session.execute(q)]


def _yes_no(text: str) -> bool:
    t = text.strip().lower()
    if t in _YES:
        return True
    if t in _NO:
        return False
    raise AnnotationError(f"positive must be 1/0, yes/no or true/false, not {text!r}")


def import_csv(session: Session, path: Path) -> tuple[int, list[tuple[int, str]]]:
    """Add every good row of a CSV (source csv unless the row says otherwise); returns
    (added, [(line, reason)]) and commits the good rows."""
    added, bad = 0, []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = {"media_id", "label", "positive"} - set(reader.fieldnames or [])
        if missing:
            raise AnnotationError(f"{path}: missing column(s) {', '.join(sorted(missing))} "
                                  f"(want {','.join(COLUMNS)})")
        for line, rec in enumerate(reader, start=2):
            try:
                duration = (rec.get("duration_s") or "").strip()
                with session.begin_nested():
                    add(session, int(rec["media_id"]), rec["label"] or "", _yes_no(rec["positive"] or ""),
                        float(rec.get("offset_s") or 0.0), float(duration) if duration else None,
                        AnnotationSource((rec.get("source") or "csv").strip() or "csv"))
                added += 1
            except (ValueError, AnnotationError) as exc:
                bad.append((line, str(exc)))
    session.commit()
    return added, bad


def export_csv(rows: list[AnnotationRow], path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([*COLUMNS, "file", "created_at"])
        for r in rows:
            w.writerow([r.media_id, r.offset_s, "" if r.duration_s is None else r.duration_s, r.label,
                        int(r.positive), r.source, r.path, r.created_at.isoformat()])
    return path
