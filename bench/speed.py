"""Speed and memory: what a curator waits for and what a machine must hold.

- indexing: end-to-end media/s of `vita index` (decode, window, embed, send, store), split into
  start-up, steady state and optimize, beside the model alone (features and forward) on the same
  media in the same batches with the same threads; the steady rate over that bound is the ratio;
- query: p50/p95/p99 latency with and without filters at several collection sizes, before and
  after `optimize()` (HNSW), with recall@10 against exact search, on synthetic vectors with a
  taxonomy-like low-rank structure (families of species around shared directions). Two query
  sets: "near" (held-out points of the same structure: a sound asking for similar sounds) and
  "far" (another subspace, best cosine ~0.3: what a text or photo asking for sounds looks like in
  a CLIP-style space, and where HNSW recall suffers first);
- memory: resident size of a process serving the collection, per million points.
"""

from __future__ import annotations

import multiprocessing as mp
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexer.filters import Filter
from indexer.store import Point, VectorStore
from workers.config import IndexConfig

FAMILIES = 60
CLASSES = ("Aves", "Mammalia", "Amphibia", "Insecta")
TRAITS = tuple(f"t={i}" for i in range(34))
CHUNK = 20_000


# ---------------------------------------------------------------- synthetic collections


@dataclass
class Synthetic:
    vectors: np.ndarray  # (n, dim), unit length
    family: np.ndarray  # (n,) int
    klass: np.ndarray  # (n,) int
    traits: np.ndarray  # (n, 3) int


def synthetic(n: int, dim: int, seed: int = 0, rank: int = 24) -> Synthetic:
    """Points near a rank-`rank` subspace: a family centre, a species offset, recording noise,
    then a little full-dimensional noise; families carry a class and traits, as real points do."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((rank, dim)).astype(np.float32) / np.sqrt(rank)
    centres = rng.standard_normal((FAMILIES, rank)).astype(np.float32)
    species = rng.standard_normal((FAMILIES * 8, rank)).astype(np.float32) * 0.6
    fam_class = rng.integers(len(CLASSES), size=FAMILIES)
    fam_traits = np.stack([rng.choice(len(TRAITS), 3, replace=False) for _ in range(FAMILIES)])
    out = np.empty((n, dim), np.float32)
    sp = rng.integers(len(species), size=n)
    fam = sp % FAMILIES
    for i in range(0, n, CHUNK):
        j = slice(i, min(n, i + CHUNK))
        z = centres[fam[j]] + species[sp[j]] + 0.3 * rng.standard_normal((len(sp[j]), rank)).astype(np.float32)
        x = z @ basis + 0.05 * rng.standard_normal((len(sp[j]), dim)).astype(np.float32)
        out[j] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return Synthetic(out, fam, fam_class[fam], fam_traits[fam])


def split_queries(s: Synthetic, n_queries: int) -> tuple[Synthetic, np.ndarray]:
    """Hold the last `n_queries` points out as queries: same families and subspace, not stored."""
    k = len(s.vectors) - n_queries
    return Synthetic(s.vectors[:k], s.family[:k], s.klass[:k], s.traits[:k]), s.vectors[k:]


def payload(s: Synthetic, i: int) -> dict[str, Any]:
    return {"family": f"F{s.family[i]}", "class": CLASSES[s.klass[i]], "traits": [TRAITS[t] for t in s.traits[i]],
            "window": 0}


def fill(store: VectorStore, name: str, s: Synthetic) -> None:
    store.create(name, s.vectors.shape[1])
    for i in range(0, len(s.vectors), CHUNK):
        store.upsert(name, [Point(str(uuid.UUID(int=k + 1)), s.vectors[k], payload(s, k))
                            for k in range(i, min(len(s.vectors), i + CHUNK))])


def built(store: VectorStore, name: str, s: Synthetic) -> float:
    """Fill a collection with `s` and build its graph; the seconds that took."""
    t0 = time.perf_counter()
    fill(store, name, s)
    store.optimize(name)
    return round(time.perf_counter() - t0, 1)


# ---------------------------------------------------------------- queries


def filters(s: Synthetic) -> dict[str, tuple[Filter | None, np.ndarray]]:
    """The filters measured, each with its mask over the points (for exact ground truth)."""
    fam = int(np.bincount(s.family).argmax())
    trait = int(s.traits[0, 0])
    k = int(s.klass[0])
    return {
        "none": (None, np.ones(len(s.family), bool)),
        "family (1 of 60)": (Filter({"family": [f"F{fam}"]}), s.family == fam),
        "class + trait": (Filter({"class": [CLASSES[k]], "traits": [TRAITS[trait]]}),
                          (s.klass == k) & (s.traits == trait).any(axis=1)),
    }


@dataclass
class QueryRow:
    backend: str
    points: int
    dim: int
    optimized: bool
    queries_kind: str  # near: held-out points of the collection's structure; far: cross-modal-like
    filter: str
    selectivity: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    recall_at_10: float
    queries: int


def exact_top(vectors: np.ndarray, mask: np.ndarray, q: np.ndarray, k: int = 10) -> list[set[int]]:
    idx = np.flatnonzero(mask)
    sims = q @ vectors[idx].T
    top = np.argpartition(-sims, min(k, len(idx) - 1), axis=1)[:, :k]
    return [set(idx[row].tolist()) for row in top]


def time_queries(store: VectorStore, name: str, s: Synthetic, q: np.ndarray, backend: str, optimized: bool,
                 kind: str = "near") -> list[QueryRow]:
    rows = []
    for label, (flt, mask) in filters(s).items():
        truth = exact_top(s.vectors, mask, q)
        store.query(name, q[0], flt, limit=10)  # warm
        lat, rec = [], []
        for i, v in enumerate(q):
            t0 = time.perf_counter()
            hits = store.query(name, v, flt, limit=10)
            lat.append((time.perf_counter() - t0) * 1000)
            got = {uuid.UUID(h.id).int - 1 for h in hits}
            rec.append(len(got & truth[i]) / max(1, min(10, len(truth[i]))))
        p = np.percentile(lat, [50, 95, 99])
        rows.append(QueryRow(backend, len(s.vectors), s.vectors.shape[1], optimized, kind, label, float(mask.mean()),
                             round(float(p[0]), 3), round(float(p[1]), 3), round(float(p[2]), 3),
                             round(float(statistics.fmean(rec)), 4), len(q)))
    return rows


def query_bench(open_store: Callable[[Path], VectorStore], sizes: list[int], dim: int, n_queries: int = 200,
                seed: int = 0, backend: str = "edge", memory: bool = True,
                progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """For each size: fill a fresh collection, time queries, optimize, time again, measure RSS."""
    rows: list[QueryRow] = []
    builds: list[dict[str, Any]] = []
    for n in sizes:
        s, near = split_queries(synthetic(n + n_queries, dim, seed), n_queries)
        far = synthetic(n_queries, dim, seed + 1).vectors  # another subspace: best cosine ~0.3, as cross-modal
        sets = {"near": near, "far": far}
        root = Path(tempfile.mkdtemp(prefix=f"vita-bench-{n}-"))
        name = f"bench-{n}-{uuid.uuid4().hex[:6]}"
        try:
            store = open_store(root)
            t0 = time.perf_counter()
            fill(store, name, s)
            t_fill = time.perf_counter() - t0
            if progress:
                progress(f"{backend} {n:,} points: filled in {t_fill:.0f} s")
            for kind, q in sets.items():
                rows += time_queries(store, name, s, q, backend, False, kind)
            t0 = time.perf_counter()
            store.optimize(name)
            t_opt = time.perf_counter() - t0
            if progress:
                progress(f"{backend} {n:,} points: optimized in {t_opt:.0f} s")
            for kind, q in sets.items():
                rows += time_queries(store, name, s, q, backend, True, kind)
            build = {"backend": backend, "points": n, "dim": dim, "upsert_s": round(t_fill, 2),
                     "optimize_s": round(t_opt, 2), "upsert_points_per_s": round(n / t_fill),
                     "disk_mib": round(_du(root) / 2**20, 1)}
            if backend == "edge":
                store.close()
                if memory:
                    build.update(serving_memory(root, name, dim))
            else:
                store.drop(name)
                store.close()
            builds.append(build)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return {"queries": [asdict(r) for r in rows], "builds": builds}


def _du(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def _serve(root: str, name: str | None, dim: int, queue: Any) -> None:
    """In a fresh process: open the store, answer queries, report resident memory."""
    import psutil

    from indexer.store.edge import EdgeStore

    store = EdgeStore(Path(root))
    if name is not None:
        rng = np.random.default_rng(0)
        for _ in range(50):
            store.query(name, rng.standard_normal(dim).astype(np.float32), limit=10)
    queue.put(psutil.Process().memory_info().rss)
    store.close()


def serving_memory(root: Path, name: str, dim: int) -> dict[str, float]:
    """RSS of a process serving the collection minus one holding an empty store."""
    ctx = mp.get_context("spawn")
    out = []
    with tempfile.TemporaryDirectory() as empty:
        for args in ((empty, None), (str(root), name)):
            queue = ctx.Queue()
            p = ctx.Process(target=_serve, args=(*args, dim, queue))
            p.start()
            out.append(queue.get(timeout=600))
            p.join()
    return {"serving_rss_mib": round(out[1] / 2**20, 1), "empty_store_rss_mib": round(out[0] / 2**20, 1),
            "rss_above_empty_mib": round(max(0, out[1] - out[0]) / 2**20, 1)}


def rss_per_million(builds: list[dict[str, Any]]) -> float | None:
    """Marginal resident size per million points: the slope between the two largest sizes measured
    (a single small size is mostly fixed cost: segments, WAL, payload indexes), or, with one size
    of at least a million points, its own figure."""
    pts = sorted((b["points"], b["rss_above_empty_mib"]) for b in builds if "rss_above_empty_mib" in b)
    if len(pts) >= 2 and pts[-1][0] > pts[-2][0]:
        (n0, r0), (n1, r1) = pts[-2], pts[-1]
        return round((r1 - r0) * 1e6 / (n1 - n0), 1)
    if pts and pts[-1][0] >= 1_000_000:
        return round(pts[-1][1] * 1e6 / pts[-1][0], 1)
    return None


# ---------------------------------------------------------------- indexing


@dataclass
class IndexRow:
    mode: str  # "vita index, N workers" | "encoder only, N threads"
    workers: int
    clips: int  # media items (audio clips and photos)
    windows: int
    seconds: float
    clips_per_s: float
    audio_s_per_s: float
    #: `vita index` only: start-up (workers, model load, first batch), the steady state after it,
    #: the final optimize, and the steady rate over the encoder-only bound of the same threads
    startup_s: float | None = None
    steady_per_s: float | None = None
    optimize_s: float | None = None
    ratio_to_bound: float | None = None
    #: the steady rate over what this machine's cores allow the model and decoding together
    #: (`machine_ceiling`), and the cores each process kept busy in the steady state (the profile)
    ratio_to_ceiling: float | None = None
    steady_cores: dict[str, float] | None = None
    #: from the batches' own timings (`IndexReport.profile`): workers' busy share, the model's share of
    #: batch time, the gap between a process's batches, the coordinator's commit per batch
    profile: dict[str, Any] | None = None


Item = tuple[str, str]  # (kind, path): "audio" or "image"


def encoder_only(model: Any, items: list[Item], batch_size: int, threads: int) -> IndexRow:
    """The model alone (mel features and forward): the same items in the same batches as a worker
    (`batch_size` media per task, all of a task's windows, then all its photos, through the model);
    decoding and windowing happen outside the timed part, a batch at a time, so memory stays flat."""
    import torch

    from catalog.decode import load_audio, load_image
    from encoders.audio import sliding_windows

    cfg = model.cfg.audio
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    timed, windows, audio_s = 0.0, 0, 0.0
    try:
        for i in range(0, len(items), batch_size):
            chunk = items[i:i + batch_size]
            wins, images = [], []
            for kind, path in chunk:
                if kind == "audio" and cfg is not None:
                    wave = load_audio(Path(path), cfg.sample_rate)[0]
                    audio_s += len(wave) / cfg.sample_rate
                    wins += [w.samples for w in sliding_windows(wave, cfg.sample_rate, cfg.window_s, cfg.hop_s)]
                elif kind == "image":
                    images.append(load_image(Path(path)))
            if i == 0:  # warm: the first call pays for lazy initialisation
                if wins:
                    model.embed_audio(wins[:2], crop="start")
                if images:
                    model.embed_image(images[:2])
            t0 = time.perf_counter()
            if wins:
                model.embed_audio(wins, crop="start")
            if images:
                model.embed_image(images)
            timed += time.perf_counter() - t0
            windows += len(wins) + len(images)
    finally:
        torch.set_num_threads(before)
    return IndexRow(f"encoder only, {threads} thread{'s' if threads > 1 else ''}", threads, len(items),
                    windows, round(timed, 2), round(len(items) / timed, 2), round(audio_s / timed, 1))


def decode_only(model: Any, items: list[Item]) -> IndexRow:
    """Decoding, resampling and windowing alone, on one thread: the CPU the model's bound leaves out.
    On a few cores it shares them with the forward, so it caps what `vita index` can reach."""
    from catalog.decode import load_audio, load_image
    from encoders.audio import sliding_windows

    cfg = model.cfg.audio
    t0, windows, audio_s = time.perf_counter(), 0, 0.0
    for kind, path in items:
        if kind == "audio" and cfg is not None:
            wave = load_audio(Path(path), cfg.sample_rate)[0]
            audio_s += len(wave) / cfg.sample_rate
            windows += len(sliding_windows(wave, cfg.sample_rate, cfg.window_s, cfg.hop_s))
        elif kind == "image":
            load_image(Path(path))
            windows += 1
    dt_ = time.perf_counter() - t0
    return IndexRow("decode only, 1 thread", 1, len(items), windows, round(dt_, 2), round(len(items) / dt_, 2),
                    round(audio_s / dt_, 1))


def machine_ceiling(encoder_1thread_per_s: float, decode_per_s: float, cores: int) -> float:
    """Media/s the cores could give if they did nothing but the model (at its one-thread rate, the
    most work per core) and decoding, perfectly overlapped: every item costs both, on some core.
    With few cores and a small model, decoding alone keeps this well below the encoder-only bound."""
    return cores / (1.0 / encoder_1thread_per_s + 1.0 / decode_per_s)


class CpuSampler:
    """CPU seconds of this process and its children (worker processes), sampled every `every_s`:
    which process kept how many cores busy over a stretch of the run. Roles: "coordinator" (this
    process: dispatch, collect, catalog and store writes), "worker main" (Celery's consumer: the
    broker), "worker pool" (the processes that decode and run the model)."""

    def __init__(self, every_s: float = 0.25) -> None:
        import psutil

        self.me, self.every_s = psutil.Process(), every_s
        self.samples: list[tuple[float, int, str, float]] = []  # (seconds since start, pid, role, cpu s)
        self._stop = False
        self._thread: Any = None
        self.t0 = time.monotonic()

    def _role(self, proc: Any) -> str:
        if proc.pid == self.me.pid:
            return "coordinator"
        return "worker main" if proc.ppid() == self.me.pid else "worker pool"

    def _sample(self) -> None:
        import psutil

        while not self._stop:
            now = time.monotonic() - self.t0
            for proc in [self.me, *self.me.children(recursive=True)]:
                try:
                    t = proc.cpu_times()
                    self.samples.append((now, proc.pid, self._role(proc), t.user + t.system))
                except psutil.Error:  # gone between the listing and the reading
                    continue
            time.sleep(self.every_s)

    def __enter__(self) -> CpuSampler:
        import threading

        self.t0 = time.monotonic()
        self._thread = threading.Thread(target=self._sample, name="vita-bench-cpu", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop = True
        self._thread.join()

    def cores(self, start_s: float, end_s: float) -> dict[str, float]:
        """Cores busy per role between two moments (seconds since the sampler started): the CPU
        seconds each process used in that stretch over its length, summed per role."""
        out: dict[str, float] = {}
        for pid in {p for _, p, _, _ in self.samples}:
            mine = [(t, role, c) for t, p, role, c in self.samples if p == pid and start_s <= t <= end_s]
            if len(mine) >= 2:
                role = mine[0][1]
                out[role] = out.get(role, 0.0) + (mine[-1][2] - mine[0][2]) / max(1e-9, end_s - start_s)
        return {k: round(v, 2) for k, v in sorted(out.items())}


#: (scratch data dir, corpus) -> the configuration of a throwaway `vita index` on the same catalog
ScratchIndex = Callable[[Path, str], IndexConfig]


def index_run(catalog: Any, scratch: ScratchIndex, model_ref: str, media_ids: list[int], workers: int,
              batch_size: int, audio_s: float, bound_per_s: float | None = None,
              ceiling_per_s: float | None = None) -> IndexRow:
    """`vita index` (its own worker processes, filesystem broker) into a throwaway store and corpus;
    the catalog rows it writes for that corpus are removed afterwards. `bound_per_s`: the
    encoder-only rate these workers could reach together, for the ratio; `ceiling_per_s`: what the
    machine's cores allow the model and decoding together (`machine_ceiling`)."""
    from sqlalchemy import delete

    from catalog.tables import IndexCollection, IndexEntry
    from workers.indexing import IndexOptions, run_index

    with tempfile.TemporaryDirectory(prefix="vita-bench-index-") as tmp, CpuSampler() as cpu:
        corpus = f"bench{uuid.uuid4().hex[:6]}"
        try:
            report = run_index(catalog, scratch(Path(tmp), corpus), model_ref,
                               IndexOptions(batch_size=batch_size, workers=workers, only=media_ids))
        finally:
            with catalog.sessions() as sess:
                sess.execute(delete(IndexEntry).where(IndexEntry.collection.like(f"vita-{corpus}-%")))
                sess.execute(delete(IndexCollection).where(IndexCollection.name.like(f"vita-{corpus}-%")))
                sess.commit()
    steady = report.steady_per_s
    return IndexRow(f"vita index, {workers} worker{'s' if workers > 1 else ''}", workers, report.indexed,
                    report.points, round(report.seconds, 2), round(report.indexed / report.seconds, 2),
                    round(audio_s / report.seconds, 1), round(report.startup_s, 2),
                    round(steady, 2) if steady else None, round(report.optimize_s, 2),
                    round(steady / bound_per_s, 3) if steady and bound_per_s else None,
                    round(steady / ceiling_per_s, 3) if steady and ceiling_per_s else None,
                    cpu.cores(report.startup_s, report.startup_s + report.steady_s) if steady else None,
                    report.profile())


def rows_json(rows: list[Any]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]


