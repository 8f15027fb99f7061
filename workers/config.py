"""What the workers and `vita index` are configured with: small frozen records built at the edge.

`Settings` (in `vita/`) builds these; nothing in `workers/` reads the environment for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from catalog.decode import Limits
from indexer.store import StoreConfig


@dataclass(frozen=True)
class BrokerConfig:
    """Celery's broker and result backend; with no URL, kombu's filesystem broker under `folder`."""

    folder: Path
    url: str | None = None
    result_backend: str | None = None


@dataclass(frozen=True)
class WorkerConfig:
    """What a worker process opens once: the catalog (with its bad-input limits), the store, the broker."""

    database_url: str
    store: StoreConfig
    broker: BrokerConfig
    limits: Limits = field(default_factory=Limits)
    #: Per worker process: the model's math threads and the threads decoding media ahead of it
    #: (None: `thread_plan` from the cores and the processes sharing them)
    model_threads: int | None = None
    decode_threads: int | None = None


def thread_plan(cores: int, processes: int, model_threads: int | None = None,
                decode_threads: int | None = None) -> tuple[int, int]:
    """(model threads, decode threads) for each of `processes` worker processes on `cores` cores.

    The model gets the process's share of the cores (measured on 2 cores, one process: 2 model
    threads beat 1, with decoding in the same process); decoding gets at least 2 threads, so a file
    is decoded while the model works on the last even with one core per process (soundfile, soxr
    and Pillow release the GIL), and the whole share when it is larger (on a GPU the CPU's work is
    mostly decoding).
    """
    share = max(1, cores // max(1, processes))
    return (model_threads or share, decode_threads or max(2, share))


@dataclass(frozen=True)
class IndexConfig:
    """What `vita index` needs besides the catalog and the model.

    `worker_app` is the module `celery -A` loads in the worker processes this run starts (the
    worker start-up, an edge that reads its own settings); `worker_env` is the environment that
    gives those processes this run's settings.
    """

    corpus: str
    worker: WorkerConfig
    log_dir: Path
    workers: int = 2
    worker_app: str = "vita.worker"
    worker_env: Mapping[str, str] = field(default_factory=dict)
