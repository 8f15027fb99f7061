"""Faults during the main job, each with what must hold afterwards:

- the embedded store's process killed with SIGKILL inside an upsert: it opens again, what was
  written before is whole, and writing again completes it;
- the `vita index` coordinator (which is also the embedded store's process) killed with SIGKILL
  mid-run, twice: its workers go too, the store reopens, `vita index --check` repairs what the kill
  left half-written, the next run finishes, and every item is indexed once with catalog and store
  agreeing;
- PostgreSQL stopped and started while `vita index` runs on it: the run waits and finishes;
- the disk holding the media filling up during ingest: each file that cannot be written is a
  failure naming it, nothing already stored is lost, and the next run adds the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psutil
import pytest
from sqlalchemy import create_engine, func, select, text

from catalog.facade import Catalog
from catalog.tables import IndexEntry, Media
from tests.support import make_settings, small_world
from vita.settings import Settings

pytestmark = pytest.mark.slow


def test_a_batch_whose_every_item_failed_crosses_the_wire() -> None:
    """A batch with no points (every file refused, or the database away) is a result, not a crash."""
    from indexer.build import BatchResult, Outcome
    from workers.wire import BatchReply

    failed = BatchResult([], [Outcome(7, "a.wav", 0, "decode", "truncated")])
    back = BatchReply.from_wire(json.loads(json.dumps(BatchReply.to_store(failed).to_wire())))
    assert back.result is not None
    assert back.result.points == []
    assert back.outcomes == failed.outcomes
    whole = BatchReply.failed([3, 4], ConnectionError("broker gone"))  # a batch that failed as a whole
    again = BatchReply.from_wire(json.loads(json.dumps(whole.to_wire())))
    assert [o.media_id for o in again.outcomes] == [3, 4]
    assert all("ConnectionError: broker gone" in (o.reason or "") for o in again.outcomes)


def _vita(settings: Settings, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, **settings.to_env()}
    return subprocess.Popen([sys.executable, "-m", "vita.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _entries(url: str) -> int:
    engine = create_engine(url, connect_args={"connect_timeout": 2} if url.startswith("postgresql") else {})
    try:
        with engine.connect() as c:
            return int(c.execute(text("SELECT count(*) FROM index_entries")).scalar() or 0)
    except Exception:  # the table is not there yet, or the database is down
        return 0
    finally:
        engine.dispose()


def _kill_when_indexing(proc: subprocess.Popen[str], url: str, at_least: int, timeout: float = 300) -> int:
    """SIGKILL `proc` once the catalog has `at_least` entries (it is then mid-run: committing
    batches into the store while others are out); returns the entries seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = _entries(url)
        if n >= at_least:
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            return n
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        time.sleep(0.05)
    proc.kill()
    pytest.fail("indexing never got going")


def _workers_of(pid: int) -> list[psutil.Process]:
    mine = f"vita-index-{pid}@"
    out = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any(mine in part for part in p.info["cmdline"] or []):
                out.append(p)
        except psutil.Error:
            continue
    return out


def _agree(cat: Catalog, settings: Settings) -> tuple[int, int]:
    """Every media item has one indexed entry, and the store holds exactly its points; returns
    (media, points)."""
    from indexer.store import open_store
    from workers.check import check, media_collections

    with open_store(settings.store_config()) as store:
        (name,) = media_collections(cat, store)
        report = check(cat, store, name, repair=False)
    with cat.sessions() as s:
        media = s.scalar(select(func.count()).select_from(Media)) or 0
        per_media = Counter(s.scalars(select(IndexEntry.media_id).where(IndexEntry.collection == name)))
    assert report.disagreements == 0, (report.unknown_points, report.short)
    assert len(per_media) == media
    assert set(per_media.values()) == {1}  # each item once
    assert report.entries == media
    assert report.points == report.agree == media  # one window per small-world item
    return media, report.points


def test_coordinator_killed_twice_then_check_and_resume(tmp_path: Path) -> None:
    cat, settings, model = small_world(tmp_path)
    url = settings.resolved_database_url
    total = cat.stats().media
    args = ("index", "--model", str(model), "--workers", "2", "--batch-size", "16")
    for at_least in (16, total // 2):  # early, then half-way (the second run resumes, then dies again)
        proc = _vita(settings, *args)
        _kill_when_indexing(proc, url, at_least)
        deadline = time.monotonic() + 60  # its workers notice and go (warm shutdown)
        while _workers_of(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _workers_of(proc.pid), "workers outlived their coordinator"
    checked = _vita(settings, "index", "--check")
    out = checked.communicate(timeout=300)[0]
    assert checked.returncode == 0, out  # the store killed mid-write opens again
    assert "media indexed (catalog)" in out
    assert "repaired" in out or "agree" in out
    resumed = _vita(settings, *args)
    out = resumed.communicate(timeout=600)[0]
    assert resumed.returncode == 0, out
    assert _agree(cat, settings)[0] == total
    again = _vita(settings, "index", "--check")
    assert "catalog and store agree" in again.communicate(timeout=300)[0]
    cat.close()


WRITER = """
import sys, uuid
from pathlib import Path
import numpy as np
from indexer.store import Point, StoreConfig, open_store
store = open_store(StoreConfig(index_dir=Path(sys.argv[1])))
if not store.exists("c"):
    store.create("c", 64)
for b in range(int(sys.argv[2]), 1000):
    rng = np.random.default_rng(b)
    pts = [Point(str(uuid.UUID(int=b * 10**6 + i)), rng.standard_normal(64).astype(np.float32), {"media_id": b})
           for i in range(20000)]
    print(f"upsert {b}", flush=True)
    store.upsert("c", pts)
    print(f"done {b}", flush=True)
    if len(sys.argv) > 3 and b + 1 >= int(sys.argv[3]):
        break
"""


def test_the_embedded_store_killed_mid_upsert_opens_and_resumes(tmp_path: Path) -> None:
    """Batches of 20,000 points; SIGKILL while the third is being written. The store opens again,
    every batch written before is whole, and writing the third again leaves exactly three batches."""
    from indexer.store import StoreConfig, open_store

    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "index"), "0"], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("upsert 2"):
            time.sleep(0.2)  # inside the upsert of batch 2 (it takes about a second)
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(30)
    assert "done 2" not in proc.stdout.read()  # the kill landed before batch 2's write returned
    with open_store(StoreConfig(index_dir=tmp_path / "index")) as store:  # opens: the lock died with the process
        counts = Counter(int(h.payload["media_id"]) for h in store.scroll("c", batch=4096))
    assert counts[0] == 20000, counts  # the batches written before the kill are whole
    assert counts[1] == 20000, counts
    assert set(counts) <= {0, 1, 2}, counts  # and the one being written is not more than itself
    assert counts[2] <= 20000, counts
    resumed = subprocess.run([sys.executable, "-c", WRITER, str(tmp_path / "index"), "2", "3"], capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    with open_store(StoreConfig(index_dir=tmp_path / "index")) as store:
        assert store.count("c") == 60000
        rng = np.random.default_rng(1)  # batch 1's vectors, as written before the kill
        want = rng.standard_normal(64).astype(np.float32)
        (hit,) = store.retrieve("c", [str(uuid.UUID(int=1 * 10**6))], with_vector=True)
        assert hit.vector is not None
        assert np.allclose(hit.vector, want / np.linalg.norm(want), atol=1e-5)


def _pg(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action], check=True,
                   capture_output=True, timeout=120)


@pytest.mark.postgres
def test_catalog_database_down_for_a_while_during_indexing(pg_url: str, tmp_path: Path) -> None:
    if os.geteuid() != 0 or not Path("/etc/postgresql").is_dir():
        if os.environ.get("VITA_REQUIRE_PG"):
            pytest.fail("this test stops and starts the local PostgreSQL: it needs root and pg_ctlcluster")
        pytest.skip("cannot stop and start the local PostgreSQL here")
    from catalog.sources.demo import DemoWorldSource
    from encoders.factory import create_encoder, save_vita

    settings = make_settings(tmp_path, database_url=pg_url)
    cat = settings.open_catalog()
    assert cat.ingest(DemoWorldSource(settings.media_dir, "small")).failed == 0
    save_vita(create_encoder("tiny", pretrained=False), tmp_path / "model")
    proc = _vita(settings, "index", "--model", str(tmp_path / "model"), "--workers", "2", "--batch-size", "16")
    try:
        deadline = time.monotonic() + 300
        while _entries(pg_url) < 16:
            assert time.monotonic() < deadline and proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            time.sleep(0.05)
        _pg("stop")
        lines: list[str] = []  # the run's output, read beside it
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
        reader.start()
        deadline = time.monotonic() + 120
        while not any("unreachable" in line for line in lines):  # batches come back; the run waits, and says so
            assert time.monotonic() < deadline and proc.poll() is None, "".join(lines)
            time.sleep(0.1)
    finally:
        _pg("start")
    proc.wait(600)
    reader.join(30)
    out = "".join(lines)
    assert proc.returncode == 0, out
    assert "unreachable" in out  # it said why it was waiting
    assert _agree(cat, settings)[0] == cat.stats().media
    cat.close()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path | None]:
    """A 3 MB tmpfs for the media (None where this process cannot mount one)."""
    where = tmp_path / "data" / "media"
    where.mkdir(parents=True)
    mounted = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(where)],
                                                   capture_output=True).returncode == 0
    yield where if mounted else None
    if mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_disk_fills_during_ingest(small_disk: Path | None, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings(tmp_path)
    if small_disk is not None:  # the real thing: the CLI, a file system that is full
        run = _vita(settings, "ingest", "demo", "--size", "small")
        out = run.communicate(timeout=600)[0]
        assert run.returncode == 1, out  # finished, with failures
    else:  # a fault injected at the write: the 40th file and every later one find the disk full
        import errno

        from catalog.sources.demo import DemoWorldSource


        real, calls = Path.write_bytes, [0]

        def full(path: Path, data: bytes) -> int:
            calls[0] += 1
            if calls[0] >= 40 and path.name.endswith(".tmp"):
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
            return real(path, data)

        monkeypatch.setattr(Path, "write_bytes", full)
        with settings.open_catalog() as cat:
            cat.ingest(DemoWorldSource(settings.media_dir, "small", workers=1))
            out = "\n".join(f.reason for f in cat.failures(limit=5))
        monkeypatch.undo()
    with settings.open_catalog() as cat, cat.sessions() as s:
        failures = cat.failures(limit=100_000)
        kept = {m: (Path(p), sha) for m, p, sha in s.execute(select(Media.id, Media.path, Media.sha256))}
    assert failures and kept, out
    named = re.compile(r"/demo-small-0/[^ ]+_(call\.(wav|flac)|photo\.png)\b")  # the file that could not be written
    assert all("No space left on device" in f.reason and named.search(f.reason) for f in failures), failures[:3]
    assert all(p.is_file() and _sha(p) == sha for p, sha in kept.values())  # nothing stored is damaged
    if small_disk is not None:
        subprocess.run(["mount", "-o", "remount,size=256m", str(small_disk)], check=True)
    again = _vita(settings, "ingest", "demo", "--size", "small")
    out = again.communicate(timeout=600)[0]
    assert again.returncode == 0, out
    with settings.open_catalog() as cat, cat.sessions() as s:
        after = {m: (Path(p), sha) for m, p, sha in s.execute(select(Media.id, Media.path, Media.sha256))}
        assert not cat.failures(limit=10)  # the next run resolved them
    assert len(after) > len(kept)
    assert all(after[m] == kept[m] for m in kept)
    assert all(p.is_file() and _sha(p) == sha for p, sha in after.values())
