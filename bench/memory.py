"""Resident memory per million points of the embedded store, at the models' vector sizes (tiny 128,
CLAP-sized 512, BioVITA 768): `python -m bench.memory [--dims 128,512,768] [--sizes 50000,150000]`.

Each size is filled with synthetic vectors (taxonomy-like structure, the speed suite's payloads),
optimized (HNSW), and served by a fresh process; the marginal resident size per million points is
the slope between the two sizes (`bench.speed.rss_per_million`), beside what the raw float32
vectors alone take. Results: `bench/results/<run>/memory.{json,md}`; `latest` is left alone.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.results import BenchRun, table
from bench.speed import query_bench, rss_per_million

GOAL_512_MIB = 1.5 * 1024  # issue 18: <= 1.5 GB per million 512-d points


def memory(dims: list[int], sizes: list[int], queries: int = 20) -> dict[str, Any]:
    from indexer.store.edge import EdgeStore

    out: dict[str, Any] = {"sizes": sizes, "rows": []}
    for dim in dims:

        def say(line: str, d: int = dim) -> None:
            print(f"{d}-d: {line}", flush=True)

        res = query_bench(lambda root: EdgeStore(root), sizes, dim, queries, memory=True, progress=say)
        out["rows"].append({"dim": dim, "builds": res["builds"], "rss_mib_per_million": rss_per_million(res["builds"]),
                            "raw_vectors_mib_per_million": round(dim * 4 * 1e6 / 2**20, 1)})
    return out


def markdown(data: dict[str, Any]) -> str:
    rows = []
    for r in data["rows"]:
        b = {x["points"]: x for x in r["builds"]}
        rows.append([r["dim"], *(f"{b[n]['rss_above_empty_mib']:.0f}" for n in data["sizes"]),
                     *(f"{b[n]['disk_mib']:.0f}" for n in data["sizes"][-1:]),
                     f"{r['rss_mib_per_million']:.0f}", f"{r['raw_vectors_mib_per_million']:.0f}"])
    sizes = [f"{n:,}" for n in data["sizes"]]
    return "\n".join([
        "Resident memory of a fresh process serving an optimized (HNSW) collection of the embedded store, above "
        "one holding an empty store (`python -m bench.memory`; synthetic vectors):", "",
        table(["dim", *(f"RSS MiB at {n}" for n in sizes), f"disk MiB at {sizes[-1]}", "MiB per million (slope)",
               "raw float32 vectors, MiB per million"], rows)])


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--dims", default="128,512,768")
    ap.add_argument("--sizes", default="50000,150000")
    ap.add_argument("--run", default="memory")
    args = ap.parse_args()
    data = memory([int(x) for x in args.dims.split(",")], [int(x) for x in args.sizes.split(",")])
    md = markdown(data)
    BenchRun(Path("bench/results"), args.run, latest=False).write("memory", data, md)
    print(md)


if __name__ == "__main__":
    main()
