"""The Celery app, made by `make_app` from a `WorkerConfig` (built from the settings at the edge):

- embedded default (no server): kombu's filesystem broker and Celery's filesystem result
  backend under the data directory (a result is one small file: checking one is a stat, where
  the SQLite backend cost a database session per check); `vita index` starts and stops its own worker processes;
- production: `VITA_BROKER_URL=redis://...` (and `VITA_RESULT_BACKEND`, default the same Redis).

Tasks are acknowledged late and rejected (requeued) when their worker process dies, so a batch
whose worker is killed is delivered again; point ids are deterministic, so nothing doubles.
"""

from __future__ import annotations

import os

from celery import Celery, uuid
from celery.backends.filesystem import FilesystemBackend
from celery.signals import worker_process_init
from kombu.utils.encoding import ensure_bytes

from workers.config import BrokerConfig, WorkerConfig


def broker_urls(cfg: BrokerConfig, create_dirs: bool = True) -> tuple[str, str, dict[str, object]]:
    """(broker, result backend, transport options); creates the filesystem broker's folders if asked."""
    if cfg.url:
        backend = cfg.result_backend or cfg.url
        options: dict[str, object] = {"visibility_timeout": 3600}
        return cfg.url, backend, options
    root = cfg.folder
    queue, control, results = root / "queue", root / "control", root / "results"
    for d in (queue, control, results) if create_dirs else ():
        d.mkdir(parents=True, exist_ok=True)
    backend = cfg.result_backend or f"{AtomicFileBackend.__module__}.{AtomicFileBackend.__name__}+file://{results}"
    # data_folder_in must equal data_folder_out (measured: otherwise nothing is delivered)
    return "filesystem://", backend, {"data_folder_in": str(queue), "data_folder_out": str(queue),
                                      "control_folder": str(control), "polling_interval": 0.02}


class AtomicFileBackend(FilesystemBackend):
    """Celery's filesystem result backend, except that a result file appears whole (written aside,
    then renamed): the coordinator polling for it never reads half a result."""

    def set(self, key: bytes, value: object) -> None:
        path = self._filename(key)
        tmp = path + b".part-" + uuid().encode()
        with open(tmp, "wb") as fh:
            fh.write(ensure_bytes(value))
        os.replace(tmp, path)


def make_app(cfg: WorkerConfig, create_dirs: bool = True) -> Celery:
    """A Celery app for this configuration; its tasks find the catalog and store through `app.conf.vita_worker`."""
    broker, backend, options = broker_urls(cfg.broker, create_dirs)
    app = Celery("vita", broker=broker, backend=backend, include=["workers.tasks"])
    app.conf.update(
        broker_transport_options=options,
        broker_connection_retry_on_startup=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # each pool process holds its next batch while it runs one: with one, the next was fetched only
        # after the ack, and the process sat idle 15 ms of every 300 ms batch (measured, 1 worker, tiny);
        # a held batch whose worker is killed is unacked, so it is delivered again (or re-sent on a stall)
        worker_prefetch_multiplier=2,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=24 * 3600,
        worker_hijack_root_logger=False,
        database_short_lived_sessions=True,
        vita_worker=cfg,
    )
    return app


@worker_process_init.connect
def _model_threads(**_: object) -> None:
    """Each pool process gets its share of the cores for the model's math (`WorkerConfig.model_threads`,
    default one: N processes on N cores) instead of every process fighting over all of them."""
    import torch
    from celery import current_app

    cfg = getattr(current_app.conf, "vita_worker", None)
    torch.set_num_threads(max(1, (cfg.model_threads if cfg else None) or 1))


def stop_with(pid: int, every_s: float = 2.0) -> None:
    """Shut this worker down (warm: the task in hand finishes) once process `pid` is gone: workers
    that `vita index` started must not outlive a coordinator killed with SIGKILL. Runs in the main
    worker process (a daemon thread; forked pool processes do not inherit it)."""
    import signal
    import threading
    import time

    def watch() -> None:
        while True:
            time.sleep(every_s)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os.kill(os.getpid(), signal.SIGTERM)
                return
            except PermissionError:  # alive, another user's
                continue

    threading.Thread(target=watch, name="vita-coordinator-watch", daemon=True).start()
