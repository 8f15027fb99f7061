"""`Catalog`: the small Python API that `vita ingest` and `vita catalog` mirror."""

from __future__ import annotations

import math
import time

from sqlalchemy import Engine, func, select

from catalog import queries
from catalog.db import make_engine, session_factory, upgrade
from catalog.decode import Limits
from catalog.ingest import Ingestor, IngestReport, Progress
from catalog.names import NameResolver
from catalog.sources.base import Source
from catalog.splits import SplitPolicy, assign_splits
from catalog.tables import Taxon

NAMES_RECHECK_S = 1.0  # how stale the names of another process's new taxa may be


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
        self._names: tuple[tuple[int, int], NameResolver] | None = None
        self._names_checked = -math.inf

    def ingest(self, source: Source, progress: Progress | None = None) -> IngestReport:
        try:
            return Ingestor(self.sessions, self.limits).run(source, progress)
        finally:
            self._names_checked = -math.inf  # its new taxa are named at once

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

    def names(self) -> NameResolver:
        """The name resolver over this catalog's taxa, rebuilt when taxa were added: at once after this
        object's own ingest, within NAMES_RECHECK_S of another process's (every search asks; the
        check is a query of its own)."""
        now = time.monotonic()
        if self._names is not None and now - self._names_checked < NAMES_RECHECK_S:
            return self._names[1]
        with self.sessions() as session:
            count, top = session.execute(select(func.count(Taxon.id), func.max(Taxon.id))).one()
            stamp = (count or 0, top or 0)
            if self._names is None or self._names[0] != stamp:
                self._names = (stamp, NameResolver.from_catalog(session))
            self._names_checked = now
            return self._names[1]

    def species(self, name: str, media_limit: int | None = None) -> queries.SpeciesCard:
        """A taxon's card by any name (a species, or a genus, family, order or class)."""
        resolver = self.names()
        with self.sessions() as session:
            return queries.species_card(session, name, media_limit, resolver)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
