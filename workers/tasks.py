"""Celery tasks: a batch of media ids -> points (and, with a Qdrant server, into the store).

The tasks are shared (`shared_task`): they run on whichever app `workers.app.make_app` made,
and find the catalog and store through its `vita_worker` configuration. The model, the
catalog connection and the store are opened once per worker process. Transient errors
(database or network) retry with exponential backoff; a bad file is an outcome in the result,
recorded by the commit, and never fails its batch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from celery import shared_task
from sqlalchemy.exc import OperationalError

from catalog.facade import Catalog
from indexer.build import commit_batch, embed_media
from indexer.model_ref import load_model
from indexer.store import VectorStore, open_store
from workers.config import WorkerConfig
from workers.wire import BatchReply, encode_matrix

TRANSIENT = (OperationalError, ConnectionError, TimeoutError)


@dataclass
class _Opened:
    """What this worker process opened for its configuration (once)."""

    cfg: WorkerConfig
    catalog: Catalog
    store: VectorStore | None = None


_OPENED: list[_Opened] = []


def _opened(task: Any) -> _Opened:
    cfg: WorkerConfig = task.app.conf.vita_worker
    if not _OPENED or _OPENED[0].cfg != cfg:
        _OPENED[:] = [_Opened(cfg, Catalog(cfg.database_url, limits=cfg.limits))]
    return _OPENED[0]


def _store(opened: _Opened) -> VectorStore:
    if opened.store is None:
        opened.store = open_store(opened.cfg.store)
    return opened.store


def run_batch(media_ids: list[int], model_ref: str, preset: str, model_key: str, collection: str,
              commit: bool, catalog: Catalog, store: VectorStore | None = None,
              decode_threads: int = 2) -> BatchReply:
    """The task's body, callable in-process (eager indexing, tests); `store` is needed to commit."""
    model = load_model(model_ref, preset)
    with catalog.sessions() as session:
        result = embed_media(session, model, model_key, media_ids, decode_threads)
        if commit:
            if store is None:
                raise ValueError("run_batch: commit=True needs a store")
            commit_batch(session, store, collection, result)
            result.timing["end"] = time.time()  # the worker's own commit is part of its batch
            return BatchReply.stored(result)
    return BatchReply.to_store(result)


#: Transient errors (the catalog database restarting, a network blip) retry at 2, 4, 8, 16, then every
#: 30 s, for about 5 minutes in all (no jitter: random delays near zero could spend every retry in seconds)
RETRY = {"autoretry_for": TRANSIENT, "retry_backoff": 2, "retry_backoff_max": 30, "retry_jitter": False,
         "max_retries": 12}


@shared_task(name="vita.embed_batch", bind=True, acks_late=True, reject_on_worker_lost=True, **RETRY)
def embed_batch(self: Any, media_ids: list[int], model_ref: str, preset: str, model_key: str,
                collection: str, commit: bool = False) -> dict[str, Any]:
    opened = _opened(self)
    return run_batch(media_ids, model_ref, preset, model_key, collection, commit, opened.catalog,
                     _store(opened) if commit else None, opened.cfg.decode_threads or 2).to_wire()


@shared_task(name="vita.embed_texts", acks_late=True, reject_on_worker_lost=True, **RETRY)
def embed_texts(texts: list[str], model_ref: str, preset: str) -> str:
    """Text prompts -> their vectors as one matrix (`workers.wire`; the taxa collection)."""
    return encode_matrix(load_model(model_ref, preset).embed_text(texts))


__all__ = ["embed_batch", "embed_texts", "run_batch"]
