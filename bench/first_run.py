"""How long a newcomer waits: `vita demo` in a fresh data dir, timed to its first search result
and to a UI that answers HTTP. `python -m bench.first_run [--run NAME] [--data-dir DIR]`.

It runs the real command in a subprocess (the shipped checkpoint, the default world, its own
worker processes) and reads its output as it comes: the ingest, index and search lines mark the
phases. Results go to `bench/results/<run>/first-run.{json,md}`; `latest` is left alone.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.results import BenchRun, table
from workers.processes import stop_group

#: output lines that mark where the run is: (phase, the line starts with)
MARKS = (("ingest done", "ingest demo ("), ("index started", "─── indexing"), ("index done", "index vita-"),
         ("first search result", "understood:"))


def _ui_up(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def first_run(data_dir: Path, port: int = 8501, timeout_s: float = 1800.0) -> dict[str, Any]:
    shutil.rmtree(data_dir, ignore_errors=True)
    env = {**os.environ, "VITA_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    vita = str(Path(sys.executable).with_name("vita"))
    t0 = time.monotonic()
    proc = subprocess.Popen([vita, "demo"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    seen: dict[str, float] = {}
    log: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.append(line)
            text = line.strip().lstrip("─ ")
            for phase, start in MARKS:
                if phase not in seen and (line.strip().startswith(start) or text.startswith(start.lstrip("─ "))):
                    seen[phase] = round(time.monotonic() - t0, 1)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        while time.monotonic() - t0 < timeout_s and proc.poll() is None:
            if "first search result" in seen and _ui_up(port):
                seen["UI answers"] = round(time.monotonic() - t0, 1)
                break
            time.sleep(0.5)
    finally:
        stop_group(proc, signal.SIGINT)
    if "UI answers" not in seen:
        raise RuntimeError("vita demo did not reach a served UI:\n" + "".join(log[-40:]))
    return {"phases_s": seen, "load_1min": os.getloadavg()[0], "log_tail": log[-30:]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default="first-run")
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/vita-first-run"))
    ap.add_argument("--label", default="", help="e.g. 'quiet' or 'under load' (a row per label)")
    args = ap.parse_args()
    result = first_run(args.data_dir)
    run = BenchRun(name=args.run, latest=False)
    path = run.dir / "first-run.json"
    import json

    rows = json.loads(path.read_text())["rows"] if path.exists() else []
    rows = [r for r in rows if r["label"] != args.label] + [{"label": args.label, **result}]
    md = ["`vita demo` from an empty data dir (after `make setup`), seconds since start "
          "(`python -m bench.first_run --label L`; the default demo world, synthetic media, the shipped tiny "
          "checkpoint):", "",
          table(["run", "load (1 min)", *[p for p, _ in MARKS], "UI answers"],
                [[r["label"], round(r["load_1min"], 1), *[r["phases_s"].get(p, "–") for p, _ in MARKS],
                  r["phases_s"].get("UI answers", "–")] for r in rows])]
    run.write("first-run", {"rows": rows}, "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
