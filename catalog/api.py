"""`Catalog`: the small Python API that `vita ingest` and `vita catalog` mirror."""

from __future__ import annotations

from sqlalchemy import Engine

from catalog import queries
from catalog.db import make_engine, session_factory, upgrade
from catalog.decode import Limits
from catalog.ingest import Ingestor, IngestReport, Progress
from catalog.sources.base import Source
from catalog.splits import SplitPolicy, assign_splits
from vita.settings import Settings, get_settings


class Catalog:
    """One catalog database; opening it applies any pending migration."""

    def __init__(self, settings: Settings | None = None, *, url: str | None = None,
                 engine: Engine | None = None) -> None:
        self.settings = settings or get_settings()
        self.engine = engine or make_engine(url or self.settings.resolved_database_url)
        upgrade(self.engine)
        self.sessions = session_factory(self.engine)

    @property
    def limits(self) -> Limits:
        return Limits.from_settings(self.settings)

    def ingest(self, source: Source, progress: Progress | None = None) -> IngestReport:
        return Ingestor(self.sessions, self.limits).run(source, progress)

    def assign_splits(self, policy: SplitPolicy = SplitPolicy()) -> None:
        with self.sessions() as session:
            assign_splits(session, policy)

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
