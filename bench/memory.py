"""Resident memory per million points of the embedded store, at the models' vector sizes (tiny 128,
CLAP-sized 512, BioVITA 768), with the vectors in RAM or on disk with an int8 copy in RAM:
`python -m bench.memory [--dims 128,512,768] [--sizes 50000,150000] [--layouts ram,int8-on-disk]`.

Each size is filled with synthetic vectors (taxonomy-like structure, the speed suite's payloads),
optimized (HNSW), and served by a fresh process; the marginal resident size per million points is
the slope between the two sizes (`bench.speed.rss_per_million`), beside what the raw float32
vectors alone take. Results: `bench/results/<run>/memory.{json,md}`; `latest` is left alone.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.results import BenchRun, table
from bench.speed import query_bench, rss_per_million

GOAL_512_MIB = 1.5 * 1024  # the goal: <= 1.5 GB per million 512-d points


LAYOUTS = {"ram": (False, False), "int8-on-disk": (True, True)}


def memory(dims: list[int], sizes: list[int], layouts: list[str], queries: int = 50) -> dict[str, Any]:
    from indexer.store import Layout
    from indexer.store.edge import EdgeStore

    out: dict[str, Any] = {"sizes": sizes, "rows": []}
    for layout_name, dim in ((lay, d) for lay in layouts for d in dims):
        layout = Layout(*LAYOUTS[layout_name])

        def say(line: str, d: int = dim) -> None:
            print(f"{d}-d: {line}", flush=True)

        res = query_bench(lambda root, lay=layout: EdgeStore(root, lay), sizes, dim, queries, memory=True,  # type: ignore[misc]
                          progress=say)
        far = [q for q in res["queries"] if q["optimized"] and q["points"] == max(sizes) and q["filter"] == "none"]
        out["rows"].append({"layout": layout_name, "dim": dim, "builds": res["builds"],
                            "rss_mib_per_million": rss_per_million(res["builds"]),
                            "raw_vectors_mib_per_million": round(dim * 4 * 1e6 / 2**20, 1),
                            "hnsw": {q["queries_kind"]: {"p50_ms": q["p50_ms"], "recall_at_10": q["recall_at_10"]}
                                     for q in far}})
    return out


def markdown(data: dict[str, Any]) -> str:
    rows = []
    for r in data["rows"]:
        b = {x["points"]: x for x in r["builds"]}
        h = r.get("hnsw", {})
        rows.append([r.get("layout", "ram"), r["dim"], *(f"{b[n]['rss_above_empty_mib']:.0f}" for n in data["sizes"]),
                     *(f"{b[n]['disk_mib']:.0f}" for n in data["sizes"][-1:]),
                     f"{r['rss_mib_per_million']:.0f}", f"{r['raw_vectors_mib_per_million']:.0f}",
                     *(f"{h[k]['recall_at_10']:.3f} / {h[k]['p50_ms']:.2f}" if k in h else "–" for k in ("near", "far"))])
    sizes = [f"{n:,}" for n in data["sizes"]]
    return "\n".join([
        "Resident memory of a fresh process serving an optimized (HNSW) collection of the embedded store, above "
        "one holding an empty store (`python -m bench.memory`; synthetic vectors):", "",
        table(["layout", "dim", *(f"RSS MiB at {n}" for n in sizes), f"disk MiB at {sizes[-1]}", "MiB per million (slope)",
               "raw float32 vectors, MiB per million", f"near: recall@10 / p50 ms at {sizes[-1]}",
               f"far: recall@10 / p50 ms at {sizes[-1]}"], rows)])


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--dims", default="128,512,768")
    ap.add_argument("--sizes", default="50000,150000")
    ap.add_argument("--layouts", default="ram,int8-on-disk", help=f"of {', '.join(LAYOUTS)}")
    ap.add_argument("--run", default="memory")
    ap.add_argument("--keep", action="store_true", help="keep the run's other rows (same sizes), replace these")
    args = ap.parse_args()
    data = memory([int(x) for x in args.dims.split(",")], [int(x) for x in args.sizes.split(",")],
                  args.layouts.split(","))
    run = BenchRun(Path("bench/results"), args.run, latest=False)
    old = run.dir / "memory.json"
    if args.keep and old.exists():
        before = json.loads(old.read_text())
        mine = {(r.get("layout", "ram"), r["dim"]) for r in data["rows"]}
        if before["sizes"] == data["sizes"]:
            data["rows"] = [r for r in before["rows"] if (r.get("layout", "ram"), r["dim"]) not in mine] + data["rows"]
    md = markdown(data)
    run.write("memory", data, md)
    print(md)


if __name__ == "__main__":
    main()
