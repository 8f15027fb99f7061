"""`Catalog`: the small Python API that `vita ingest` and `vita catalog` mirror."""

from __future__ import annotations

from sqlalchemy import Engine

from catalog import queries
from catalog.db import make_engine, session_factory, upgrade
from catalog.decode import Limits
from catalog.ingest import Ingestor, IngestReport, Progress
from catalog.sources.base import Source
from catalog.splits import SplitPolicy, assign_splits


class Catalog:
    """One catalog database; opening it applies any pending migration.

    It is given its URL and bad-input limits by the edge (`Settings.open_catalog()` in the CLI,
    the UI and the workers); it reads no configuration of its own.
    """

    def __init__(self, url: str, *, limits: Limits | None = None, engine: Engine | None = None) -> None:
        self.url = url
        self.limits = limits or Limits()
        self.engine = engine or make_engine(url)
        upgrade(self.engine)
        self.sessions = session_factory(self.engine)

    def ingest(self, source: Source, progress: Progress | None = None) -> IngestReport:
        return Ingestor(self.sessions, self.limits).run(source, progress)

    def assign_splits(self, policy: SplitPolicy | None = None) -> None:
        with self.sessions() as session:
            assign_splits(session, policy or SplitPolicy())

    def stats(self) -> queries.CatalogStats:
        with self.sessions() as session:
            return queries.stats(session)

    def failures(self, source: str | None = None, include_resolved: bool = False,
                 limit: int | None = None) -> list[queries.FailureRow]:
        with self.sessions() as session:
            return queries.failures(session, source, include_resolved, limit)

    def species(self, name: str, media_limit: int | None = None) -> queries.SpeciesCard:
        with self.sessions() as session:
            return queries.species_card(session, name, media_limit)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
