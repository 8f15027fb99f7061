"""How long one `vita search` / `vita identify` takes from the shell: alone (imports, the model and
the index loaded each call) and with a `vita api` running on the same data directory (the CLI
sends the query to its warm model). `python -m bench.cli --data-dir DIR [--run NAME] [--repeat N]`

DIR is an indexed data directory (`make demo` leaves one in `vita-data`). Each command runs as a
fresh process, `--repeat` times; the median wall time is reported, with the ratio between the
two ways in the same run. Results: `bench/results/<run>/cli.{json,md}`.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.results import BenchRun, table
from workers.processes import stop_group

QUERIES = (("search", ["search", "owls", "-k", "10"]), ("identify", ["identify", "{photo}"]))


def _timed(args: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "vita.cli", *args], env=env, capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"vita {' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return time.perf_counter() - t0


def _photo(env: dict[str, str]) -> str:
    code = ("from sqlalchemy import select\nfrom catalog.tables import Media\nfrom vita.settings import Settings\n"
            "with Settings().open_catalog() as c, c.sessions() as s:\n"
            "    print(s.scalar(select(Media.path).where(Media.kind == 'image').order_by(Media.id)))\n")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip().splitlines()[-1]


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 600) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if proc.poll() is not None:
            raise RuntimeError("vita api exited before it was ready")
        try:
            with urllib.request.urlopen(url + "/ready", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("vita api was not ready in time")


def measure(data_dir: Path, repeat: int = 3, port: int = 8765) -> dict[str, Any]:
    env = {**os.environ, "VITA_DATA_DIR": str(data_dir.resolve())}
    photo = _photo(env)
    commands = {name: [a.replace("{photo}", photo) for a in args] for name, args in QUERIES}
    out: dict[str, Any] = {"repeat": repeat, "alone_s": {}, "via_api_s": {}}
    for name, args in commands.items():
        out["alone_s"][name] = [_timed(args, env) for _ in range(repeat)]
    proc = subprocess.Popen([sys.executable, "-m", "vita.cli", "api", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_ready(f"http://127.0.0.1:{port}", proc)
        for name, args in commands.items():
            _timed(args, env)  # the server's first query warms its caches
            out["via_api_s"][name] = [_timed(args, env) for _ in range(repeat)]
    finally:
        stop_group(proc, signal.SIGINT)
    out["load_1min"] = os.getloadavg()[0]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=Path("vita-data"))
    ap.add_argument("--run", default="cli")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    result = measure(args.data_dir, args.repeat)
    rows = []
    for name in result["alone_s"]:
        alone, warm = statistics.median(result["alone_s"][name]), statistics.median(result["via_api_s"][name])
        rows.append([f"vita {name}", f"{alone:.2f}", f"{warm:.2f}", f"{alone / warm:.1f}x"])
    md = [f"One CLI call, median of {args.repeat} fresh processes (`python -m bench.cli --data-dir DIR`; "
          f"{args.data_dir.name}, 1-min load {result['load_1min']:.1f}):", "",
          table(["command", "alone (s)", "with `vita api` running (s)", "ratio"], rows)]
    BenchRun(name=args.run, latest=False).write("cli", result, "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
