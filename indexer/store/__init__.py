"""The vector store: one interface, two backends (Qdrant Edge embedded, a Qdrant server), one loader."""

from indexer.store.interface import Hit, Point, StoreError, VectorStore, unit
from indexer.store.loader import StoreConfig, open_store

__all__ = ["Hit", "Point", "StoreConfig", "StoreError", "VectorStore", "open_store", "unit"]
