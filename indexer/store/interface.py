"""The vector store interface: points, hits, the one store error, and the abstract base.

Backends (`edge`, `server`) implement it; `loader.open_store` picks one. This module imports
no backend, so nothing here imports back.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np

from catalog.errors import VitaError
from indexer.filters import Filter


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


#: HNSW's search breadth for every query unless one asks otherwise. Measured (`vita bench ann --graphs`,
#: bench/results/ann-graphs/ann-100000.md, 100k points): with the default graph (m 32, ef_construct 200)
#: "far" queries (text or photo asking for sounds) reach recall@10 0.99 at 512 against 0.90 at 128;
#: "near" ones are 1.0 either way, for under a millisecond more. At a million points far queries need
#: more (bench/results/ann-1m-int8: 0.96 at 3072 with the int8 copy): `StoreConfig.hnsw_ef` (VITA_STORE_HNSW_EF).
HNSW_EF = 512
#: With an int8 copy (`Layout.int8`), queries take this many times the candidates from it and re-rank them
#: with the float32 originals. Measured at 1M points (hnsw_ef 3072, bench/results/ann-1m-int8): "near"
#: recall@10 0.963 at 2, 0.991 at 4, 1.0 at 8, for the same latency; ignored without quantization.
RESCORE_OVERSAMPLING = 8.0


class StoreError(VitaError, RuntimeError):
    """The store cannot do what was asked (missing collection, locked directory, ...)."""


class VectorStore(ABC):
    """A vector store: named collections of points, aliases, filtered nearest-neighbour queries.

    Every backend passes the same contract suite (`tests/indexer/test_store.py`). A store is a
    context manager: `with open_store(cfg) as store: ...` closes it (and frees the embedded
    store's single-owner lock) however the block ends.
    """

    @abstractmethod
    def collections(self) -> list[str]: ...
    @abstractmethod
    def create(self, name: str, dim: int) -> None: ...
    @abstractmethod
    def exists(self, name: str) -> bool: ...
    @abstractmethod
    def drop(self, name: str) -> None: ...
    @abstractmethod
    def set_alias(self, alias: str, name: str) -> None: ...
    @abstractmethod
    def resolve(self, alias_or_name: str) -> str: ...
    @abstractmethod
    def aliases(self) -> dict[str, str]: ...
    @abstractmethod
    def upsert(self, name: str, points: Sequence[Point]) -> None: ...
    @abstractmethod
    def delete(self, name: str, ids: Sequence[str]) -> None: ...
    @abstractmethod
    def query(self, name: str, vector: np.ndarray, flt: Filter | None = None, limit: int = 10,
              exact: bool = False, with_vector: bool = False, hnsw_ef: int | None = None) -> list[Hit]: ...
    @abstractmethod
    def retrieve(self, name: str, ids: Sequence[str], with_vector: bool = False) -> list[Hit]: ...
    @abstractmethod
    def scroll_page(self, name: str, flt: Filter | None = None, limit: int = 256, cursor: Any = None,
                    with_vector: bool = False) -> tuple[list[Hit], Any]:
        """One page of points in store order from `cursor` (None: the start), and the cursor of the
        next page (None: the end). Cursors are the store's own, so page n+1 costs one page."""
    def scroll(self, name: str, flt: Filter | None = None, batch: int = 256,
               with_vector: bool = False) -> Iterator[Hit]:
        """Every point under `flt`, page by page (`scroll_page`), without holding more than a page."""
        cursor = None
        while True:
            hits, cursor = self.scroll_page(name, flt, batch, cursor, with_vector)
            yield from hits
            if cursor is None:
                return

    @abstractmethod
    def count(self, name: str, flt: Filter | None = None) -> int: ...
    @abstractmethod
    def facet(self, name: str, key: str, flt: Filter | None = None, limit: int = 100) -> dict[str, int]: ...
    @abstractmethod
    def optimize(self, name: str) -> None: ...
    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def vector_pages(store: VectorStore, name: str, flt: Filter | None = None,
                 page: int = 512) -> Iterator[tuple[list[dict[str, Any]], np.ndarray]]:
    """(payloads, vectors as one float32 matrix) a store page at a time, in store order: a pass over
    a whole collection (scoring, detection) whose memory does not grow with it."""
    cursor = None
    while True:
        hits, cursor = store.scroll_page(name, flt, page, cursor, with_vector=True)
        rows = [h for h in hits if h.vector is not None]
        if rows:
            yield [h.payload for h in rows], np.stack([np.asarray(h.vector, np.float32) for h in rows])
        if cursor is None:
            return


def unit(vector: np.ndarray) -> list[float]:
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    n = float(np.linalg.norm(v))
    return (v / n if n > 0 else v).tolist()


def units(points: Sequence[Point]) -> list[list[float]]:
    """`unit` of every point's vector, as one matrix operation (an upsert's share of the coordinator)."""
    if not points:
        return []
    m = np.stack([np.asarray(p.vector, dtype=np.float32).reshape(-1) for p in points])
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    out: list[list[float]] = np.divide(m, norms, out=m.copy(), where=norms > 0).tolist()
    return out
