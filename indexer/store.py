"""The vector store interface and the one place that picks a backend.

Two backends behind one small interface:
- `EdgeStore` (default): Qdrant Edge in-process (WAL, HNSW after `optimize`, payload indexes).
  One process may open a store directory at a time: the indexing run, then the UI or a search.
- `ServerStore`: a Qdrant server through qdrant-client (docker-compose, clusters), for
  indexing while serving and for several machines.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from indexer.filters import Filter
from vita.settings import Settings


@dataclass
class Point:
    id: str
    vector: np.ndarray
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class Hit:
    id: str
    score: float
    payload: dict[str, Any]
    vector: np.ndarray | None = None


class StoreError(RuntimeError):
    """The store cannot do what was asked (missing collection, locked directory, ...)."""


class VectorStore(Protocol):
    def collections(self) -> list[str]: ...
    def create(self, name: str, dim: int) -> None: ...
    def exists(self, name: str) -> bool: ...
    def drop(self, name: str) -> None: ...
    def set_alias(self, alias: str, name: str) -> None: ...
    def resolve(self, alias_or_name: str) -> str: ...
    def aliases(self) -> dict[str, str]: ...
    def upsert(self, name: str, points: Sequence[Point]) -> None: ...
    def delete(self, name: str, ids: Sequence[str]) -> None: ...
    def query(self, name: str, vector: np.ndarray, flt: Filter | None = None, limit: int = 10,
              exact: bool = False, with_vector: bool = False) -> list[Hit]: ...
    def retrieve(self, name: str, ids: Sequence[str], with_vector: bool = False) -> list[Hit]: ...
    def scroll(self, name: str, flt: Filter | None = None, batch: int = 256,
               with_vector: bool = False) -> Iterator[Hit]: ...
    def count(self, name: str, flt: Filter | None = None) -> int: ...
    def facet(self, name: str, key: str, flt: Filter | None = None, limit: int = 100) -> dict[str, int]: ...
    def optimize(self, name: str) -> None: ...
    def close(self) -> None: ...


def open_store(settings: Settings) -> VectorStore:
    """The server when `VITA_QDRANT_URL` is set, else the embedded store under the data dir."""
    if settings.qdrant_url:
        from indexer.server import ServerStore

        key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        return ServerStore(url=settings.qdrant_url, api_key=key)
    from indexer.edge import EdgeStore

    return EdgeStore(settings.index_dir)


def unit(vector: np.ndarray) -> list[float]:
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    n = float(np.linalg.norm(v))
    return (v / n if n > 0 else v).tolist()
