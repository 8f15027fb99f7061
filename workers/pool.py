"""The Celery worker processes an index run starts for itself (the embedded default: a filesystem
broker, no server), and stops at the end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

from catalog.errors import VitaError
from workers.config import IndexConfig, thread_plan
from workers.processes import stop_group


class WorkerError(VitaError, RuntimeError):
    """The index workers could not be kept running (their log says why)."""


class WorkerPool:
    """Celery worker processes this run starts for itself, and stops at the end."""

    def __init__(self, cfg: IndexConfig, concurrency: int) -> None:
        self.cfg, self.concurrency = cfg, concurrency
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = cfg.log_dir / "index-worker.log"

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        model, decode = thread_plan(os.cpu_count() or 1, self.concurrency, self.cfg.worker.model_threads,
                                    self.cfg.worker.decode_threads)
        env = {**os.environ, **self.cfg.worker_env, "VITA_INDEX_COORDINATOR_PID": str(os.getpid()),
               "VITA_WORKER_THREADS": str(model), "VITA_DECODE_THREADS": str(decode)}
        cmd = [sys.executable, "-m", "celery", "-A", self.cfg.worker_app, "worker", "--pool", "prefork",
               "--concurrency", str(self.concurrency), "--loglevel", "WARNING", "--without-gossip",
               "--without-mingle", "--hostname", f"vita-index-{os.getpid()}@%h"]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 30.0, wait: bool = True) -> None:
        """Warm shutdown (the task in hand finishes), killed after `timeout` (0: at once). With
        `wait=False` the exit happens beside the caller's next steps: a Celery worker takes 5-7 s to
        notice and wind down, a quarter of indexing the default demo world, for nothing once every
        batch is back."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        def reap() -> None:
            stop_group(proc, signal.SIGTERM, timeout, whole_group=False)  # the worker stops its own children

        if wait:
            reap()
        else:
            threading.Thread(target=reap, name="vita-worker-reaper", daemon=True).start()
