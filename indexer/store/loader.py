"""The one place that picks a vector-store backend (perch-hoplite's manner: backends chosen in a loader).

- `EdgeStore` (default): Qdrant Edge in-process (WAL, HNSW after `optimize`, payload indexes).
  One process may open a store directory at a time: the indexing run, then the UI or a search.
- `ServerStore`: a Qdrant server through qdrant-client (docker-compose, clusters), for
  indexing while serving and for several machines.
"""

from __future__ import annotations

from indexer.store.config import StoreConfig
from indexer.store.interface import VectorStore


def open_store(cfg: StoreConfig) -> VectorStore:
    """The server when a URL is configured, else the embedded store under the data dir."""
    if cfg.url:
        from indexer.store.server import ServerStore

        return ServerStore(url=cfg.url, api_key=cfg.api_key, cluster=cfg.cluster, layout=cfg.layout,
                           hnsw_ef=cfg.hnsw_ef)
    from indexer.store.edge import EdgeStore

    return EdgeStore(cfg.index_dir, cfg.layout, hnsw_ef=cfg.hnsw_ef)
