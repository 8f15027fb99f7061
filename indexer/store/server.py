"""`ServerStore`: a Qdrant server (or qdrant-client's local mode, for tests) through qdrant-client.

The server builds HNSW by itself and several processes may write at once, so this is the
backend for indexing while serving, for docker-compose, and for clusters (shards, replicas).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from qdrant_client import QdrantClient, models

from indexer.filters import Filter
from indexer.schema import GEO_FIELD, INTEGER_FIELDS, KEYWORD_FIELDS
from indexer.store.config import RESCORE_OVERSAMPLING, Cluster, Layout
from indexer.store.errors import StoreError
from indexer.store.interface import Hit, Point, VectorStore, unit, units

UPSERT_CHUNK = 256


class ServerStore(VectorStore):
    def __init__(self, url: str | None = None, api_key: str | None = None, *, location: str | None = None,
                 client: QdrantClient | None = None, timeout: int = 60, cluster: Cluster | None = None,
                 layout: Layout | None = None, hnsw_ef: int | None = None) -> None:
        self.cluster, self.layout, self.hnsw_ef = cluster or Cluster(), layout or Layout(), hnsw_ef
        if client is not None:
            self.client = client
        elif location is not None:  # ':memory:' or a path: qdrant-client's local mode
            self.client = QdrantClient(location=location) if location == ":memory:" else QdrantClient(path=location)
        else:
            self.client = QdrantClient(url=url, api_key=api_key, timeout=timeout)

    def collections(self) -> list[str]:
        return sorted(c.name for c in self.client.get_collections().collections)

    def exists(self, name: str) -> bool:
        return bool(self.client.collection_exists(name))

    def create(self, name: str, dim: int) -> None:
        if self.exists(name):
            return
        c = self.cluster
        on_disk, quantized = self.layout.resolved()
        int8 = (models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(
            type=models.ScalarType.INT8, quantile=0.99, always_ram=True)) if quantized else None)
        self.client.create_collection(name, vectors_config=models.VectorParams(
                                          size=dim, distance=models.Distance.COSINE,
                                          on_disk=on_disk or None),
                                      quantization_config=int8,
                                      hnsw_config=models.HnswConfigDiff(m=self.layout.hnsw_m,
                                                                        ef_construct=self.layout.hnsw_ef_construct),
                                      shard_number=c.shard_number, replication_factor=c.replication_factor,
                                      write_consistency_factor=c.write_consistency_factor)
        schema = ([(k, models.PayloadSchemaType.KEYWORD) for k in KEYWORD_FIELDS]
                  + [(k, models.PayloadSchemaType.INTEGER) for k in INTEGER_FIELDS]
                  + [(GEO_FIELD, models.PayloadSchemaType.GEO)])
        for key, kind in schema:
            self.client.create_payload_index(name, key, field_schema=kind)

    def drop(self, name: str) -> None:
        for alias, target in self.aliases().items():
            if target == name:
                self.client.update_collection_aliases(change_aliases_operations=[
                    models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias))])
        self.client.delete_collection(name)

    def aliases(self) -> dict[str, str]:
        return {a.alias_name: a.collection_name for a in self.client.get_aliases().aliases}

    def set_alias(self, alias: str, name: str) -> None:
        """Delete + create in one request: readers see the old or the new collection, never none."""
        if not self.exists(name):
            raise StoreError(f"no collection {name!r} to point alias {alias!r} at")
        ops: list[Any] = []
        if alias in self.aliases():
            ops.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias)))
        ops.append(models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=name,
                                                                                alias_name=alias)))
        self.client.update_collection_aliases(change_aliases_operations=ops)

    def resolve(self, alias_or_name: str) -> str:
        name = self.aliases().get(alias_or_name, alias_or_name)
        if not self.exists(name):
            raise StoreError(f"no collection or alias {alias_or_name!r} on the Qdrant server; run `vita index`")
        return name

    def upsert(self, name: str, points: Sequence[Point]) -> None:
        for i in range(0, len(points), UPSERT_CHUNK):
            part = points[i:i + UPSERT_CHUNK]
            batch = [models.PointStruct(id=p.id, vector=v, payload=p.payload) for p, v in zip(part, units(part))]
            self.client.upsert(name, points=batch, wait=True)

    def delete(self, name: str, ids: Sequence[str]) -> None:
        self.client.delete(name, points_selector=models.PointIdsList(points=list(ids)), wait=True)

    def query(self, name: str, vector: np.ndarray, flt: Filter | None = None, limit: int = 10,
              exact: bool = False, with_vector: bool = False, hnsw_ef: int | None = None) -> list[Hit]:
        res = self.client.query_points(name, query=unit(vector), query_filter=_filter(flt), limit=limit,
                                       with_payload=True, with_vectors=with_vector,
                                       search_params=models.SearchParams(
                                           exact=exact, hnsw_ef=hnsw_ef or self.breadth(name),
                                           quantization=models.QuantizationSearchParams(
                                               rescore=True, oversampling=RESCORE_OVERSAMPLING)))
        return [_hit(p, p.score) for p in res.points]

    def retrieve(self, name: str, ids: Sequence[str], with_vector: bool = False) -> list[Hit]:
        return [_hit(r, 0.0) for r in self.client.retrieve(name, list(ids), with_payload=True,
                                                           with_vectors=with_vector)]

    def scroll_page(self, name: str, flt: Filter | None = None, limit: int = 256, cursor: Any = None,
                    with_vector: bool = False) -> tuple[list[Hit], Any]:
        records, nxt = self.client.scroll(name, scroll_filter=_filter(flt), limit=limit, offset=cursor,
                                          with_payload=True, with_vectors=with_vector)
        return [_hit(r, 0.0) for r in records], (nxt if records else None)

    def count(self, name: str, flt: Filter | None = None) -> int:
        return self.client.count(name, count_filter=_filter(flt), exact=True).count

    def facet(self, name: str, key: str, flt: Filter | None = None, limit: int = 100) -> dict[str, int]:
        res = self.client.facet(name, key, facet_filter=_filter(flt), limit=limit, exact=True)
        return {str(h.value): h.count for h in res.hits}

    def optimize(self, name: str) -> None:
        """The server indexes in the background; nothing to run here."""

    def close(self) -> None:
        self.client.close()



def _filter(flt: Filter | None) -> models.Filter | None:
    if flt is None or flt.is_empty():
        return None

    def match(key: str, values: list[Any]) -> models.FieldCondition:
        vals = [int(v) for v in values] if key in INTEGER_FIELDS else [str(v) for v in values]
        return models.FieldCondition(key=key, match=models.MatchAny(any=vals))

    must: list[Any] = [match(k, vs) for k, vs in flt.conditions()]
    must_not: list[Any] = [match(k, vs) for k, vs in flt.exclude.items() if vs]
    lo, hi = flt.day_range
    if lo is not None or hi is not None:
        must.append(models.FieldCondition(key="observed_day", range=models.Range(gte=lo, lte=hi)))
    if flt.bbox is not None:
        b = flt.bbox
        must.append(models.FieldCondition(key=GEO_FIELD, geo_bounding_box=models.GeoBoundingBox(
            top_left=models.GeoPoint(lon=b.west, lat=b.north), bottom_right=models.GeoPoint(lon=b.east, lat=b.south))))
    return models.Filter(must=must or None, must_not=must_not or None)


def _hit(p: Any, score: float) -> Hit:
    vec = p.vector
    if isinstance(vec, dict):
        vec = vec.get("", next(iter(vec.values()), None))
    return Hit(str(p.id), float(score), dict(p.payload or {}),
               np.asarray(vec, dtype=np.float32) if vec is not None else None)
