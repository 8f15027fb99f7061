"""The ingest loop: records from a source -> validated media rows, failures, splits.

Guarantees, whatever the source:
- resumable and idempotent: a (source, source_id) already stored is skipped before any
  download, and a file whose sha256 is stored is not added twice;
- one bad file or row never stops the run and never undoes what is stored: each item is
  written inside its own savepoint, and work is committed in small batches;
- every failure is a row (`Failure`) naming the file and the reason.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from catalog.decode import Limits, MediaError, inspect
from catalog.sources.base import MediaRecord, RecordFailure, Source, TaxonRecord, TraitRecord
from catalog.splits import assign_splits
from catalog.tables import Failure, IngestRun, Media, MediaStatus
from catalog.taxonomy import Rank, normalise_scientific_name
from catalog.writes import (
    TaxonCache,
    find_higher,
    lineage_via_genus,
    record_failure,
    resolve_failure,
    set_traits,
    upsert_lineage,
    upsert_path,
)

log = logging.getLogger(__name__)
COMMIT_EVERY = 50


@dataclass
class IngestReport:
    source: str
    run_id: int = 0
    taxa: int = 0
    traits: int = 0
    added: int = 0
    skipped: int = 0
    duplicates: int = 0
    failed: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (item, stage, reason)

    @property
    def ok(self) -> bool:
        return self.failed == 0


Progress = Callable[[str, MediaRecord | None], None]


@dataclass
class _RunState:
    """What one run knows up front, so that no item costs a lookup query."""

    taxa: TaxonCache
    known: set[str]  # source ids of this source already stored
    shas: set[str]  # every stored file's sha256
    open_failures: set[str]  # items of this source with an unresolved failure


class Ingestor:
    def __init__(self, factory: sessionmaker[Session], limits: Limits) -> None:
        self.factory = factory
        self.limits = limits

    def run(self, source: Source, progress: Progress | None = None) -> IngestReport:
        report = IngestReport(source=source.name)
        with self.factory() as session:
            run = IngestRun(source=source.name, params=_jsonable(source.params()))
            session.add(run)
            session.commit()
            report.run_id = run.id
            state = _RunState(
                taxa=TaxonCache(session),
                known=set(session.scalars(select(Media.source_id).where(Media.source == source.name))),
                shas=set(session.scalars(select(Media.sha256))),
                open_failures=set(session.scalars(select(Failure.item).where(
                    Failure.source == source.name, Failure.resolved.is_(False)))),
            )
            # A failure of the source itself (API down, bad key) is keyed by what was asked,
            # so the next run of the same query updates it, or resolves it when it succeeds.
            run_item = f"<{source.name} {json.dumps(run.params, sort_keys=True, default=str)}>"
            pending = 0
            try:
                for record in source.records():
                    outcome = self._one(session, source, record, state, report)
                    if progress is not None:
                        progress(outcome, record if isinstance(record, MediaRecord) else None)
                    pending += 1
                    if pending >= COMMIT_EVERY:
                        session.commit()
                        pending = 0
            except Exception as exc:  # the source itself broke (e.g. the API went away)
                # Items so far each sit in their own released savepoint: keep them.
                session.commit()
                log.exception("source %s stopped", source.name)
                self._fail(session, source.name, run_item, "source", f"{exc.__class__.__name__}: {exc}", report)
            else:
                resolve_failure(session, source.name, run_item)
            session.commit()
            assign_splits(session)
            run = session.get(IngestRun, report.run_id)  # type: ignore[assignment]  # the run row was added at the start of this run
            assert run is not None
            run.finished_at = dt.datetime.now(dt.UTC)
            run.added, run.skipped, run.duplicates, run.failed = (
                report.added, report.skipped, report.duplicates, report.failed)
            run.status = "ok" if report.ok else "partial"
            session.commit()
        return report

    def _one(self, session: Session, source: Source, record: object, state: _RunState,
             report: IngestReport) -> str:
        """Handle one record inside a savepoint; returns an outcome word for progress."""
        if isinstance(record, RecordFailure):
            self._fail(session, source.name, record.item, record.stage, record.reason, report)
            return "failed"
        if isinstance(record, TaxonRecord):
            try:
                with session.begin_nested():
                    upsert_lineage(session, state.taxa, record.lineage, record.common_name, record.source_ids)
            except SQLAlchemyError as exc:
                state.taxa.reload(session)  # ids of rolled-back rows must not linger
                self._fail(session, source.name, f"taxon {record.lineage.species}", "store",
                           _first_line(exc), report)
                return "failed"
            report.taxa += 1
            return "taxon"
        if isinstance(record, TraitRecord):
            item = f"traits of {record.species}"
            taxon_id = state.taxa.get(Rank.SPECIES, normalise_scientific_name(record.species))
            if taxon_id is None:
                self._fail(session, source.name, item, "traits", f"unknown species {record.species!r}", report)
                return "failed"
            try:
                with session.begin_nested():
                    report.traits += set_traits(session, taxon_id, record.facts, record.source,
                                                record.confidence)
            except (SQLAlchemyError, ValueError) as exc:
                self._fail(session, source.name, item, "traits", _first_line(exc), report)
                return "failed"
            return "traits"
        assert isinstance(record, MediaRecord), type(record)
        if record.source_id in state.known:
            report.skipped += 1
            return "skipped"
        try:
            return self._media(session, source, record, state, report)
        except MediaError as exc:
            self._fail(session, source.name, record.item, exc.stage, exc.reason, report)
            return "failed"
        except SQLAlchemyError as exc:
            self._fail(session, source.name, record.item, "store", _first_line(exc), report)
            return "failed"

    def _taxon(self, session: Session, record: MediaRecord, state: _RunState) -> int:
        """The record's taxon id: a species, or a taxon above species (created from the record's
        path when it reaches up to the class, else one the catalog already holds)."""
        if record.rank != Rank.SPECIES.value:
            if not record.rank:
                found = find_higher(state.taxa, record.species)
                if found is None:
                    raise MediaError("taxonomy", f"{record.species!r} is not a species, and its rank is unknown: "
                                                 "give taxonRank (genus, family, order or class) and its lineage")
                return found[1]
            with session.begin_nested():
                taxon_id = upsert_path(session, state.taxa, record.higher)
            if taxon_id is None:
                raise MediaError("taxonomy", f"unknown {record.rank} {record.species!r}: not in the catalog, and "
                                             "the record gives no lineage up to its class")
            return taxon_id
        species = normalise_scientific_name(record.species)
        taxon_id = state.taxa.get(Rank.SPECIES, species)
        lineage = record.lineage
        if taxon_id is None and lineage is None:
            lineage = lineage_via_genus(session, state.taxa, species)
        if taxon_id is None and lineage is not None:
            with session.begin_nested():
                taxon_id = upsert_lineage(session, state.taxa, lineage)
        if taxon_id is None:
            raise MediaError("taxonomy", f"unknown species {record.species!r}: not in the catalog, "
                                         "its genus is unknown too, and the record gives no lineage")
        return taxon_id

    def _media(self, session: Session, source: Source, record: MediaRecord, state: _RunState,
               report: IngestReport) -> str:
        taxon_id = self._taxon(session, record, state)
        path = source.fetch(record)
        info = inspect(path, record.kind, self.limits)
        if info.sha256 in state.shas:
            report.duplicates += 1
            self._resolve(session, source.name, record.item, state)
            return "duplicate"
        with session.begin_nested():
            session.add(Media(
                kind=info.kind.value, taxon_id=taxon_id, source=source.name,
                source_id=record.source_id, url=record.url, path=str(path.resolve()),
                sha256=info.sha256, license=record.license, rights_holder=record.rights_holder,
                attribution=record.attribution, observed_on=record.observed_on, lat=record.lat,
                lon=record.lon, duration_s=info.duration_s, sample_rate=info.sample_rate,
                channels=info.channels, width=info.width, height=info.height,
                size_bytes=info.size_bytes, format=info.format, status=MediaStatus.READY.value,
                extra=_jsonable(record.extra),
            ))
            session.flush()
            self._resolve(session, source.name, record.item, state)
        state.known.add(record.source_id)
        state.shas.add(info.sha256)
        report.added += 1
        return "added"

    @staticmethod
    def _resolve(session: Session, source: str, item: str, state: _RunState) -> None:
        if item in state.open_failures:
            resolve_failure(session, source, item)
            state.open_failures.discard(item)

    def _fail(self, session: Session, source: str, item: str, stage: str, reason: str,
              report: IngestReport) -> None:
        log.warning("%s: %s (%s)", item, reason, stage)
        with session.begin_nested():
            record_failure(session, source, item, stage, reason, report.run_id)
        report.failed += 1
        report.failures.append((item, stage, reason))


def _first_line(exc: Exception) -> str:
    return f"{exc.__class__.__name__}: {exc}".splitlines()[0]


def _jsonable(value: object) -> object:
    """Paths and dates to strings, recursively, for JSON columns."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
