"""The vector store interface: points, hits, the one store error, and the abstract base.

Backends (`edge`, `server`) implement it; `loader.open_store` picks one; `config` holds the
settings types and defaults (and `errors` the one error), below this module.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np

from indexer.filters import Filter
from indexer.store.config import breadth_for


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


#: How long a collection's size, counted for a query's breadth, is taken as still true.
SIZE_TTL_S = 30.0


class VectorStore(ABC):
    """A vector store: named collections of points, aliases, filtered nearest-neighbour queries.

    Every backend passes the same contract suite (`tests/indexer/test_store.py`). A store is a
    context manager: `with open_store(cfg) as store: ...` closes it (and frees the embedded
    store's single-owner lock) however the block ends.
    """

    @abstractmethod
    def collections(self) -> list[str]:
        """Names of every collection (not aliases), in no particular order."""

    @abstractmethod
    def create(self, name: str, dim: int) -> None:
        """A new empty collection of `dim`-d cosine vectors with the payload indexes of
        `indexer.schema` and the backend's `Layout`; an existing one is left as it is."""

    @abstractmethod
    def exists(self, name: str) -> bool:
        """Whether a collection of that name exists (an alias does not count)."""

    @abstractmethod
    def drop(self, name: str) -> None:
        """Delete a collection and its points; a missing one is not an error."""

    @abstractmethod
    def set_alias(self, alias: str, name: str) -> None:
        """Point `alias` at collection `name` in one step (readers never see neither)."""

    @abstractmethod
    def resolve(self, alias_or_name: str) -> str:
        """The collection an alias points at, or the name itself when it is a collection.
        Raises StoreError when it is neither."""

    @abstractmethod
    def aliases(self) -> dict[str, str]:
        """Every alias -> the collection it points at."""

    @abstractmethod
    def upsert(self, name: str, points: Sequence[Point]) -> None:
        """Write points (vectors normalised to unit length); a point with an existing id replaces
        it. Durable when the call returns."""

    @abstractmethod
    def delete(self, name: str, ids: Sequence[str]) -> None:
        """Remove points by id; unknown ids are ignored."""

    @abstractmethod
    def query(self, name: str, vector: np.ndarray, flt: Filter | None = None, limit: int = 10,
              exact: bool = False, with_vector: bool = False, hnsw_ef: int | None = None) -> list[Hit]:
        """The `limit` nearest points to `vector` by cosine, best first, among those `flt` admits.
        `exact`: a full scan instead of the graph; `hnsw_ef`: the graph search's breadth (None: the
        store's default); with an int8 copy, candidates are rescored with the originals."""

    @abstractmethod
    def retrieve(self, name: str, ids: Sequence[str], with_vector: bool = False) -> list[Hit]:
        """The points with these ids (score 0); missing ids are left out, order is not kept."""

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
    def count(self, name: str, flt: Filter | None = None) -> int:
        """How many points `flt` admits (exact)."""

    @abstractmethod
    def facet(self, name: str, key: str, flt: Filter | None = None, limit: int = 100) -> dict[str, int]:
        """Points per value of an indexed payload field (exact counts), at most `limit` values,
        values as strings."""

    @abstractmethod
    def optimize(self, name: str) -> None:
        """Build the search structures after a bulk write (the embedded store's HNSW graph and
        merged segments); queries are correct before it, only slower."""

    @abstractmethod
    def close(self) -> None:
        """Release the store (the embedded store's single-owner lock); idempotent."""

    #: the breadth every query that names none uses; None: from the collection's size (`breadth`)
    hnsw_ef: int | None = None
    _sizes: dict[str, tuple[float, int]]  # collection -> (when counted, points)

    def breadth(self, name: str) -> int:
        """The HNSW breadth of a query on `name` that asks for none: the store's setting, else from
        the collection's size (`config.breadth_for`), counted again at most every SIZE_TTL_S."""
        if self.hnsw_ef:
            return self.hnsw_ef
        if not hasattr(self, "_sizes"):
            self._sizes = {}
        seen = self._sizes.get(name)
        now = time.monotonic()
        if seen is None or now - seen[0] > SIZE_TTL_S:
            seen = self._sizes[name] = (now, self.count(name))
        return breadth_for(seen[1])

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
