"""The store's configuration: where vectors live, how a new collection keeps them, how a cluster
spreads them, and every default of the HNSW graph and its queries, each with the measurement that
chose it. Imports only the store's error; the interface, the backends and the loader import this.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from indexer.store.errors import StoreError

#: The HNSW graph built by `optimize`: edges per node and the candidate list while building.
#: Twice Qdrant's defaults (16, 100): measured at 100k points (`vita bench ann --graphs`,
#: bench/results/ann-graphs), "far" queries (text or photo asking for sounds) reach recall@10 0.99
#: at hnsw_ef 512 against 0.97 with the defaults, 0.90 against 0.73 at 128; m 64 adds nothing;
#: the build takes ~1.4x as long and each point holds twice the graph links.
HNSW_M = 32
HNSW_EF_CONSTRUCT = 200
#: HNSW's search breadth up to BREADTH_CURVE's first size. Measured (`vita bench ann --graphs`,
#: bench/results/ann-graphs/ann-100000.md, 100k points): with the default graph (m 32, ef_construct 200)
#: "far" queries (text or photo asking for sounds) reach recall@10 0.99 at 512 against 0.90 at 128;
#: "near" ones are 1.0 either way, for under a millisecond more.
HNSW_EF = 512
#: (points, hnsw_ef) where far queries reach recall@10 >= 0.95 with the default graph (synthetic 128-d):
#: 0.989 at 512 with 100k points (bench/results/ann-graphs), 0.963 at 3072 with 1M and the int8 copy
#: (bench/results/ann-1m-int8, where 512 gave 0.765). A query that names no breadth searches as wide as
#: `breadth_for` says for its collection's size.
BREADTH_CURVE: tuple[tuple[int, int], tuple[int, int]] = ((100_000, HNSW_EF), (1_000_000, 3072))
HNSW_EF_MAX = 16_384
#: With an int8 copy (`Layout.int8`), queries take this many times the candidates from it and re-rank them
#: with the float32 originals. Measured at 1M points (hnsw_ef 3072, bench/results/ann-1m-int8): "near"
#: recall@10 0.963 at 2, 0.991 at 4, 1.0 at 8, for the same latency; ignored without quantization.
RESCORE_OVERSAMPLING = 8.0


def breadth_for(points: int) -> int:
    """The query breadth for a collection of `points`: HNSW_EF up to the curve's first size, then on the
    log-log line through the measured points (extrapolated past the last, at most HNSW_EF_MAX), rounded
    up to a multiple of 64."""
    (n0, e0), (n1, e1) = BREADTH_CURVE
    if points <= n0:
        return e0
    ef = e0 * (points / n0) ** (math.log(e1 / e0) / math.log(n1 / n0))
    return min(HNSW_EF_MAX, 64 * math.ceil(ef / 64 - 1e-9))


@dataclass(frozen=True)
class Cluster:
    """How a collection created on a Qdrant server is spread over a cluster's nodes."""

    shard_number: int = 1
    replication_factor: int = 1
    write_consistency_factor: int = 1


#: A new collection keeps its float32 vectors on disk (memory-mapped) with an int8 copy in RAM that
#: queries scan, at every vector size, unless told otherwise. Measured on synthetic vectors: per million
#: points 581 against 946 MiB at 128-d and 850/1114 against 2342/3326 MiB at 512/768-d, the same recall
#: (`bench/results/memory-m32`); at a million 128-d points, queries at the default breadth nearly twice as
#: fast for the same recall (far p50 4.3 against 7.1 ms) and the graph built in 516 against 1115 s
#: (`bench/results/ann-1m` against `bench/results/ann-1m-float`); at 100k the same recall and latency and
#: the graph built in 20 against 36 s, at 10k both exact (`bench/results/ann-default`); at 768-d and 100k
#: 1.2 against 2.2 ms far (`bench/results/ann-768`); builds 5-8 times faster at 512-d (`bench/results/memory`)
ON_DISK_INT8 = True


@dataclass(frozen=True)
class Layout:
    """How a new collection keeps its vectors: the full float32 vectors in RAM, or on disk
    (memory-mapped) with an int8 copy in RAM that queries scan and the originals rescore. The second
    holds collections of millions of points in far less memory and answers them faster; it is the
    default (`ON_DISK_INT8`). None: the default."""

    on_disk: bool | None = None
    int8: bool | None = None
    hnsw_m: int = HNSW_M  # the graph `optimize` builds (see HNSW_M)
    hnsw_ef_construct: int = HNSW_EF_CONSTRUCT

    def resolved(self) -> tuple[bool, bool]:
        """(on disk, int8 copy) for a new collection."""
        return (ON_DISK_INT8 if self.on_disk is None else self.on_disk, ON_DISK_INT8 if self.int8 is None else self.int8)


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
    #: HNSW's search breadth for queries that do not ask for one; None: from each collection's size
    #: (`breadth_for`: 512 up to 100k points, 3072 at a million)
    hnsw_ef: int | None = None

    def __post_init__(self) -> None:
        if self.api_key and not self.url:
            raise StoreError("an API key is for a Qdrant server: set its URL too (VITA_QDRANT_URL), or drop the key "
                             "for the embedded store")

    @property
    def shared(self) -> bool:
        """A server takes writes from many processes; the embedded store has one owner."""
        return self.url is not None
