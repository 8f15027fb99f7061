"""The vector store: one interface, two backends (Qdrant Edge embedded, a Qdrant server), one loader.

Imports form a tree: `errors` (StoreError) <- `config` (settings types and defaults) <- `interface`
(points, hits, the abstract base) <- `edge`, `server` (the backends) <- `loader` (picks one).
"""

from indexer.store.config import Cluster, Layout, StoreConfig
from indexer.store.errors import StoreError
from indexer.store.interface import Hit, Point, VectorStore, unit, vector_pages
from indexer.store.loader import open_store

__all__ = ["Cluster", "Layout", "Hit", "Point", "StoreConfig", "StoreError", "VectorStore", "open_store", "unit", "vector_pages"]
