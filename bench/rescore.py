"""How many of an int8 copy's candidates to re-rank with the float32 originals
(`indexer.store.config.RESCORE_OVERSAMPLING`): one build of our store with the int8 copy, then
"near" and "far" queries (the ann suite's vectors and queries) at each `hnsw_ef` and oversampling.

`python -m bench.rescore [--points 1000000] [--efs 3072,4096] [--oversampling 2,4,8]`; results in
`bench/results/<run>/rescore.{json,md}`.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import numpy as np


def rescore_bench(n: int, dim: int = 128, n_queries: int = 100, efs: tuple[int, ...] = (3072, 4096),
                  oversampling: tuple[float, ...] = (2.0, 4.0, 8.0), seed: int = 0) -> dict[str, Any]:
    import qdrant_edge as qe

    from bench.ann import _measure
    from bench.speed import built, exact_top, split_queries, synthetic
    from indexer.store.config import Layout
    from indexer.store.edge import EdgeStore
    from indexer.store.interface import unit

    s, near = split_queries(synthetic(n + n_queries, dim, seed), n_queries)
    sets = {"near": near, "far": synthetic(n_queries, dim, seed + 1).vectors}
    everything = np.ones(len(s.vectors), bool)
    truth = {kind: exact_top(s.vectors, everything, q) for kind, q in sets.items()}
    root = Path(tempfile.mkdtemp(prefix="vita-rescore-"))
    rows: list[dict[str, Any]] = []
    try:
        store = EdgeStore(root, Layout(on_disk=True, int8=True))
        build_s = built(store, "c", s)
        shard = store._shard("c")  # the store's query fixes the oversampling: ask the shard directly
        for ef in efs:
            for over in oversampling:
                params = qe.SearchParams(hnsw_ef=ef, exact=False,
                                         quantization=qe.QuantizationSearchParams(rescore=True, oversampling=over))

                def top(v: np.ndarray, _flt: Any, _mask: np.ndarray, p: Any = params) -> list[int]:
                    req = qe.QueryRequest(limit=10, query=qe.Query.Nearest(unit(v)), filter=None, with_payload=True,
                                          with_vector=False, params=p)
                    return [uuid.UUID(str(h.id)).int - 1 for h in shard.query(req)]

                for kind, q in sets.items():  # timed and scored as the ann suite does
                    p50, p95, recall = _measure(top, q, None, everything, truth[kind])
                    rows.append({"ef": ef, "oversampling": over, "queries": kind, "recall_at_10": recall,
                                 "p50_ms": p50, "p95_ms": p95})
        store.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {"points": n, "dim": dim, "queries": n_queries, "build_s": build_s, "rows": rows}


def markdown(data: dict[str, Any]) -> str:
    from bench.results import table

    return "\n".join([
        f"**Re-ranking an int8 copy's candidates** ({data['points']:,} synthetic {data['dim']}-d points, vectors on "
        f"disk with an int8 copy, HNSW m 32 / ef_construct 200, built in {data['build_s']} s; {data['queries']} "
        "queries per set, one at a time; recall@10 against exact search):", "",
        table(["hnsw_ef", "oversampling", "queries", "recall@10", "p50 ms", "p95 ms"],
              [[r["ef"], r["oversampling"], r["queries"], r["recall_at_10"], r["p50_ms"], r["p95_ms"]]
               for r in data["rows"]])])


def main() -> None:
    from bench.results import BenchRun

    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--efs", default="3072,4096")
    ap.add_argument("--oversampling", default="2,4,8")
    ap.add_argument("--run", default="ann-1m-rescore")
    args = ap.parse_args()
    data = rescore_bench(args.points, args.dim, args.queries, tuple(int(x) for x in args.efs.split(",")),
                         tuple(float(x) for x in args.oversampling.split(",")))
    md = markdown(data)
    BenchRun(Path("bench/results"), args.run, latest=False).write("rescore", data, md)
    print(md)


if __name__ == "__main__":
    main()
