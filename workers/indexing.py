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
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError

from catalog.api import Catalog
from catalog.errors import VitaError
from catalog.models import IndexCollection, IndexEntry, Media, MediaStatus, Taxon
from catalog.prompts import PromptStyle, Template, render, taxon_prompt
from indexer.build import BatchResult, Outcome, commit_batch, lineage_payload, trait_keywords
from indexer.models import ModelSpec, describe_model, load_model
from indexer.schema import CollectionKind, alias_name, collection_name, taxon_point_id
from indexer.store import Point, VectorStore, open_store
from workers.config import IndexConfig, thread_plan
from workers.processes import stop_group
from workers.tasks import decode_matrix, run_batch

Progress = Callable[[int, int], None]  # (media done, media planned)
Notice = Callable[[str], None]  # a line for the user (the CLI prints it)
#: With --no-start-workers, ask who is listening this often while nothing comes back.
PING_EVERY_S = 20.0
NO_WORKER_HINT = ("no worker answered on the broker ({broker}); nothing is being indexed. Start one where "
                  "the media and the catalog can be reached: `celery -A vita.worker worker` (with the same "
                  "VITA_* settings), or run `vita index` without --no-start-workers; waiting")
MAX_RESTARTS = 3  # of the whole worker process, before the run gives up
#: No batch back for this long while batches are out: send them again. Celery requeues a batch whose
#: worker process dies while running it, but not one whose process dies before the task has started
#: (seen with kill -9 here); ids are deterministic, so a batch done twice is stored once.
STALL_S = 300.0
#: How long the coordinator waits for an unreachable catalog database before giving up.
DB_WAIT_S = 600.0
DB_ERRORS = (OperationalError, InterfaceError)
#: A batch that failed in a worker with one of these (by name: Celery rebuilds the exception from its
#: result) is sent again, up to MAX_RESENDS times, rather than recorded as failed items.
TRANSIENT_NAMES = frozenset({"OperationalError", "InterfaceError", "ConnectionError", "TimeoutError"})
MAX_RESENDS = 3


T = TypeVar("T")


def patient(fn: Callable[[], T], notice: Notice | None = None, wait_s: float = DB_WAIT_S) -> T:
    """`fn()`, retried while the catalog database is unreachable (a restart, a failover), for up to
    `wait_s`; says so once per outage. What a batch writes is idempotent, so a retry is safe."""
    deadline, delay, told = time.monotonic() + wait_s, 0.5, False
    while True:
        try:
            return fn()
        except DB_ERRORS as exc:
            if time.monotonic() > deadline:
                raise
            if notice and not told:
                notice(f"the catalog database is unreachable ({type(exc).__name__}); waiting for it "
                       f"(up to {wait_s:.0f} s), nothing is lost")
                told = True
            time.sleep(delay)
            delay = min(2 * delay, 5.0)


class WorkerError(VitaError, RuntimeError):
    """The index workers could not be kept running (their log says why)."""


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
    #: where the time went: until the first batch was back (worker start, model load, that batch),
    #: the steady state after it (`steady_items` media in `steady_s`), and the final optimize
    startup_s: float = 0.0
    steady_s: float = 0.0
    steady_items: int = 0
    optimize_s: float = 0.0
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (file, stage, reason)
    #: each batch's timing in its worker process (`indexer.build.batch_timing`), and the seconds this
    #: process spent committing batches (store and catalog) and how many: the run's profile
    batch_timings: list[dict[str, float]] = field(default_factory=list)
    commit_s: float = 0.0
    commits: int = 0

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def profile(self) -> dict[str, float | int | None]:
        """Where a run's time went, from its batches' timings. `busy`: the share of each worker
        process's span (first batch start to last end) spent inside batches; `model`: the share of
        batch time in the model's forward passes (the rest: decoding it waited on, the catalog, a
        worker's own commit); `gap_ms`: the median time a process waited between two batches (broker
        and result round trips); `commit_ms`: this process's mean commit per batch it stored."""
        by_pid: dict[float, list[dict[str, float]]] = {}
        for t in self.batch_timings:
            if {"pid", "start", "end", "model_s"} <= t.keys():
                by_pid.setdefault(t["pid"], []).append(t)
        inside = span = model = 0.0
        gaps: list[float] = []
        for mine in by_pid.values():
            mine.sort(key=lambda t: t["start"])
            inside += sum(t["end"] - t["start"] for t in mine)
            model += sum(t["model_s"] for t in mine)
            span += mine[-1]["end"] - mine[0]["start"]
            gaps += [b["start"] - a["end"] for a, b in zip(mine, mine[1:])]
        gaps.sort()
        return {"processes": len(by_pid),
                "busy": round(inside / span, 3) if span > 0 else None,
                "model": round(model / inside, 3) if inside > 0 else None,
                "gap_ms": round(1000 * gaps[len(gaps) // 2], 1) if gaps else None,
                "commit_ms": round(1000 * self.commit_s / self.commits, 1) if self.commits else None}

    @property
    def steady_per_s(self) -> float | None:
        """Media per second once the first batch is back (None: too few batches to tell)."""
        return self.steady_items / self.steady_s if self.steady_items and self.steady_s > 0 else None


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


def taxa_prompts(catalog: Catalog, style: PromptStyle = PromptStyle.VITA) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(rank, name, prompt, payload) for every species, genus and family with a full lineage, in the
    model's wording."""
    out = []
    with catalog.sessions() as s:
        taxa = [t for t in s.scalars(select(Taxon).where(Taxon.rank.in_(["species", "genus", "family"])))
                if t.class_name and t.order_name and t.family_name]
        traits = trait_keywords(s, [t.id for t in taxa if t.rank == "species"])
        for t in sorted(taxa, key=lambda t: (t.rank, t.name)):
            if t.rank == "species":
                lin = t.lineage()
                if lin is None:
                    continue
                prompt = render(Template.TAX_COM, lin, t.common_name, style=style)
            else:
                prompt = taxon_prompt(t.rank, t.lineage_names(), style)
            payload = {**{k: v for k, v in lineage_payload(t).items() if v is not None}, "modality": "text",
                       "rank": t.rank, "name": t.name, "prompt": prompt, "traits": traits.get(t.id, [])}
            out.append((t.rank, t.name, prompt, payload))
    return out


class WorkerPool:
    """Celery worker processes this run starts for itself, and stops at the end."""

    def __init__(self, cfg: IndexConfig, concurrency: int) -> None:
        self.cfg, self.concurrency = cfg, concurrency
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = cfg.log_dir / "index-worker.log"

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        model, decode = thread_plan(os.cpu_count() or 1, self.concurrency, self.cfg.worker.model_threads,
                                    self.cfg.worker.decode_threads)
        env = {**os.environ, **self.cfg.worker_env, "VITA_INDEX_COORDINATOR_PID": str(os.getpid()),
               "VITA_WORKER_THREADS": str(model), "VITA_DECODE_THREADS": str(decode)}
        cmd = [sys.executable, "-m", "celery", "-A", self.cfg.worker_app, "worker", "--pool", "prefork",
               "--concurrency", str(self.concurrency), "--loglevel", "WARNING", "--without-gossip",
               "--without-mingle", "--hostname", f"vita-index-{os.getpid()}@%h"]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 30.0, wait: bool = True) -> None:
        """Warm shutdown (the task in hand finishes), killed after `timeout` (0: at once). With
        `wait=False` the exit happens beside the caller's next steps: a Celery worker takes 5-7 s to
        notice and wind down, a quarter of indexing the default demo world, for nothing once every
        batch is back."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        def reap() -> None:
            stop_group(proc, signal.SIGTERM, timeout, whole_group=False)  # the worker stops its own children

        if wait:
            reap()
        else:
            threading.Thread(target=reap, name="vita-worker-reaper", daemon=True).start()


def run_index(catalog: Catalog, cfg: IndexConfig, model_ref: str, *, preset: str = "tiny",
              batch_size: int = 64, workers: int | None = None, start_workers: bool = True,
              eager: bool = False, retry_failed: bool = False, limit: int | None = None,
              store: VectorStore | None = None, progress: Progress | None = None, poll_s: float = 0.02,
              stall_s: float = STALL_S, only: list[int] | None = None,
              notice: Notice | None = None) -> IndexReport:
    """Index every media item this model has not indexed yet (at most `limit`, for a trial run;
    only the ids `only`, for the benchmarks); the aliases then point at this model's collections,
    so search uses what is indexed."""
    t0 = time.monotonic()
    spec = describe_model(model_ref, preset)
    media_c = collection_name(cfg.corpus, spec.key, CollectionKind.MEDIA)
    taxa_c = collection_name(cfg.corpus, spec.key, CollectionKind.TAXA)
    report = IndexReport(media_c, taxa_c, spec.ref)
    own_store = store is None
    store = store or open_store(cfg.worker.store)
    commit_here = not cfg.worker.store.shared  # embedded: only this process (the store's owner) may write
    try:
        for name, kind in ((media_c, CollectionKind.MEDIA), (taxa_c, CollectionKind.TAXA)):
            store.create(name, spec.dim)
            patient(lambda: _register(catalog, cfg.corpus, spec, name, kind), notice)  # noqa: B023 - called at once
        todo = patient(lambda: plan(catalog, spec, media_c, retry_failed, limit, only), notice)
        report.planned = len(todo)
        batches = [todo[i:i + batch_size] for i in range(0, len(todo), batch_size)]
        taxa = patient(lambda: _missing_taxa(catalog, store, taxa_c, spec), notice) if "text" in spec.modalities else []
        target = _Target(catalog, store, spec, media_c, taxa_c, report, progress, notice, t0=t0)
        if eager:
            _run_eager(target, batches, taxa)
        elif batches or taxa:
            pool = WorkerPool(cfg, workers or cfg.workers) if start_workers else None
            _CeleryRun(target, cfg, pool, batches, taxa, commit_here, stall_s, notice).run(poll_s)
        t_opt = time.monotonic()
        for name, kind in ((media_c, CollectionKind.MEDIA), (taxa_c, CollectionKind.TAXA)):
            store.optimize(name)
            store.set_alias(alias_name(cfg.corpus, kind), name)
            points = store.count(name)
            patient(lambda: _complete(catalog, name, points), notice)  # noqa: B023 - called at once
        report.optimize_s = time.monotonic() - t_opt
    finally:
        if own_store:
            store.close()
    report.seconds = time.monotonic() - t0
    return report


def _register(catalog: Catalog, corpus: str, spec: ModelSpec, name: str, kind: CollectionKind) -> None:
    with catalog.sessions() as s:
        if s.scalar(select(IndexCollection).where(IndexCollection.name == name)) is None:
            s.add(IndexCollection(name=name, kind=kind.value, alias=alias_name(corpus, kind),
                                  model_ref=spec.ref, model_key=spec.key, preset=spec.preset, dim=spec.dim))
            s.commit()


def _complete(catalog: Catalog, name: str, points: int) -> None:
    with catalog.sessions() as s:
        row = s.scalar(select(IndexCollection).where(IndexCollection.name == name))
        if row is not None:
            row.points, row.completed_at = points, dt.datetime.now(dt.UTC)
            s.commit()


def _missing_taxa(catalog: Catalog, store: VectorStore, taxa_c: str,
                  spec: ModelSpec) -> list[tuple[str, str, dict[str, Any]]]:
    """(point id, prompt, payload) of taxa not yet in the taxa collection."""
    want = [(taxon_point_id(rank, name, spec.key), prompt, payload)
            for rank, name, prompt, payload in taxa_prompts(catalog, PromptStyle(spec.config.prompts))]
    have: set[str] = set()
    for i in range(0, len(want), 512):
        have |= {h.id for h in store.retrieve(taxa_c, [w[0] for w in want[i:i + 512]])}
    return [w for w in want if w[0] not in have]


Taxa = list[tuple[str, str, dict[str, Any]]]  # (point id, prompt, payload)


@dataclass
class _Target:
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


def _run_eager(t: _Target, batches: list[list[int]], taxa: Taxa) -> None:
    """In-process, for tests and single-shot scripts: the same task body, no broker."""

    model = load_model(t.spec.ref, t.spec.preset)
    if taxa:
        t.upsert_taxa(taxa, model.embed_text([x[1] for x in taxa]))
    for ids in batches:
        out = patient(lambda: run_batch(ids, t.spec.ref, t.spec.preset, t.spec.key, t.media_c, True,  # noqa: B023
                                        t.catalog, t.store), t.notice)
        t.count([Outcome(**o) for o in out["outcomes"]])
        t.timed(out.get("timing"))
        t.advance(len(ids))


class _CeleryRun:
    """Batches out to Celery workers and back; restarts and re-sends when workers die or stall."""

    def __init__(self, target: _Target, cfg: IndexConfig, pool: WorkerPool | None, batches: list[list[int]],
                 taxa: Taxa, commit_here: bool, stall_s: float, notice: Notice | None = None) -> None:
        from workers.app import make_app

        self.t, self.pool, self.batches, self.taxa = target, pool, batches, taxa
        self.commit_here, self.stall_s = commit_here, stall_s
        self.app = make_app(cfg.worker)
        # a bounded window of batches out at once: enough to keep every worker process busy, few
        # enough that polling their results stays cheap (polling all of them on the SQLite result
        # backend cost the coordinator as much CPU as a worker's forward passes). With workers
        # started elsewhere, `IndexConfig.workers` (VITA_WORKERS) says how many processes run in all.
        self.window = max(4, 3 * (pool.concurrency if pool else cfg.workers))
        self.unsent = deque(range(len(batches)))
        self.pending: dict[int, Any] = {}
        self.taxa_job: Any = None
        self.restarts, self.last_back = 0, time.monotonic()
        self.notice, self.broker = notice, cfg.worker.broker.url or f"filesystem, {cfg.worker.broker.folder}"
        self.last_ping = -PING_EVERY_S
        self.resent: dict[int, int] = {}  # batch -> times sent again after a transient failure

    def _send(self, ids: list[int]) -> Any:
        s = self.t.spec
        return self.app.send_task("vita.embed_batch", args=[ids, s.ref, s.preset, s.key, self.t.media_c,
                                                            not self.commit_here])

    def _send_taxa(self) -> Any:
        return self.app.send_task("vita.embed_texts", args=[[x[1] for x in self.taxa], self.t.spec.ref,
                                                            self.t.spec.preset])

    def _resend(self) -> None:
        """Everything unfinished, again (ids are deterministic: a batch done twice is stored once)."""
        self.pending = {i: self._send(self.batches[i]) for i in self.pending}
        if self.taxa_job is not None:
            self.taxa_job = self._send_taxa()
        self.t.report.redispatched += len(self.pending) + (self.taxa_job is not None)
        self.last_back = time.monotonic()

    def run(self, poll_s: float) -> None:
        if self.pool:
            self.pool.start()
        try:
            self.taxa_job = self._send_taxa() if self.taxa else None
            while self.unsent or self.pending or self.taxa_job is not None:
                while self.unsent and len(self.pending) < self.window:
                    i = self.unsent.popleft()
                    self.pending[i] = self._send(self.batches[i])
                self._recover()
                if not self._collect():
                    time.sleep(poll_s)
        except BaseException:
            if self.pool:
                self.pool.stop()  # a batch may be running: let it finish before the run gives up
            raise
        if self.pool:
            self.pool.stop(wait=False)  # every batch is back: the workers wind down beside optimize

    def _ping(self) -> None:
        """Using workers started elsewhere: if none answers while nothing comes back, say so, and how
        to start one (instead of waiting at 0% with no hint)."""
        now = time.monotonic()
        if self.pool or now - self.last_ping < PING_EVERY_S or now - self.last_back < PING_EVERY_S / 2:
            return
        self.last_ping = now
        if not self.app.control.ping(timeout=1.0) and self.notice:
            self.notice(NO_WORKER_HINT.format(broker=self.broker))

    def _recover(self) -> None:
        self._ping()
        if time.monotonic() - self.last_back > self.stall_s:
            # a task lost with a worker process; the worker may also have stopped consuming (seen
            # after a kill -9): restart our workers on an empty queue and send everything again
            if self.pool:
                self.pool.stop(timeout=0)
                self.app.control.purge()
                self.pool.start()
            self._resend()
        if self.pool and not self.pool.alive():  # the whole worker died: restart it, send what is unfinished
            self.restarts += 1
            if self.restarts > MAX_RESTARTS:
                raise WorkerError(f"the index workers keep dying; see {self.pool.log}")
            self.pool.start()
            self._resend()

    def _collect(self) -> bool:
        """Take in what is back; False if nothing was."""
        got = False
        if self.taxa_job is not None and self.taxa_job.ready():
            self.t.upsert_taxa(self.taxa, decode_matrix(self.taxa_job.get(), self.t.spec.dim))
            self.taxa_job.forget()
            self.taxa_job, self.last_back, got = None, time.monotonic(), True
        back: list[tuple[int, BatchResult]] = []  # to commit here, together
        for i in [i for i, r in self.pending.items() if r.ready()]:
            res = self.pending.pop(i)
            self.last_back = time.monotonic()
            try:
                out = res.get()
            except Exception as exc:
                if type(exc).__name__ in TRANSIENT_NAMES and self.resent.get(i, 0) < MAX_RESENDS:
                    self.resent[i] = self.resent.get(i, 0) + 1  # the database was away longer than the
                    self.pending[i] = self._send(self.batches[i])  # worker's retries: send it again
                    self.t.report.redispatched += 1
                    res.forget()
                    continue
                out = {"committed": False, "outcomes": [
                    {"media_id": m, "path": f"media #{m}", "stage": "index",
                     "reason": f"batch failed: {type(exc).__name__}: {exc}"} for m in self.batches[i]]}
            res.forget()
            if out.get("committed"):
                self.t.count([Outcome(**o) for o in out["outcomes"]])
                self.t.timed(out.get("timing"))
                self.t.advance(len(self.batches[i]))
            else:
                back.append((i, BatchResult.from_wire(out)))
            got = True
        if back:
            self.t.commit([r for _, r in back])
            for i, _ in back:
                self.t.advance(len(self.batches[i]))
        return got
