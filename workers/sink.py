"""Where a run's results go: batches committed to the store and the catalog (several at once when
they come back together), outcomes counted into the report, the progress bar advanced."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from catalog.facade import Catalog
from indexer.build import BatchResult, Outcome, commit_batch
from indexer.model_ref import ModelSpec
from indexer.store import Point, VectorStore
from workers.report import IndexReport
from workers.retry import Notice, patient

Progress = Callable[[int, int], None]  # (media done, media planned)
Taxa = list[tuple[str, str, dict[str, Any]]]  # (point id, prompt, payload)


@dataclass
class Sink:
    """Where a run's results go: the catalog, the store's two collections, the report, the bar."""

    catalog: Catalog
    store: VectorStore
    spec: ModelSpec
    media_c: str
    taxa_c: str
    report: IndexReport
    progress: Progress | None
    notice: Notice | None = None
    done: int = 0
    t0: float = 0.0
    first: tuple[float, int] | None = None  # (time, media done) when the first batch was back

    def commit(self, results: list[BatchResult]) -> None:
        """Batches that came back together, stored as one: one store write (one flush to disk) and one
        catalog transaction. A batch's commit costs the coordinator 90-230 ms here (two fsyncs), close
        to the 230 ms between batches of two workers on 2 cores; workers that outrun it (a GPU) leave
        several batches back at once, and it pays for them once instead of falling further behind."""
        merged = BatchResult([p for r in results for p in r.points], [o for r in results for o in r.outcomes])

        def once() -> None:
            with self.catalog.sessions() as s:
                commit_batch(s, self.store, self.media_c, merged)

        t = time.monotonic()
        patient(once, self.notice)
        self.report.commit_s += time.monotonic() - t
        self.report.commits += len(results)
        self.count(merged.outcomes)
        for r in results:
            self.timed(r.timing)

    def timed(self, timing: dict[str, float] | None) -> None:
        if timing:
            self.report.batch_timings.append(timing)

    def count(self, outcomes: list[Outcome]) -> None:
        for o in outcomes:
            if o.ok:
                self.report.indexed += 1
                self.report.points += o.points
            else:
                self.report.failed += 1
                self.report.failures.append((o.path, o.stage or "index", o.reason or "?"))

    def advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.first is None:
            self.first = (now, self.done)
            self.report.startup_s = now - self.t0
        else:
            self.report.steady_s, self.report.steady_items = now - self.first[0], self.done - self.first[1]
        if self.progress:
            self.progress(self.done, self.report.planned)

    def upsert_taxa(self, taxa: Taxa, vectors: Any) -> None:
        self.store.upsert(self.taxa_c, [Point(pid, v, payload) for (pid, _, payload), v in zip(taxa, vectors)])
        self.report.taxa_points += len(taxa)
