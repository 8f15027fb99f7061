"""Nearest neighbours beside the peers users would pick instead, on the same vectors, queries and
filters (`vita bench ann`): our embedded store (Qdrant Edge: HNSW at several `hnsw_ef`, and exact),
faiss (flat, and HNSW; filtered by over-fetching 3x and post-filtering, as bioclip's image search
does) and usearch (perch-hoplite's index, filtered the same way). One query at a time on one
thread, as the API and the UI ask. The table gives each setting's p50/p95 and recall@10, and, at
recall >= 0.95, our fastest p50 over each peer's.
"""

from __future__ import annotations

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

from bench.speed import built, exact_top, filters, split_queries, synthetic
from indexer.store.config import HNSW_EF_CONSTRUCT, HNSW_M, ON_DISK_INT8

OVERFETCH = 3
EFS = (16, 32, 64, 128, 256)
TARGET_RECALL = 0.95


@dataclass
class AnnRow:
    backend: str
    setting: str
    points: int
    dim: int
    queries_kind: str
    filter: str
    selectivity: float
    p50_ms: float
    p95_ms: float
    recall_at_10: float


Search = Callable[[np.ndarray, Any, np.ndarray], list[int]]  # (query, our Filter, mask) -> point indices


@dataclass(frozen=True)
class Graph:
    """One build of our store: HNSW edges per node, the build's candidate list, and whether the
    vectors sit on disk with an int8 copy in RAM (`indexer.store.Layout`)."""

    m: int = HNSW_M  # the store's default graph and layout
    ef_construct: int = HNSW_EF_CONSTRUCT
    int8: bool = ON_DISK_INT8

    @property
    def label(self) -> str:
        return f"m={self.m} efc={self.ef_construct}" + (" int8" if self.int8 else " float")

    @classmethod
    def parse(cls, text: str) -> Graph:
        """'32', '32/200', '32/200/int8' or '32/200/float': m, then ef_construct, then the layout (the
        int8 copy with the vectors on disk, or the vectors in RAM; unsaid: the store's default)."""
        parts = text.split("/")
        layout = parts[2] if len(parts) > 2 else ""
        if layout not in ("", "int8", "float"):
            raise ValueError(f"layout {layout!r}: int8 or float")
        return cls(int(parts[0]), int(parts[1]) if len(parts) > 1 and parts[1] else 200,
                   layout == "int8" if layout else ON_DISK_INT8)


def _measure(search: Search, q: np.ndarray, flt: Any, mask: np.ndarray, truth: list[set[int]]) -> tuple[float, float, float]:
    search(q[0], flt, mask)  # warm
    lat, rec = [], []
    for i, v in enumerate(q):
        t0 = time.perf_counter()
        got = search(v, flt, mask)
        lat.append((time.perf_counter() - t0) * 1000)
        rec.append(len(set(got) & truth[i]) / max(1, min(10, len(truth[i]))))
    p50, p95 = np.percentile(lat, [50, 95])
    return round(float(p50), 3), round(float(p95), 3), round(float(statistics.fmean(rec)), 4)


def _post_filter(ids: np.ndarray, mask: np.ndarray, filtered: bool) -> list[int]:
    ids = ids[ids >= 0]
    return [int(i) for i in (ids[mask[ids]] if filtered else ids)][:10]


def ann_bench(n: int, dim: int, n_queries: int = 200, seed: int = 0, efs: tuple[int, ...] = EFS,
              log: Callable[[str], None] = print, graphs: tuple[Graph, ...] = (Graph(),),
              peers: bool = True) -> dict[str, Any]:
    """`graphs`: the HNSW graphs (and vector layouts) our store is built with, each measured at every
    `hnsw_ef`; `peers`: also faiss and usearch (at M=16; their builds dominate at a million points)."""
    import faiss
    from usearch.index import Index

    from indexer.store.config import Layout
    from indexer.store.edge import EdgeStore

    faiss.omp_set_num_threads(1)
    s, near = split_queries(synthetic(n + n_queries, dim, seed), n_queries)
    sets = {"near": near, "far": synthetic(n_queries, dim, seed + 1).vectors}
    flts = filters(s)
    truth = {(k, f): exact_top(s.vectors, mask, q) for k, q in sets.items() for f, (_, mask) in flts.items()}
    rows: list[AnnRow] = []
    builds: dict[str, float] = {}

    def run(backend: str, setting: str, search: Search) -> None:
        for kind, q in sets.items():
            for label, (flt, mask) in flts.items():
                p50, p95, rec = _measure(search, q, flt, mask, truth[(kind, label)])
                rows.append(AnnRow(backend, setting, n, dim, kind, label, float(mask.mean()), p50, p95, rec))
        log(f"ann: {backend} {setting}: far recall {rows[-3].recall_at_10} p50 {rows[-3].p50_ms} ms")

    for graph in graphs:
        root = Path(tempfile.mkdtemp(prefix="vita-ann-"))
        try:
            store = EdgeStore(root, Layout(on_disk=graph.int8, int8=graph.int8, hnsw_m=graph.m,
                                           hnsw_ef_construct=graph.ef_construct))
            name = f"ann-{uuid.uuid4().hex[:6]}"
            builds[f"edge {graph.label}"] = built(store, name, s)
            log(f"ann: edge {graph.label}: built in {builds[f'edge {graph.label}']} s")

            def edge(ef: int | None) -> Search:
                def go(v: np.ndarray, flt: Any, _: np.ndarray) -> list[int]:
                    return [uuid.UUID(h.id).int - 1 for h in store.query(name, v, flt, limit=10,  # noqa: B023
                                                                          exact=ef is None, hnsw_ef=ef)]
                return go

            if graph == graphs[0]:  # exact search does not use the graph: once
                run("edge (ours)", "exact" + (" (int8 + rescore)" if graph.int8 else ""), edge(None))
            for ef in efs:
                run("edge (ours)", f"HNSW {graph.label} ef={ef}", edge(ef))

            def default(v: np.ndarray, flt: Any, _: np.ndarray) -> list[int]:
                return [uuid.UUID(h.id).int - 1 for h in store.query(name, v, flt, limit=10)]  # noqa: B023

            run("edge (ours)", f"default: {graph.label}, breadth by size (ef={store.breadth(name)})", default)
            store.close()
        finally:
            shutil.rmtree(root, ignore_errors=True)
    data = {"points": n, "dim": dim, "queries": n_queries, "rows": [], "build_s": builds}
    if not peers:
        data.update(rows=[asdict(r) for r in rows], summary=summary(rows))
        return data

    t0 = time.perf_counter()
    flat = faiss.IndexFlatIP(dim)
    flat.add(s.vectors)
    builds["faiss flat"] = round(time.perf_counter() - t0, 1)

    def faiss_search(index: Any) -> Search:
        def go(v: np.ndarray, flt: Any, mask: np.ndarray) -> list[int]:
            k = 10 * OVERFETCH if flt is not None else 10
            _, ids = index.search(v[None, :], k)
            return _post_filter(ids[0], mask, flt is not None)
        return go

    run("faiss", "flat (exact)", faiss_search(flat))
    t0 = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(dim, 16, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 100
    hnsw.add(s.vectors)
    builds["faiss HNSW"] = round(time.perf_counter() - t0, 1)
    for ef in efs:
        hnsw.hnsw.efSearch = ef
        run("faiss", f"HNSW M=16 ef={ef}", faiss_search(hnsw))

    t0 = time.perf_counter()
    us = Index(ndim=dim, metric="ip", connectivity=16, expansion_add=100)
    us.add(np.arange(len(s.vectors)), s.vectors, threads=1)
    builds["usearch"] = round(time.perf_counter() - t0, 1)

    def us_search(v: np.ndarray, flt: Any, mask: np.ndarray) -> list[int]:
        k = 10 * OVERFETCH if flt is not None else 10
        return _post_filter(np.asarray(us.search(v, k, threads=1).keys, np.int64), mask, flt is not None)

    for ef in efs:
        us.expansion_search = ef  # type: ignore[misc]  # usearch's property has a setter mypy misses
        run("usearch", f"HNSW M=16 ef={ef}", us_search)
    data.update(rows=[asdict(r) for r in rows], summary=summary(rows))
    return data


def summary(rows: list[AnnRow]) -> list[dict[str, Any]]:
    """Per query kind and filter: each backend's fastest setting at recall >= TARGET_RECALL, and our
    p50 over theirs (below 1: we are faster)."""
    out = []
    for kind, label in sorted({(r.queries_kind, r.filter) for r in rows}):
        best: dict[str, AnnRow] = {}
        for r in rows:
            ok = (r.queries_kind, r.filter) == (kind, label) and r.recall_at_10 >= TARGET_RECALL
            if ok and (r.backend not in best or r.p50_ms < best[r.backend].p50_ms):
                best[r.backend] = r
        ours = best.get("edge (ours)")
        for backend, r in sorted(best.items()):
            out.append({"queries_kind": kind, "filter": label, "backend": backend, "setting": r.setting,
                        "p50_ms": r.p50_ms, "recall_at_10": r.recall_at_10,
                        "ours_over_theirs": round(ours.p50_ms / r.p50_ms, 2) if ours and backend != ours.backend else None})
        for backend in sorted({r.backend for r in rows} - set(best)):
            top = max(r.recall_at_10 for r in rows if (r.queries_kind, r.filter, r.backend) == (kind, label, backend))
            out.append({"queries_kind": kind, "filter": label, "backend": backend,
                        "setting": f"none reaches {TARGET_RECALL} (best recall {top})", "p50_ms": None,
                        "recall_at_10": None, "ours_over_theirs": None})
    return out


def markdown(data: dict[str, Any]) -> str:
    from bench.results import table

    head = (f"**Nearest neighbours beside the peers** ({data['points']:,} synthetic {data['dim']}-d points, "
            f"{data['queries']} queries per set, one query at a time on one thread; peers filter by over-fetching "
            f"{OVERFETCH}x and post-filtering). Build seconds: "
            + ", ".join(f"{k} {v}" for k, v in data["build_s"].items()))
    fastest = table(["queries", "filter", "backend", "fastest setting at recall >= 0.95", "p50 ms", "recall@10",
                     "our p50 / theirs"],
                    [[r["queries_kind"], r["filter"], r["backend"], r["setting"], r["p50_ms"] if r["p50_ms"] is not None else "–",
                      r["recall_at_10"] if r["recall_at_10"] is not None else "–",
                      r["ours_over_theirs"] if r["ours_over_theirs"] is not None else "–"] for r in data["summary"]])
    every = table(["backend", "setting", "queries", "filter", "selectivity", "p50 ms", "p95 ms", "recall@10"],
                  [[r["backend"], r["setting"], r["queries_kind"], r["filter"], f"{100 * r['selectivity']:.1f}%",
                    r["p50_ms"], r["p95_ms"], r["recall_at_10"]] for r in data["rows"]])
    return "\n".join([head, "", fastest, "", "Every setting (the recall/latency curve):", "", every])
