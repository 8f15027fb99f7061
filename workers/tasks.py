"""Celery tasks: a batch of media ids -> points (and, with a Qdrant server, into the store).

The model, the catalog connection and the store are opened once per worker process.
Transient errors (database or network) retry with exponential backoff; a bad file is an
outcome in the result, recorded by the commit, and never fails its batch.
"""

from __future__ import annotations

import base64
from functools import lru_cache
from typing import Any

import numpy as np
from sqlalchemy.exc import OperationalError

from catalog.api import Catalog
from indexer.build import BatchResult, commit_batch, embed_media
from indexer.models import load_model
from indexer.store import VectorStore, open_store
from vita.settings import get_settings
from workers.app import app

TRANSIENT = (OperationalError, ConnectionError, TimeoutError)


@lru_cache(maxsize=1)
def _catalog() -> Catalog:
    return Catalog(get_settings())


@lru_cache(maxsize=1)
def _store() -> VectorStore:
    return open_store(get_settings())


def run_batch(media_ids: list[int], model_ref: str, preset: str, model_key: str, collection: str,
              commit: bool, catalog: Catalog | None = None, store: VectorStore | None = None) -> dict[str, Any]:
    """The task's body, callable in-process (eager indexing, tests)."""
    cat = catalog or _catalog()
    model = load_model(model_ref, preset)
    with cat.sessions() as session:
        result = embed_media(session, model, model_key, media_ids)
        if commit:
            commit_batch(session, store or _store(), collection, result)
            return {"committed": True, "outcomes": [o.__dict__ for o in result.outcomes],
                    "points": len(result.points)}
    return {"committed": False, **result.to_wire()}


@app.task(name="vita.embed_batch", bind=True, acks_late=True, reject_on_worker_lost=True,
          autoretry_for=TRANSIENT, retry_backoff=2, retry_backoff_max=60, retry_jitter=True, max_retries=5)
def embed_batch(self: Any, media_ids: list[int], model_ref: str, preset: str, model_key: str,
                collection: str, commit: bool = False) -> dict[str, Any]:
    return run_batch(media_ids, model_ref, preset, model_key, collection, commit)


@app.task(name="vita.embed_texts", acks_late=True, reject_on_worker_lost=True,
          autoretry_for=TRANSIENT, retry_backoff=2, max_retries=5)
def embed_texts(texts: list[str], model_ref: str, preset: str) -> str:
    """Text prompts -> base64 float32 matrix (the taxa collection)."""
    vectors = load_model(model_ref, preset).embed_text(texts)
    return base64.b64encode(np.ascontiguousarray(vectors, np.float32).tobytes()).decode()


def decode_matrix(data: str, dim: int) -> np.ndarray:
    return np.frombuffer(base64.b64decode(data), np.float32).reshape(-1, dim)


__all__ = ["BatchResult", "decode_matrix", "embed_batch", "embed_texts", "run_batch"]
