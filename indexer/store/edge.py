"""`EdgeStore`: Qdrant Edge shards in one directory, one shard per collection, aliases in a JSON file.

The directory is owned by one process at a time (an exclusive lock on `<root>/.lock`, besides
Qdrant Edge's own WAL lock), so a second `vita index` or a search during indexing gets a clear
error instead of a corrupt store. Alias changes are a single atomic file replace.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import qdrant_edge as qe

from indexer.filters import Filter
from indexer.schema import GEO_FIELD, INTEGER_FIELDS, KEYWORD_FIELDS
from indexer.store.config import RESCORE_OVERSAMPLING, Layout
from indexer.store.errors import StoreError
from indexer.store.interface import Hit, Point, VectorStore, unit, units

RESCORE = qe.QuantizationSearchParams(rescore=True, oversampling=RESCORE_OVERSAMPLING)

UPSERT_CHUNK = 512


class EdgeStore(VectorStore):
    def __init__(self, root: Path, layout: Layout | None = None, hnsw_ef: int | None = None) -> None:
        self.root = Path(root)
        self.layout, self.hnsw_ef = layout or Layout(), hnsw_ef
        (self.root / "collections").mkdir(parents=True, exist_ok=True)
        self._lock = open(self.root / ".lock", "a+")  # noqa: SIM115 - held for the store's lifetime
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise StoreError(f"the index at {self.root} is open in another process (a running `vita index`, "
                             "`vita serve` or search); the embedded store has one owner at a time. Stop that "
                             "process, or use a Qdrant server (VITA_QDRANT_URL) to index while serving.") from None
        self._shards: dict[str, qe.EdgeShard] = {}
        self._aliases: dict[str, str] | None = None  # the lock makes this object their only writer

    # ------------------------------------------------------------ collections and aliases

    def _dir(self, name: str) -> Path:
        return self.root / "collections" / name

    def collections(self) -> list[str]:
        return sorted(p.name for p in (self.root / "collections").iterdir() if (p / "edge_config.json").exists())

    def exists(self, name: str) -> bool:
        return (self._dir(name) / "edge_config.json").exists()

    def create(self, name: str, dim: int) -> None:
        if self.exists(name):
            return
        on_disk, quantized = self.layout.resolved()
        int8 = (qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8, quantile=0.99, always_ram=True)
                if quantized else None)
        hnsw = qe.HnswIndexConfig(m=self.layout.hnsw_m, ef_construct=self.layout.hnsw_ef_construct,
                                  full_scan_threshold=10_000)
        cfg = qe.EdgeConfig(vectors=qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine,
                                                        on_disk=on_disk or None, quantization_config=int8,
                                                        hnsw_config=hnsw))
        shard = qe.EdgeShard.create(str(self._dir(name)), cfg)
        for key in KEYWORD_FIELDS:
            shard.update(qe.UpdateOperation.create_field_index(key, qe.PayloadSchemaType.Keyword))
        for key in INTEGER_FIELDS:
            shard.update(qe.UpdateOperation.create_field_index(key, qe.PayloadSchemaType.Integer))
        shard.update(qe.UpdateOperation.create_field_index(GEO_FIELD, qe.PayloadSchemaType.Geo))
        shard.flush()
        self._shards[name] = shard

    def drop(self, name: str) -> None:
        shard = self._shards.pop(name, None)
        if shard is not None:
            shard.close()
        shutil.rmtree(self._dir(name), ignore_errors=True)
        self._write_aliases({a: c for a, c in self.aliases().items() if c != name})

    def aliases(self) -> dict[str, str]:
        if self._aliases is None:
            path = self.root / "aliases.json"
            self._aliases = json.loads(path.read_text()) if path.exists() else {}
        return dict(self._aliases)

    def _write_aliases(self, aliases: dict[str, str]) -> None:
        tmp = self.root / "aliases.json.tmp"
        tmp.write_text(json.dumps(aliases, indent=1, sort_keys=True))
        os.replace(tmp, self.root / "aliases.json")
        self._aliases = dict(aliases)

    def set_alias(self, alias: str, name: str) -> None:
        if not self.exists(name):
            raise StoreError(f"no collection {name!r} to point alias {alias!r} at")
        self._write_aliases({**self.aliases(), alias: name})

    def resolve(self, alias_or_name: str) -> str:
        name = self.aliases().get(alias_or_name, alias_or_name)
        if name not in self._shards and not self.exists(name):  # an open shard exists: no disk check per query
            raise StoreError(f"no collection or alias {alias_or_name!r} in {self.root}; run `vita index` first")
        return name

    def _shard(self, name: str) -> qe.EdgeShard:
        name = self.resolve(name)
        if name not in self._shards:
            try:
                self._shards[name] = qe.EdgeShard.load(str(self._dir(name)))
            except Exception as exc:  # the WAL lock of another process, a damaged directory
                raise StoreError(f"cannot open collection {name!r} at {self._dir(name)}: {exc}") from None
        return self._shards[name]

    # ------------------------------------------------------------ points

    def upsert(self, name: str, points: Sequence[Point]) -> None:
        shard = self._shard(name)
        for i in range(0, len(points), UPSERT_CHUNK):
            part = points[i:i + UPSERT_CHUNK]
            chunk = [qe.Point(p.id, v, p.payload) for p, v in zip(part, units(part))]
            shard.update(qe.UpdateOperation.upsert_points(chunk))
        shard.flush()

    def delete(self, name: str, ids: Sequence[str]) -> None:
        shard = self._shard(name)
        shard.update(qe.UpdateOperation.delete_points(list(ids)))
        shard.flush()

    def query(self, name: str, vector: np.ndarray, flt: Filter | None = None, limit: int = 10,
              exact: bool = False, with_vector: bool = False, hnsw_ef: int | None = None) -> list[Hit]:
        req = qe.QueryRequest(limit=limit, query=qe.Query.Nearest(unit(vector)), filter=_filter(flt),
                              with_payload=True, with_vector=with_vector,
                              params=qe.SearchParams(hnsw_ef=hnsw_ef or self.breadth(name), exact=exact, quantization=RESCORE))
        return [_hit(p, p.score) for p in self._shard(name).query(req)]

    def retrieve(self, name: str, ids: Sequence[str], with_vector: bool = False) -> list[Hit]:
        return [_hit(r, 0.0) for r in self._shard(name).retrieve(list(ids), True, with_vector)]

    def scroll_page(self, name: str, flt: Filter | None = None, limit: int = 256, cursor: Any = None,
                    with_vector: bool = False) -> tuple[list[Hit], Any]:
        records, nxt = self._shard(name).scroll(qe.ScrollRequest(offset=cursor, limit=limit, filter=_filter(flt),
                                                                 with_payload=True, with_vector=with_vector))
        return [_hit(r, 0.0) for r in records], (nxt if records else None)

    def count(self, name: str, flt: Filter | None = None) -> int:
        return self._shard(name).count(qe.CountRequest(filter=_filter(flt), exact=True))

    def facet(self, name: str, key: str, flt: Filter | None = None, limit: int = 100) -> dict[str, int]:
        resp = self._shard(name).facet(qe.FacetRequest(key=key, limit=limit, exact=True, filter=_filter(flt)))
        return {str(h.value): h.count for h in resp}

    def optimize(self, name: str) -> None:
        """Build HNSW and merge segments; queries are exact (brute force) until this runs."""
        shard = self._shard(name)
        shard.optimize()
        shard.flush()

    def close(self) -> None:
        for shard in self._shards.values():
            shard.close()
        self._shards.clear()
        if not self._lock.closed:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()



def _values(key: str, values: list[Any]) -> list[Any]:
    return [int(v) for v in values] if key in INTEGER_FIELDS else [str(v) for v in values]


def _filter(flt: Filter | None) -> qe.Filter | None:
    if flt is None or flt.is_empty():
        return None
    must: list[Any] = [qe.FieldCondition(key=k, match=qe.MatchAny(any=_values(k, vs)))
                       for k, vs in flt.conditions()]
    must_not: list[Any] = [qe.FieldCondition(key=k, match=qe.MatchAny(any=_values(k, vs)))
                           for k, vs in flt.exclude.items() if vs]
    lo, hi = flt.day_range
    if lo is not None or hi is not None:
        must.append(qe.FieldCondition(key="observed_day", range=qe.RangeFloat(gte=lo, lte=hi)))
    if flt.bbox is not None:
        b = flt.bbox
        box = qe.GeoBoundingBox(top_left=qe.GeoPoint(lon=b.west, lat=b.north),
                                bottom_right=qe.GeoPoint(lon=b.east, lat=b.south))
        must.append(qe.FieldCondition(key=GEO_FIELD, geo_bounding_box=box))
    return qe.Filter(must=must or None, must_not=must_not or None)


def _hit(p: Any, score: float) -> Hit:
    vec = p.vector
    if isinstance(vec, dict):  # named vectors: ours is the default (unnamed) one
        vec = vec.get("", next(iter(vec.values()), None))
    return Hit(str(p.id), float(score), dict(p.payload or {}),
               np.asarray(vec, dtype=np.float32) if vec is not None else None)
