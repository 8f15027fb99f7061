"""The vector store: one interface, two backends (Qdrant Edge embedded, a Qdrant server), one loader.

Imports form a tree: `interface` (points, hits, the error, the abstract base) <- `config` (settings
types and defaults) <- `edge`, `server` (the backends) <- `loader` (picks one).
"""

from indexer.store.config import Cluster, Layout, StoreConfig
from indexer.store.interface import Hit, Point, StoreError, VectorStore, unit, vector_pages
from indexer.store.loader import open_store

__all__ = ["Cluster", "Layout", "Hit", "Point", "StoreConfig", "StoreError", "VectorStore", "open_store", "unit", "vector_pages"]
