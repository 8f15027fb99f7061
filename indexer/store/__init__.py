"""The vector store: one interface, two backends (Qdrant Edge embedded, a Qdrant server), one loader."""

from indexer.store.interface import Hit, Point, StoreError, VectorStore, unit, vector_pages
from indexer.store.loader import Cluster, Layout, StoreConfig, open_store

__all__ = ["Cluster", "Layout", "Hit", "Point", "StoreConfig", "StoreError", "VectorStore", "open_store", "unit", "vector_pages"]
