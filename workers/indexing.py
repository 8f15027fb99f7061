"""`vita index`: plan batches from the catalog, dispatch them to Celery workers, commit, optimize.

Only media not yet indexed for this model are planned, so a re-run does nothing. In the
embedded default this process owns the vector store: it starts its own worker processes
(filesystem broker, no server), receives their points and writes them. A worker process that
dies has its batch redelivered by Celery (late acks); if the whole worker goes, it is restarted
and the unfinished batches are sent again. Point ids are deterministic, so nothing doubles.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from catalog.api import Catalog
from catalog.models import IndexCollection, IndexEntry, Media, MediaStatus, Taxon
from catalog.taxonomy import Lineage
from indexer.build import BatchResult, Outcome, commit_batch, lineage_payload, trait_keywords
from indexer.models import ModelSpec, describe_model, load_model
from indexer.schema import CollectionKind, alias_name, collection_name, taxon_point_id
from indexer.store import Point, VectorStore, open_store
from training.prompts import Template, render
from vita.settings import Settings

Progress = Callable[[int, int], None]  # (media done, media planned)
MAX_RESTARTS = 3  # of the whole worker process, before the run gives up
#: No batch back for this long while batches are out: send them again. Celery requeues a batch whose
#: worker process dies while running it, but not one whose process dies before the task has started
#: (seen with kill -9 here); ids are deterministic, so a batch done twice is stored once.
STALL_S = 300.0


@dataclass
class IndexReport:
    media_collection: str
    taxa_collection: str
    model: str
    planned: int = 0
    indexed: int = 0
    failed: int = 0
    points: int = 0
    taxa_points: int = 0
    redispatched: int = 0
    seconds: float = 0.0
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (file, stage, reason)

    @property
    def ok(self) -> bool:
        return self.failed == 0


def plan(catalog: Catalog, spec: ModelSpec, collection: str, retry_failed: bool = False,
         limit: int | None = None, only: list[int] | None = None) -> list[int]:
    """Media this model can embed that have no entry in the collection (or a failed one, on retry)."""
    kinds = [k for k in ("audio", "image") if k in spec.modalities]
    with catalog.sessions() as s:
        done = select(IndexEntry.media_id).where(IndexEntry.collection == collection)
        if retry_failed:
            done = done.where(IndexEntry.status == "indexed")
        q = select(Media.id).where(Media.kind.in_(kinds), Media.id.not_in(done)).order_by(Media.id)
        if not retry_failed:
            q = q.where(Media.status != MediaStatus.ERROR.value)
        if only is not None:
            q = q.where(Media.id.in_(only))
        return list(s.scalars(q.limit(limit) if limit else q))


def taxa_prompts(catalog: Catalog) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(rank, name, prompt, payload) for every species, genus and family with a full lineage."""
    out = []
    with catalog.sessions() as s:
        taxa = [t for t in s.scalars(select(Taxon).where(Taxon.rank.in_(["species", "genus", "family"])))
                if t.class_name and t.order_name and t.family_name]
        traits = trait_keywords(s, [t.id for t in taxa if t.rank == "species"])
        for t in sorted(taxa, key=lambda t: (t.rank, t.name)):
            if t.rank == "species":
                if not t.genus_name:
                    continue
                lin = Lineage(t.class_name, t.order_name, t.family_name, t.genus_name, t.name)  # type: ignore[arg-type]
                prompt = render(Template.TAX_COM, lin, t.common_name)
            else:
                parts = [t.class_name, t.order_name, t.family_name] + ([t.name] if t.rank == "genus" else [])
                prompt = " ".join(p for p in parts if p)
            payload = {**{k: v for k, v in lineage_payload(t).items() if v is not None}, "modality": "text",
                       "rank": t.rank, "name": t.name, "prompt": prompt, "traits": traits.get(t.id, [])}
            out.append((t.rank, t.name, prompt, payload))
    return out


class WorkerPool:
    """Celery worker processes this run starts for itself, and stops at the end."""

    def __init__(self, settings: Settings, concurrency: int) -> None:
        self.settings, self.concurrency = settings, concurrency
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = settings.data_dir / "logs" / "index-worker.log"

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "VITA_DATA_DIR": str(self.settings.data_dir.resolve()),
               "VITA_DATABASE_URL": self.settings.resolved_database_url,
               "VITA_WORKER_THREADS": str(max(1, (os.cpu_count() or 1) // self.concurrency))}
        if self.settings.broker_url:
            env["VITA_BROKER_URL"] = self.settings.broker_url
        cmd = [sys.executable, "-m", "celery", "-A", "workers.app", "worker", "--pool", "prefork",
               "--concurrency", str(self.concurrency), "--loglevel", "WARNING", "--without-gossip",
               "--without-mingle", "--hostname", f"vita-index-{os.getpid()}@%h"]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)  # warm shutdown: finish the task in hand
        try:
            self.proc.wait(timeout)  # 0: kill at once
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def run_index(catalog: Catalog, settings: Settings, model_ref: str, *, preset: str = "tiny",
              batch_size: int = 16, workers: int | None = None, start_workers: bool = True,
              eager: bool = False, retry_failed: bool = False, limit: int | None = None,
              store: VectorStore | None = None, progress: Progress | None = None, poll_s: float = 0.1,
              stall_s: float = STALL_S, only: list[int] | None = None) -> IndexReport:
    """Index every media item this model has not indexed yet (at most `limit`, for a trial run;
    only the ids `only`, for the benchmarks); the aliases then point at this model's collections,
    so search uses what is indexed."""
    t0 = time.monotonic()
    spec = describe_model(model_ref, preset)
    media_c = collection_name(settings.corpus, spec.key, CollectionKind.MEDIA)
    taxa_c = collection_name(settings.corpus, spec.key, CollectionKind.TAXA)
    report = IndexReport(media_c, taxa_c, spec.ref)
    own_store = store is None
    store = store or open_store(settings)
    commit_here = not settings.qdrant_url  # embedded: only this process (the store's owner) may write
    try:
        for name, kind in ((media_c, CollectionKind.MEDIA), (taxa_c, CollectionKind.TAXA)):
            store.create(name, spec.dim)
            _register(catalog, settings, spec, name, kind)
        todo = plan(catalog, spec, media_c, retry_failed, limit, only)
        report.planned = len(todo)
        batches = [todo[i:i + batch_size] for i in range(0, len(todo), batch_size)]
        taxa = _missing_taxa(catalog, store, taxa_c, spec) if "text" in spec.modalities else []
        if eager:
            _run_eager(catalog, store, spec, media_c, taxa_c, batches, taxa, report, progress)
        elif batches or taxa:
            _run_celery(catalog, settings, store, spec, media_c, taxa_c, batches, taxa, report, progress,
                        workers or settings.workers, start_workers, commit_here, poll_s, stall_s)
        for name, kind in ((media_c, CollectionKind.MEDIA), (taxa_c, CollectionKind.TAXA)):
            store.optimize(name)
            store.set_alias(alias_name(settings.corpus, kind), name)
            _complete(catalog, name, store.count(name))
    finally:
        if own_store:
            store.close()
    report.seconds = time.monotonic() - t0
    return report


def _register(catalog: Catalog, settings: Settings, spec: ModelSpec, name: str, kind: CollectionKind) -> None:
    with catalog.sessions() as s:
        if s.scalar(select(IndexCollection).where(IndexCollection.name == name)) is None:
            s.add(IndexCollection(name=name, kind=kind.value, alias=alias_name(settings.corpus, kind),
                                  model_ref=spec.ref, model_key=spec.key, preset=spec.preset, dim=spec.dim))
            s.commit()


def _complete(catalog: Catalog, name: str, points: int) -> None:
    with catalog.sessions() as s:
        row = s.scalar(select(IndexCollection).where(IndexCollection.name == name))
        if row is not None:
            row.points, row.completed_at = points, dt.datetime.now(dt.timezone.utc)
            s.commit()


def _missing_taxa(catalog: Catalog, store: VectorStore, taxa_c: str,
                  spec: ModelSpec) -> list[tuple[str, str, dict[str, Any]]]:
    """(point id, prompt, payload) of taxa not yet in the taxa collection."""
    want = [(taxon_point_id(rank, name, spec.key), prompt, payload)
            for rank, name, prompt, payload in taxa_prompts(catalog)]
    have: set[str] = set()
    for i in range(0, len(want), 512):
        have |= {h.id for h in store.retrieve(taxa_c, [w[0] for w in want[i:i + 512]])}
    return [w for w in want if w[0] not in have]


def _commit(catalog: Catalog, store: VectorStore, media_c: str, result: BatchResult, report: IndexReport) -> None:
    with catalog.sessions() as s:
        commit_batch(s, store, media_c, result)
    _count(result.outcomes, report)


def _count(outcomes: list[Outcome], report: IndexReport) -> None:
    for o in outcomes:
        if o.ok:
            report.indexed += 1
            report.points += o.points
        else:
            report.failed += 1
            report.failures.append((o.path, o.stage or "index", o.reason or "?"))


def _upsert_taxa(store: VectorStore, taxa_c: str, taxa: list[tuple[str, str, dict[str, Any]]], vectors: Any,
                 report: IndexReport) -> None:
    store.upsert(taxa_c, [Point(pid, v, payload) for (pid, _, payload), v in zip(taxa, vectors)])
    report.taxa_points += len(taxa)


def _run_eager(catalog: Catalog, store: VectorStore, spec: ModelSpec, media_c: str, taxa_c: str,
               batches: list[list[int]], taxa: list[tuple[str, str, dict[str, Any]]], report: IndexReport,
               progress: Progress | None) -> None:
    """In-process, for tests and single-shot scripts: the same task body, no broker."""
    from workers.tasks import run_batch

    model = load_model(spec.ref, spec.preset)
    if taxa:
        _upsert_taxa(store, taxa_c, taxa, model.embed_text([t[1] for t in taxa]), report)
    done = 0
    for ids in batches:
        out = run_batch(ids, spec.ref, spec.preset, spec.key, media_c, True, catalog=catalog, store=store)
        _count([Outcome(**o) for o in out["outcomes"]], report)
        done += len(ids)
        if progress:
            progress(done, report.planned)


def _run_celery(catalog: Catalog, settings: Settings, store: VectorStore, spec: ModelSpec, media_c: str,
                taxa_c: str, batches: list[list[int]], taxa: list[tuple[str, str, dict[str, Any]]],
                report: IndexReport, progress: Progress | None, workers: int, start_workers: bool,
                commit_here: bool, poll_s: float, stall_s: float) -> None:
    from workers.app import make_app
    from workers.tasks import decode_matrix

    app = make_app(settings)
    pool = WorkerPool(settings, workers) if start_workers else None
    if pool:
        pool.start()

    def send(ids: list[int]) -> Any:
        return app.send_task("vita.embed_batch", args=[ids, spec.ref, spec.preset, spec.key, media_c,
                                                       not commit_here])

    try:
        def send_taxa() -> Any:
            return app.send_task("vita.embed_texts", args=[[t[1] for t in taxa], spec.ref, spec.preset])

        taxa_job = send_taxa() if taxa else None
        pending = {i: send(ids) for i, ids in enumerate(batches)}
        done, restarts, last_back = 0, 0, time.monotonic()
        while pending or taxa_job is not None:
            if (pending or taxa_job is not None) and time.monotonic() - last_back > stall_s:
                # a task lost with a worker process; the worker may also have stopped consuming (seen
                # after a kill -9): restart our workers on an empty queue and send everything again
                if pool:
                    pool.stop(timeout=0)
                    app.control.purge()
                    pool.start()
                pending = {i: send(batches[i]) for i in pending}
                if taxa_job is not None:
                    taxa_job = send_taxa()
                report.redispatched += len(pending) + (taxa_job is not None)
                last_back = time.monotonic()
            if pool and not pool.alive():  # the whole worker died: restart it, send what is unfinished
                restarts += 1
                if restarts > MAX_RESTARTS:
                    raise RuntimeError(f"the index workers keep dying; see {pool.log}")
                pool.start()
                pending = {i: send(batches[i]) for i in pending}
                report.redispatched += len(pending)
                if taxa_job is not None:
                    taxa_job = send_taxa()
            if taxa_job is not None and taxa_job.ready():
                _upsert_taxa(store, taxa_c, taxa, decode_matrix(taxa_job.get(), spec.dim), report)
                taxa_job.forget()
                taxa_job, last_back = None, time.monotonic()
            for i in [i for i, r in pending.items() if r.ready()]:
                res = pending.pop(i)
                last_back = time.monotonic()
                try:
                    out = res.get()
                except Exception as exc:  # noqa: BLE001 - retries exhausted: record the batch, go on
                    out = {"committed": False, "points": [], "outcomes": [
                        {"media_id": m, "path": f"media #{m}", "stage": "index",
                         "reason": f"batch failed: {type(exc).__name__}: {exc}"} for m in batches[i]]}
                res.forget()
                if out.get("committed"):
                    _count([Outcome(**o) for o in out["outcomes"]], report)
                else:
                    _commit(catalog, store, media_c, BatchResult.from_wire(out), report)
                done += len(batches[i])
                if progress:
                    progress(done, report.planned)
            time.sleep(poll_s)
    finally:
        if pool:
            pool.stop()
