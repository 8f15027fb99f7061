"""Batches to their workers and back: in this process (eager: tests, single-shot scripts), or out
to Celery workers, with a bounded window in flight, restarts when workers die or stall, and
re-sends of batches that failed for a transient reason. Point ids are deterministic, so a batch
done twice is stored once."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from indexer.build import BatchResult
from indexer.model_ref import load_model
from workers.config import IndexConfig
from workers.pool import WorkerError, WorkerPool
from workers.retry import Notice, patient
from workers.sink import Sink, Taxa
from workers.tasks import run_batch
from workers.wire import BatchReply, decode_matrix

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
#: A batch that failed in a worker with one of these (by name: Celery rebuilds the exception from its
#: result) is sent again, up to MAX_RESENDS times, rather than recorded as failed items.
TRANSIENT_NAMES = frozenset({"OperationalError", "InterfaceError", "ConnectionError", "TimeoutError"})
MAX_RESENDS = 3


def run_eager(t: Sink, batches: list[list[int]], taxa: Taxa) -> None:
    """In-process, for tests and single-shot scripts: the same task body, no broker."""

    model = load_model(t.spec.ref, t.spec.preset)
    if taxa:
        t.upsert_taxa(taxa, model.embed_text([x[1] for x in taxa]))
    for ids in batches:
        reply = patient(lambda: run_batch(ids, t.spec.ref, t.spec.preset, t.spec.key, t.media_c, True,  # noqa: B023
                                          t.catalog, t.store), t.notice)
        t.count(reply.outcomes)
        t.timed(reply.timing)
        t.advance(len(ids))


class CeleryRun:
    """Batches out to Celery workers and back; restarts and re-sends when workers die or stall."""

    def __init__(self, target: Sink, cfg: IndexConfig, pool: WorkerPool | None, batches: list[list[int]],
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
                reply = BatchReply.from_wire(res.get())
            except Exception as exc:
                if type(exc).__name__ in TRANSIENT_NAMES and self.resent.get(i, 0) < MAX_RESENDS:
                    self.resent[i] = self.resent.get(i, 0) + 1  # the database was away longer than the
                    self.pending[i] = self._send(self.batches[i])  # worker's retries: send it again
                    self.t.report.redispatched += 1
                    res.forget()
                    continue
                reply = BatchReply.failed(self.batches[i], exc)
            res.forget()
            if reply.result is None:  # the worker stored it
                self.t.count(reply.outcomes)
                self.t.timed(reply.timing)
                self.t.advance(len(self.batches[i]))
            else:
                back.append((i, reply.result))
            got = True
        if back:
            self.t.commit([r for _, r in back])
            for i, _ in back:
                self.t.advance(len(self.batches[i]))
        return got
