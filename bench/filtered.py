"""Filtered queries on our store at one size: plain filtered HNSW against Qdrant's ACORN search
(`AcornSearchParams`), and exact search, per hnsw_ef, for near and far queries, on the synthetic
points of the speed suite (no filter, one family, a class + trait conjunction).
`python -m bench.filtered --points 1000000 --dim 128 [--int8] [--run NAME]`

ACORN widens the graph walk past neighbours the filter rejects; whether that buys recall cheaper than
a wider `hnsw_ef` is what this measures. Results: `bench/results/<run>/filtered.{json,md}`.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from bench.results import BenchRun, table
from bench.speed import built, exact_top, filters, split_queries, synthetic

ACORN_MAX_SELECTIVITY = 0.4  # Qdrant's default: ACORN only where the filter keeps at most 40% of points


def measure(points: int, dim: int, int8: bool, n_queries: int = 100, efs: tuple[int, ...] | None = None,
            log: Any = print) -> dict[str, Any]:
    import qdrant_edge as qe

    from indexer.store.config import Layout
    from indexer.store.edge import RESCORE, EdgeStore, _filter
    from indexer.store.interface import unit

    efs = efs or ((512, 1024, 2048, 3072, 4096) if points >= 1_000_000 else (128, 256, 512, 1024, 2048))
    s, near = split_queries(synthetic(points + n_queries, dim, 0), n_queries)
    far = synthetic(n_queries, dim, 1).vectors
    root = Path(tempfile.mkdtemp(prefix="vita-filtered-"))
    rows: list[dict[str, Any]] = []
    try:
        store = EdgeStore(root, Layout(on_disk=int8, int8=int8))
        build_s = built(store, "c", s)
        log(f"filtered: built {points} points in {build_s} s")
        shard = store._shard("c")  # the engine's own query: ACORN is a search parameter our store does not set

        def run(q: np.ndarray, flt: Any, truth: list[set[int]], params: Any) -> tuple[float, float, float]:
            lat, rec = [], []
            for i, v in enumerate(q):
                req = qe.QueryRequest(limit=10, query=qe.Query.Nearest(unit(v)), filter=_filter(flt),
                                      with_payload=False, with_vector=False, params=params)
                t = time.perf_counter()
                hits = shard.query(req)
                lat.append((time.perf_counter() - t) * 1000)
                got = {uuid.UUID(str(h.id)).int - 1 for h in hits}
                rec.append(len(got & truth[i]) / max(1, min(10, len(truth[i]))))
            p50, p99 = np.percentile(lat, [50, 99])
            return round(float(p50), 2), round(float(p99), 2), round(float(np.mean(rec)), 3)

        quant = RESCORE if int8 else None
        for label, (flt, mask) in filters(s).items():
            for kind, q in (("near", near), ("far", far)):
                truth = exact_top(s.vectors, mask, q)
                settings: list[tuple[str, bool, Any]] = []
                for ef in efs:
                    settings.append((str(ef), False, qe.SearchParams(hnsw_ef=ef, quantization=quant)))
                    if flt is not None:
                        acorn = qe.AcornSearchParams(enable=True, max_selectivity=ACORN_MAX_SELECTIVITY)
                        settings.append((str(ef), True, qe.SearchParams(hnsw_ef=ef, quantization=quant, acorn=acorn)))
                settings.append(("exact", False, qe.SearchParams(exact=True, quantization=quant)))
                for ef_label, acorn_on, params in settings:
                    p50, p99, recall = run(q, flt, truth, params)
                    rows.append({"filter": label, "queries": kind, "selectivity": round(float(mask.mean()), 4),
                                 "hnsw_ef": ef_label, "acorn": acorn_on, "p50_ms": p50, "p99_ms": p99,
                                 "recall_at_10": recall})
                    log(f"filtered: {rows[-1]}")
        store.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {"points": points, "dim": dim, "int8": int8, "queries": n_queries, "build_s": build_s, "rows": rows}


def markdown(data: dict[str, Any]) -> str:
    head = (f"Filtered queries, {data['points']:,} synthetic {data['dim']}-d points"
            f"{' (int8 copy + rescore)' if data['int8'] else ''}, {data['queries']} queries per set, one at a time "
            f"(`python -m bench.filtered`; build {data['build_s']} s):")
    rows = [[r["filter"], r["queries"], f"{r['selectivity']:.1%}", r["hnsw_ef"], "ACORN" if r["acorn"] else "plain",
             r["p50_ms"], r["p99_ms"], r["recall_at_10"]] for r in data["rows"]]
    return "\n".join([head, "", table(["filter", "queries", "selectivity", "hnsw_ef", "search", "p50 ms", "p99 ms",
                                       "recall@10"], rows)])


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--int8", action="store_true")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--run", default="filtered")
    args = ap.parse_args()
    data = measure(args.points, args.dim, args.int8, args.queries)
    md = markdown(data)
    BenchRun(name=args.run, latest=False).write("filtered", data, md)
    print(md)


if __name__ == "__main__":
    main()
