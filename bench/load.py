"""`vita api` under load: N concurrent clients for S seconds of mixed requests (text, filtered text,
photo upload, sound upload, browse) against the embedded store, all on loopback.
`python -m bench.load --data-dir DIR [--clients 8] [--seconds 60] [--run load] [--label L]`

It starts `vita api` on DIR (an indexed data dir, e.g. after `make demo`) in a subprocess, waits
until it is ready, then each client thread sends requests back to back, drawn from a fixed mix with
a seeded generator; bounded in time and in count. Results: requests/s, p50/p95/p99 per kind and
errors in `bench/results/<run>/load.{json,md}` and a latency plot `load.png`; `latest` is left alone.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import requests

from bench.results import BenchRun, pyplot, table
from workers.processes import stop_group

MIX = (("text", 0.35), ("filtered text", 0.2), ("photo upload", 0.15), ("sound upload", 0.15), ("browse", 0.15))
MIXES = {"mixed": MIX, "text": (("text", 1.0),)}
TEXTS = ("nocturnal Hylidae calls", "owl", "Strigidae photos", "Gray Treefrog", "crickets chirping at night",
         "wetland birds", "Canidae howls", "diurnal songbirds of forests", "Ranidae", "bats")
FILTERS = ({"class": ["Aves"]}, {"family": ["Hylidae"]}, {"traits": ["activity=nocturnal"]},
           {"class": ["Amphibia"], "traits": ["habitat=wetland"]}, {"license": ["cc0", "cc-by"]})
MAX_REQUESTS = 200_000
MEMORY_EVERY_S = 5.0  # how often the server's resident memory is sampled


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _samples(data_dir: Path, n: int = 20) -> dict[str, list[Path]]:
    """A few photos and sounds of the catalog, and its families, to send."""
    import sqlite3

    with sqlite3.connect(data_dir / "catalog.sqlite") as db:
        rows = db.execute("SELECT kind, path FROM media WHERE status != 'error' ORDER BY id").fetchall()
        families = [r[0] for r in db.execute("SELECT DISTINCT family_name FROM taxa WHERE family_name IS NOT NULL")]
    rng = random.Random(0)
    out: dict[str, list[Any]] = {"image": [], "audio": []}
    for kind in out:
        paths = [Path(p) for k, p in rows if k == kind and Path(p).is_file()]
        out[kind] = rng.sample(paths, min(n, len(paths)))
    out["family"] = families
    return out


def _request(s: requests.Session, url: str, kind: str, rng: random.Random, samples: dict[str, list[Any]]) -> int:
    if kind == "text":
        r = s.post(url + "/search", json={"text": rng.choice(TEXTS), "k": 12, "group_by": "species"}, timeout=60)
    elif kind == "filtered text":
        r = s.post(url + "/search", json={"text": rng.choice(TEXTS), "k": 12, "filters": rng.choice(FILTERS)},
                   timeout=60)
    elif kind in ("photo upload", "sound upload"):
        path = rng.choice(samples["image" if kind == "photo upload" else "audio"])
        with path.open("rb") as fh:
            r = s.post(url + "/search/upload", files={"file": (path.name, fh)},
                       data={"options": json.dumps({"k": 12, "group_by": "species"})}, timeout=60)
    else:
        r = s.post(url + "/browse", json={"filters": {"family": [rng.choice(samples["family"])]},
                                          "page": rng.randrange(3), "per_page": 12}, timeout=60)
    return r.status_code


def load(data_dir: Path, clients: int = 8, seconds: float = 60.0, seed: int = 0, mix: str = "mixed",
         parallel: int | None = None, text_processes: int | None = None) -> dict[str, Any]:
    """`parallel`: the server's searches at once (VITA_API_PARALLEL); `text_processes`: processes for
    text queries' forward (VITA_API_TEXT_PROCESSES); None: the server's default."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "VITA_DATA_DIR": str(data_dir), **({"VITA_API_PARALLEL": str(parallel)} if parallel else {}),
           **({"VITA_API_TEXT_PROCESSES": str(text_processes)} if text_processes is not None else {})}
    proc = subprocess.Popen([sys.executable, "-m", "vita.cli", "api", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        t_start = time.monotonic()
        while not _ready(url):
            if proc.poll() is not None or time.monotonic() - t_start > 300:
                raise RuntimeError(f"vita api did not get ready: {proc.stdout.read() if proc.stdout else ''}")
            time.sleep(0.5)
        ready_s = time.monotonic() - t_start
        samples = _samples(data_dir)
        records: list[tuple[str, float, int, float]] = []  # (kind, seconds, status, started at)
        lock = threading.Lock()
        t0 = time.monotonic()

        def client(i: int) -> None:
            rng = random.Random(seed * 1000 + i)
            kinds, weights = [k for k, _ in MIXES[mix]], [w for _, w in MIXES[mix]]
            with requests.Session() as s:
                while time.monotonic() - t0 < seconds and len(records) < MAX_REQUESTS:
                    kind = rng.choices(kinds, weights)[0]
                    t = time.monotonic()
                    try:
                        status = _request(s, url, kind, rng, samples)
                    except requests.RequestException:
                        status = 0
                    with lock:
                        records.append((kind, time.monotonic() - t, status, t - t0))

        memory: list[tuple[float, float]] = []  # (seconds in, the server's resident MiB)
        done = threading.Event()

        def sample() -> None:
            import psutil

            server = psutil.Process(proc.pid)
            while not done.is_set():
                try:
                    memory.append((time.monotonic() - t0, server.memory_info().rss / 2**20))
                except psutil.Error:
                    return
                done.wait(MEMORY_EVERY_S)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        done.set()
        sampler.join(10)
    finally:
        stop_group(proc)
    return {"clients": clients, "seconds": seconds, "wall_s": wall, "ready_s": ready_s, "seed": seed, "mix": mix,
            "parallel": parallel, "text_processes": text_processes, "load_1min": os.getloadavg()[0], "records": records,
            "summary": summarise(records, wall), "memory_mib": [(round(t, 1), round(m, 1)) for t, m in memory]}


def _ready(url: str) -> bool:
    try:
        return requests.get(url + "/ready", timeout=2).ok
    except requests.RequestException:
        return False


def summarise(records: list[tuple[str, float, int, float]], wall: float) -> dict[str, dict[str, float]]:
    out = {}
    for kind in [k for k, _ in MIX] + ["all"]:
        rows = [r for r in records if kind in ("all", r[0])]
        if not rows:
            continue
        lat = np.array([r[1] for r in rows]) * 1000
        out[kind] = {"requests": len(rows), "per_s": len(rows) / wall, "errors": sum(r[2] != 200 for r in rows),
                     "p50_ms": float(np.percentile(lat, 50)), "p95_ms": float(np.percentile(lat, 95)),
                     "p99_ms": float(np.percentile(lat, 99)), "max_ms": float(lat.max())}
    return out


def memory_line(samples: list[tuple[float, float]]) -> str:
    """The server's resident memory over the run: after the first quarter (warm), at the end, the
    highest, and the growth over the second half (flat: a few MiB)."""
    if len(samples) < 4:
        return ""
    warm = samples[len(samples) // 4][1]
    half = samples[len(samples) // 2][1]
    end, top = samples[-1][1], max(m for _, m in samples)
    return (f"Server memory (resident, sampled every {MEMORY_EVERY_S:.0f} s): {warm:.0f} MiB after the first quarter, "
            f"{end:.0f} MiB at the end, {top:.0f} MiB at most; {end - half:+.0f} MiB over the second half.")


def markdown(data: dict[str, Any], label: str) -> str:
    rows = [[k, v["requests"], f"{v['per_s']:.1f}", v["errors"], f"{v['p50_ms']:.0f}", f"{v['p95_ms']:.0f}",
             f"{v['p99_ms']:.0f}", f"{v['max_ms']:.0f}"] for k, v in data["summary"].items()]
    slots = f", {data['parallel']} search(es) at once" if data.get("parallel") else ""
    if data.get("text_processes") is not None:
        slots += f", {data['text_processes']} text forward process(es)"
    return "\n".join([
        f"`vita api` under load ({label or 'this run'}{slots}; {data.get('mix', 'mixed')} requests): "
        f"{data['clients']} clients for {data['seconds']:.0f} s on loopback, "
        f"the embedded store; load average {data['load_1min']:.1f} at the end; API ready {data['ready_s']:.0f} s after "
        "start (`python -m bench.load`):", "",
        table(["requests", "count", "per s", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"], rows),
        "", memory_line(data.get("memory_mib", []))])


def plot(data: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for kind, _ in MIX:
        lat = np.sort([r[1] * 1000 for r in data["records"] if r[0] == kind])
        if len(lat):
            ax.plot(lat, np.arange(1, len(lat) + 1) / len(lat), label=kind)
    ax.set_xscale("log")
    ax.set_xlabel("latency, ms (log)")
    ax.set_ylabel("share of requests")
    ax.axvline(1000, color="grey", ls=":", lw=1)
    ax.set_title(f"vita api, {data['clients']} clients, {data['seconds']:.0f} s (synthetic demo world)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=Path("vita-data"))
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--run", default="load")
    ap.add_argument("--label", default="")
    ap.add_argument("--mix", choices=sorted(MIXES), default="mixed", help="mixed requests, or text searches only")
    ap.add_argument("--parallel", default="", help="comma-separated searches at once, one run each "
                                                   "(1 is one search at a time); default: the server's")
    ap.add_argument("--text-processes", default="", help="comma-separated processes for text queries' forward, "
                                                         "one run each with every --parallel; default: the server's")
    args = ap.parse_args()
    run = BenchRun(name=args.run, latest=False)
    ap_slots: list[int | None] = [int(v) for v in args.parallel.split(",") if v.strip()] or [None]
    forwards: list[int | None] = [int(v) for v in args.text_processes.split(",") if v.strip()] or [None]
    runs = [load(args.data_dir, args.clients, args.seconds, mix=args.mix, parallel=p, text_processes=t)
            for p in ap_slots for t in forwards]
    parts = [markdown(data, args.label) for data in runs]
    if len(runs) > 1:
        base = runs[0]["summary"]["all"]["per_s"]
        parts.append("Requests per second against the first run, same machine, one invocation: " + ", ".join(
            f"{r['parallel']} at once, {r['text_processes']} text processes: {r['summary']['all']['per_s'] / base:.2f}x"
            for r in runs))
    md = "\n\n".join(parts)
    run.write("load", {"runs": [{k: v for k, v in d.items() if k != "records"} for d in runs]}, md)
    plot(runs[-1], run.png("load"))
    print(md)


if __name__ == "__main__":
    main()
