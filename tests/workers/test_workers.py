"""Real Celery worker processes: the embedded default (filesystem broker, no server), a worker
process killed mid-batch (kill -9), and the production broker (Redis on 127.0.0.1:6379)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import select

from catalog.facade import Catalog
from catalog.tables import IndexEntry, Media
from indexer.model_ref import describe_model
from indexer.store import open_store
from tests.support import small_world
from vita.settings import Settings
from workers.app import make_app
from workers.config import BrokerConfig
from workers.indexing import IndexOptions, IndexReport, plan, run_index

pytestmark = pytest.mark.slow  # real worker processes

REDIS_URL = os.environ.get("VITA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
LIMIT = 160  # media per run, small enough to be quick
KILL_LIMIT = 640  # the kill test's run: long enough (80 batches) that a worker is caught mid-batch


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Catalog, Settings, Path]]:
    cat, settings, model = small_world(tmp_path_factory.mktemp("workers"))
    yield cat, settings, model
    cat.close()


def _check_complete(cat: Catalog, settings: Settings, report: IndexReport, limit: int = LIMIT) -> None:
    """Every planned item indexed once: entries, points in the store and the report agree."""
    assert report.planned == limit
    assert report.indexed == limit
    assert report.failed == 0
    with cat.sessions() as s:
        entries = list(s.scalars(select(IndexEntry).where(IndexEntry.collection == report.media_collection)))
        first = list(s.scalars(select(Media.id).order_by(Media.id).limit(limit)))
    assert sorted(e.media_id for e in entries) == first
    assert all(e.status == "indexed" for e in entries)
    with open_store(settings.store_config()) as store:
        assert store.count(report.media_collection) == sum(e.points for e in entries) == report.points


def test_filesystem_broker_runs_real_workers(world: tuple[Catalog, Settings, Path]) -> None:
    cat, settings, model = world
    s = settings.model_copy(update={"corpus": "fs"})
    report = run_index(cat, s.index_config(), str(model), IndexOptions(limit=LIMIT, batch_size=16, workers=2))
    _check_complete(cat, s, report)
    with cat.sessions() as sess:
        first = set(sess.scalars(select(Media.id).order_by(Media.id).limit(LIMIT)))
    assert not first & set(plan(cat, describe_model(model), report.media_collection))  # nothing to redo
    # every batch came back with its worker process's timing: the run's profile
    assert len(report.batch_timings) == report.commits == LIMIT // 16
    assert all(0 < t["model_s"] < t["end"] - t["start"] and t["pid"] != os.getpid() for t in report.batch_timings)
    prof = report.profile()
    assert prof["processes"] in (1, 2)
    assert 0 < prof["busy"] <= 1
    assert 0 < prof["model"] < 1  # type: ignore[operator]
    assert prof["commit_ms"] is not None
    assert prof["commit_ms"] > 0


def _busy_worker_pid(app: Any) -> int | None:
    """The pid of a worker process that is running a task now (Celery's own report, not a CPU guess)."""
    for tasks in (app.control.inspect(timeout=0.2).active() or {}).values():  # short: batches are short
        for task in tasks:
            if task.get("worker_pid") and task.get("name") == "vita.embed_batch":
                return int(task["worker_pid"])
    return None


@pytest.mark.timeout(600)
@pytest.mark.parametrize("broker, processes", [("filesystem", 2), ("redis", 3)])
def test_a_worker_killed_mid_batch_loses_and_doubles_nothing(world: tuple[Catalog, Settings, Path], broker: str,
                                                             processes: int) -> None:
    """Worker processes on a broker, one killed with SIGKILL while it runs a batch: every item is
    indexed once and the store holds exactly the planned windows (the filesystem broker with 2
    processes; Redis, the production broker, with 3)."""
    cat, settings, model = world
    s = settings.model_copy(update={"corpus": f"kill-{broker}"})
    if broker == "redis":
        if not _redis_up():
            if os.environ.get("VITA_REQUIRE_REDIS"):
                pytest.fail(f"Redis is required (VITA_REQUIRE_REDIS) but {REDIS_URL} is unreachable")
            pytest.skip(f"Redis not reachable at {REDIS_URL}")
        redis.Redis.from_url(REDIS_URL).flushdb()
        s = s.model_copy(update={"broker_url": REDIS_URL})
    result: dict[str, IndexReport] = {}
    options = IndexOptions(limit=KILL_LIMIT, batch_size=8, workers=processes, stall_s=20)
    runner = threading.Thread(target=lambda: result.setdefault("r", run_index(cat, s.index_config(), str(model), options)))
    runner.start()
    killed = []
    app = make_app(s.worker_config())
    deadline = time.monotonic() + 300
    while runner.is_alive() and time.monotonic() < deadline and not killed:
        # from the start (a run on a fast machine is over a few seconds after its first batch is back):
        # kill the process Celery says is running a batch
        pid = _busy_worker_pid(app)
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        time.sleep(0.05)
    runner.join(300)
    assert killed, "no worker process was running a batch to kill"
    # Whatever the killed process held comes back: Celery redelivers a running task (WorkerLostError in
    # the log); a task whose process died before it started is sent again by `vita index` after the
    # stall timeout, on restarted workers (report.redispatched). Either way nothing is lost or doubled.
    _check_complete(cat, s, result["r"], KILL_LIMIT)


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def test_redis_broker_with_a_real_worker(world: tuple[Catalog, Settings, Path]) -> None:
    if not _redis_up():
        if os.environ.get("VITA_REQUIRE_REDIS"):
            pytest.fail(f"Redis is required (VITA_REQUIRE_REDIS) but {REDIS_URL} is unreachable")
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    cat, settings, model = world
    redis.Redis.from_url(REDIS_URL).flushdb()
    s = settings.model_copy(update={"corpus": "redis", "broker_url": REDIS_URL})
    report = run_index(cat, s.index_config(), str(model), IndexOptions(limit=LIMIT, batch_size=16, workers=1))
    _check_complete(cat, s, report)


def test_no_worker_answering_is_said_with_how_to_start_one(world: tuple[Catalog, Settings, Path],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import workers.dispatch as dispatch

    cat, settings, model = world
    monkeypatch.setattr(dispatch, "PING_EVERY_S", 1.0)
    cfg = settings.model_copy(update={"corpus": "alone"}).index_config()
    # a broker of its own: the message it leaves queued must not reach the other tests' workers
    cfg = replace(cfg, worker=replace(cfg.worker, broker=BrokerConfig(settings.data_dir / "lonely-broker")))
    heard: list[str] = []

    class Heard(Exception):
        pass

    def notice(line: str) -> None:
        heard.append(line)
        raise Heard  # enough: stop waiting

    with pytest.raises(Heard):
        run_index(cat, cfg, str(model), IndexOptions(limit=4, start_workers=False), notice=notice)
    assert "no worker answered" in heard[0]
    assert "celery -A vita.worker worker" in heard[0]


def test_batches_back_together_are_stored_in_one_write(world: tuple[Catalog, Settings, Path], tmp_path: Path) -> None:
    """Three batches that came back at once: one store write (one flush), one catalog transaction,
    every item indexed, and each batch counted in the profile."""
    import uuid

    import numpy as np

    from indexer.build import BatchResult, Outcome
    from indexer.store import Point
    from indexer.store.edge import EdgeStore
    from workers.sink import Sink

    cat, _, model = world
    spec = describe_model(model)
    with cat.sessions() as s:
        media = list(s.execute(select(Media.id, Media.path).order_by(Media.id).limit(6)))
    rng = np.random.default_rng(0)
    results = [BatchResult([Point(str(uuid.uuid4()), rng.standard_normal(spec.dim).astype(np.float32), {"window": 0})
                            for _ in pair], [Outcome(mid, path, points=1) for mid, path in pair],
                           {"pid": 1.0, "start": float(n), "end": n + 0.5, "model_s": 0.25})
               for n, pair in enumerate([media[0:2], media[2:4], media[4:6]])]
    store = EdgeStore(tmp_path / "store")
    store.create("vita-grp-media", spec.dim)
    writes: list[int] = []
    upsert = store.upsert
    store.upsert = lambda name, points: (writes.append(len(points)), upsert(name, points))[1]  # type: ignore[method-assign]
    report = IndexReport("vita-grp-media", "vita-grp-taxa", spec.ref)
    Sink(cat, store, spec, "vita-grp-media", "vita-grp-taxa", report, None).commit(results)
    assert writes == [6]
    assert store.count("vita-grp-media") == 6
    assert report.indexed == 6
    assert report.commits == 3
    assert len(report.batch_timings) == 3
    with cat.sessions() as s:
        entries = list(s.scalars(select(IndexEntry).where(IndexEntry.collection == "vita-grp-media")))
    assert sorted(e.media_id for e in entries) == [m for m, _ in media]
    assert all(e.status == "indexed" for e in entries)
    store.close()


def test_workers_wind_down_beside_the_run_and_leave_nothing(world: tuple[Catalog, Settings, Path]) -> None:
    """Once every batch is back the run does not wait for Celery's shutdown (seconds): stop(wait=False)
    returns while the worker still winds down, and the worker and its pool processes are gone after."""
    from workers.pool import WorkerPool

    _, settings, _ = world
    cfg = settings.model_copy(update={"corpus": "reap"}).index_config()
    pool = WorkerPool(cfg, 1)
    pool.start()
    app = make_app(cfg.worker)
    deadline = time.monotonic() + 120
    replies: list[Any] = []
    while not replies and time.monotonic() < deadline:
        replies = app.control.ping(timeout=0.5)
    assert replies, "the worker never answered a ping"
    assert pool.proc is not None
    assert pool.alive()
    pool.stop(wait=False)
    assert pool.proc.poll() is None  # still winding down (Celery notices within its 2 s loop, then joins its pool)
    deadline = time.monotonic() + 60
    while pool.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert pool.proc.returncode is not None
    deadline = time.monotonic() + 30
    while _group_alive(pool.proc.pid) and time.monotonic() < deadline:  # its pool processes exit after it
        time.sleep(0.1)
    with pytest.raises(ProcessLookupError):
        os.killpg(pool.proc.pid, 0)  # no pool process left in its group


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_run_profile_from_batch_timings_by_hand() -> None:
    """Two worker processes: A ran [0, 1] and [1.5, 2.5], B ran [0, 2]; half of each batch in the model;
    the coordinator committed 3 batches in 0.3 s. A timing without its fields (an old worker) is left out."""
    report = IndexReport("m", "t", "tiny", commit_s=0.3, commits=3, batch_timings=[
        {"pid": 1, "start": 100.0, "end": 101.0, "model_s": 0.5},
        {"pid": 2, "start": 500.0, "end": 502.0, "model_s": 1.0},
        {"pid": 1, "start": 101.5, "end": 102.5, "model_s": 0.5},
        {"pid": 3, "start": 7.0}])
    assert report.profile() == {"processes": 2, "busy": round(4 / 4.5, 3), "model": 0.5, "gap_ms": 500.0,
                                "commit_ms": 100.0}
    assert IndexReport("m", "t", "tiny").profile() == {"processes": 0, "busy": None, "model": None,
                                                        "gap_ms": None, "commit_ms": None}


def test_thread_plan_shares_the_cores_and_keeps_decoding_ahead() -> None:
    from workers.config import thread_plan

    assert thread_plan(2, 1) == (2, 2)  # one process: the model gets both cores, two decoders run ahead
    assert thread_plan(2, 2) == (1, 2)  # a core each; still two decoders, so a file decodes during a forward
    assert thread_plan(16, 4) == (4, 4)
    assert thread_plan(1, 3) == (1, 2)  # more processes than cores: never zero threads
    assert thread_plan(16, 1, model_threads=3, decode_threads=5) == (3, 5)  # settings win


def test_index_workers_get_their_threads_from_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """VITA_WORKER_THREADS / VITA_DECODE_THREADS reach the worker processes `vita index` starts."""
    from tests.support import make_settings
    from workers.pool import WorkerPool

    cfg = make_settings(tmp_path, worker_threads=3, decode_threads=5).index_config(workers=1)
    seen: dict[str, Any] = {}

    class Popen:
        def __init__(self, cmd: list[str], env: dict[str, str], **_: Any) -> None:
            seen.update(env)

    monkeypatch.setattr("workers.pool.subprocess.Popen", Popen)
    WorkerPool(cfg, 1).start()
    assert (seen["VITA_WORKER_THREADS"], seen["VITA_DECODE_THREADS"]) == ("3", "5")
    worker = Settings(**{k[5:].lower(): v for k, v in seen.items()
                         if k in ("VITA_WORKER_THREADS", "VITA_DECODE_THREADS")}).worker_config()
    assert (worker.model_threads, worker.decode_threads) == (3, 5)
