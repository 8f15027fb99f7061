"""The one place that picks a vector-store backend (perch-hoplite's manner: backends chosen in a loader).

- `EdgeStore` (default): Qdrant Edge in-process (WAL, HNSW after `optimize`, payload indexes).
  One process may open a store directory at a time: the indexing run, then the UI or a search.
- `ServerStore`: a Qdrant server through qdrant-client (docker-compose, clusters), for
  indexing while serving and for several machines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from indexer.store.interface import HNSW_EF, StoreError, VectorStore


@dataclass(frozen=True)
class Cluster:
    """How a collection created on a Qdrant server is spread over a cluster's nodes."""

    shard_number: int = 1
    replication_factor: int = 1
    write_consistency_factor: int = 1


#: From this many dimensions up, a new collection keeps its vectors on disk with an int8 copy in RAM
#: unless told otherwise: measured at 512/768-d, 850/1114 MiB per million points against 2342/3326 in
#: RAM, the same recall, and an HNSW build 5-8 times faster (`bench/results/memory`)
INT8_FROM_DIM = 512


@dataclass(frozen=True)
class Layout:
    """How a new collection keeps its vectors: the full float32 vectors in RAM, or on disk
    (memory-mapped) with an int8 copy in RAM that queries scan and the originals rescore. The second
    holds BioVITA-size (512/768-d) collections of millions of points in far less memory
    (`bench/results/memory`). None: chosen by the vectors' size (`INT8_FROM_DIM`)."""

    on_disk: bool | None = None
    int8: bool | None = None
    #: the HNSW graph built by `optimize`: edges per node and the candidate list while building.
    #: Twice Qdrant's defaults (16, 100): measured at 100k points (`vita bench ann --graphs`,
    #: bench/results/ann-graphs), "far" queries (text or photo asking for sounds) reach recall@10 0.99
    #: at hnsw_ef 512 against 0.97 with the defaults, 0.90 against 0.73 at 128; m 64 adds nothing;
    #: the build takes ~1.4x as long and each point holds twice the graph links.
    hnsw_m: int = 32
    hnsw_ef_construct: int = 200

    def for_dim(self, dim: int) -> tuple[bool, bool]:
        """(on disk, int8 copy) for a new collection of `dim`-d vectors."""
        big = dim >= INT8_FROM_DIM
        return (big if self.on_disk is None else self.on_disk, big if self.int8 is None else self.int8)


@dataclass(frozen=True)
class StoreConfig:
    """Where the vectors live: a Qdrant server when `url` is set, else the embedded store in `index_dir`."""

    index_dir: Path
    url: str | None = None
    api_key: str | None = None
    #: a Qdrant cluster: how a new collection is split and copied (the server's defaults: 1, 1, 1)
    cluster: Cluster = field(default_factory=lambda: Cluster())
    #: how new collections keep their vectors (existing ones keep theirs)
    layout: Layout = field(default_factory=lambda: Layout())
    #: HNSW's search breadth for queries that do not ask for one (a million points want thousands)
    hnsw_ef: int = HNSW_EF

    def __post_init__(self) -> None:
        if self.api_key and not self.url:
            raise StoreError("an API key is for a Qdrant server: set its URL too (VITA_QDRANT_URL), or drop the key "
                             "for the embedded store")

    @property
    def shared(self) -> bool:
        """A server takes writes from many processes; the embedded store has one owner."""
        return self.url is not None


def open_store(cfg: StoreConfig) -> VectorStore:
    """The server when a URL is configured, else the embedded store under the data dir."""
    if cfg.url:
        from indexer.store.server import ServerStore

        return ServerStore(url=cfg.url, api_key=cfg.api_key, cluster=cfg.cluster, layout=cfg.layout,
                           hnsw_ef=cfg.hnsw_ef)
    from indexer.store.edge import EdgeStore

    return EdgeStore(cfg.index_dir, cfg.layout, hnsw_ef=cfg.hnsw_ef)
