"""One contract, every available backend: Qdrant Edge always, qdrant-client's local mode always
(it runs the server backend's code), each also with vectors on disk and an int8 copy in RAM; a real
Qdrant server when VITA_QDRANT_URL is set."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indexer.filters import BBox, Filter
from indexer.schema import day_number, point_id
from indexer.store import Layout, Point, StoreError, VectorStore

BACKENDS = ["edge", "edge-in-ram", "client-local", "client-local-in-ram"] + (
    ["server"] if os.environ.get("VITA_QDRANT_URL") else [])


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    # the second layout keeps the float vectors in RAM with no int8 copy and builds a sparser graph than
    # the default: every contract holds with either
    layout = (Layout(on_disk=False, int8=False, hnsw_m=16, hnsw_ef_construct=100) if request.param.endswith("in-ram")
              else Layout())
    if request.param.startswith("edge"):
        from indexer.store.edge import EdgeStore

        s: VectorStore = EdgeStore(tmp_path / "index", layout)
    elif request.param.startswith("client-local"):
        from indexer.store.server import ServerStore

        s = ServerStore(location=":memory:", layout=layout)
    else:
        from indexer.store.server import ServerStore

        s = ServerStore(url=os.environ["VITA_QDRANT_URL"], api_key=os.environ.get("VITA_QDRANT_API_KEY"))
    yield s
    for name in s.collections():
        if name.startswith("test-"):
            s.drop(name)
    s.close()


def _points(n: int, dim: int = 8, seed: int = 0) -> list[Point]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        day = dt.date(2020, 1, 1) + dt.timedelta(days=i)
        out.append(Point(point_id(f"sha{i}", 0.0, "m"), rng.normal(size=dim).astype(np.float32), {
            "media_id": i, "species": f"sp{i % 3}", "family": "F1" if i < n // 2 else "F2",
            "traits": ["activity=nocturnal", "habitat=wetland"] if i % 2 else
                      ["activity=diurnal"] + (["habitat=wetland"] if i % 4 == 0 else []),
            "modality": "audio" if i % 4 else "image", "observed_day": day_number(day),
            "location": {"lat": float(i), "lon": float(-i)}}))
    return out


def test_upsert_query_and_rerun_overwrites(store: VectorStore) -> None:
    name = f"test-{uuid.uuid4().hex[:8]}"
    store.create(name, 8)
    pts = _points(20)
    store.upsert(name, pts)
    store.upsert(name, pts)  # deterministic ids: a re-run overwrites
    assert store.count(name) == 20
    hits = store.query(name, pts[5].vector, limit=3)
    assert hits[0].id == pts[5].id
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert hits[0].score >= hits[1].score >= hits[2].score
    got = store.retrieve(name, [pts[7].id], with_vector=True)[0]
    assert got.payload["species"] == "sp1"
    assert np.allclose(got.vector, pts[7].vector / np.linalg.norm(pts[7].vector), atol=1e-5)
    assert sum(1 for _ in store.scroll(name, batch=7)) == 20
    store.delete(name, [pts[0].id])
    assert store.count(name) == 19


def test_pages_follow_the_store_s_cursor(store: VectorStore) -> None:
    name = f"test-{uuid.uuid4().hex[:8]}"
    store.create(name, 8)
    store.upsert(name, _points(20))
    flt = Filter({"family": ["F2"]})
    pages, cursor = [], None
    while True:
        hits, cursor = store.scroll_page(name, flt, 3, cursor)
        pages.append([h.id for h in hits])
        if cursor is None:
            break
    assert [len(p) for p in pages] == [3, 3, 3, 1]
    assert [i for p in pages for i in p] == [h.id for h in store.scroll(name, flt, batch=5)]


def test_filters(store: VectorStore) -> None:
    name = f"test-{uuid.uuid4().hex[:8]}"
    store.create(name, 8)
    pts = _points(20)
    store.upsert(name, pts)

    def ids(flt: Filter) -> set[int]:
        return {h.payload["media_id"] for h in store.query(name, pts[0].vector, flt, limit=50)}

    assert ids(Filter({"traits": ["activity=nocturnal"]})) == {i for i in range(20) if i % 2}
    assert ids(Filter({"traits": ["activity=nocturnal"], "family": ["F1"]})) == {1, 3, 5, 7, 9}
    wet = {i for i in range(20) if i % 2 or i % 4 == 0}
    assert ids(Filter({"traits": ["habitat=wetland"]})) == wet
    # labels of one category are alternatives, categories must all hold
    assert ids(Filter({"traits": ["activity=diurnal", "habitat=wetland"]})) == {i for i in range(20) if i % 4 == 0}
    assert ids(Filter({"traits": ["activity=diurnal", "activity=nocturnal"]})) == set(range(20))
    assert ids(Filter({"species": ["sp0", "sp1"]})) == {i for i in range(20) if i % 3 in (0, 1)}
    assert ids(Filter(exclude={"modality": ["image"]})) == {i for i in range(20) if i % 4}
    assert ids(Filter({"media_id": ["3", "4"]})) == {3, 4}
    assert ids(Filter(date_from=dt.date(2020, 1, 3), date_to=dt.date(2020, 1, 6))) == {2, 3, 4, 5}
    assert ids(Filter(bbox=BBox(south=4.5, west=-9.5, north=9.5, east=0))) == {5, 6, 7, 8, 9}
    assert store.count(name, Filter({"family": ["F2"]})) == 10
    assert store.facet(name, "species") == {"sp0": 7, "sp1": 7, "sp2": 6}
    assert store.facet(name, "traits", Filter({"family": ["F1"]}))["activity=nocturnal"] == 5


def test_alias_swap_and_missing_collection(store: VectorStore) -> None:
    a, b = f"test-{uuid.uuid4().hex[:8]}", f"test-{uuid.uuid4().hex[:8]}"
    alias = f"test-alias-{uuid.uuid4().hex[:6]}"
    store.create(a, 8)
    store.create(b, 8)
    store.upsert(a, _points(3))
    store.upsert(b, _points(5, seed=1))
    store.set_alias(alias, a)
    assert store.resolve(alias) == a
    assert store.count(alias) == 3
    store.set_alias(alias, b)
    assert store.resolve(alias) == b
    assert store.count(alias) == 5
    store.drop(b)
    assert alias not in store.aliases()
    with pytest.raises(StoreError):
        store.resolve(alias)


def test_edge_store_has_one_owner(tmp_path: Path) -> None:
    from indexer.store.edge import EdgeStore

    first = EdgeStore(tmp_path / "index")
    with pytest.raises(StoreError, match="another process"):
        EdgeStore(tmp_path / "index")
    first.close()
    EdgeStore(tmp_path / "index").close()  # free again once the owner closed it


def test_edge_store_persists_across_reopen(tmp_path: Path) -> None:
    from indexer.store.edge import EdgeStore

    with EdgeStore(tmp_path / "index") as s:
        s.create("c", 8)
        s.upsert("c", _points(6))
        s.set_alias("al", "c")
        s.optimize("c")
    with EdgeStore(tmp_path / "index") as s:
        assert s.count("al") == 6
        assert s.facet("c", "family") == {"F1": 3, "F2": 3}


def test_a_collection_on_a_cluster_takes_its_shards_and_replicas_from_the_settings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qdrant_client import QdrantClient

    from indexer.store.server import ServerStore
    from tests.support import make_settings

    monkeypatch.setenv("VITA_QDRANT_SHARDS", "6")
    monkeypatch.setenv("VITA_QDRANT_REPLICAS", "2")
    monkeypatch.setenv("VITA_QDRANT_WRITE_CONSISTENCY", "2")
    cfg = make_settings(tmp_path, qdrant_url="http://127.0.0.1:1").store_config()
    client = QdrantClient(location=":memory:")
    asked: dict[str, object] = {}
    real = client.create_collection

    def create(name: str, **kw: object) -> bool:
        asked.update(kw)
        return real(name, vectors_config=kw["vectors_config"])  # local mode has no cluster to spread over

    monkeypatch.setattr(client, "create_collection", create)
    store = ServerStore(client=client, cluster=cfg.cluster)
    store.create("c", 8)
    assert (asked["shard_number"], asked["replication_factor"], asked["write_consistency_factor"]) == (6, 2, 2)
    assert store.exists("c")


def test_new_collections_take_their_hnsw_graph_from_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from qdrant_client import QdrantClient

    from indexer.store.edge import EdgeStore
    from indexer.store.server import ServerStore
    from tests.support import make_settings

    monkeypatch.setenv("VITA_STORE_HNSW_M", "48")
    monkeypatch.setenv("VITA_STORE_HNSW_EF_CONSTRUCT", "300")
    layout = make_settings(tmp_path).store_config().layout
    assert (layout.hnsw_m, layout.hnsw_ef_construct) == (48, 300)
    with EdgeStore(tmp_path / "index", layout) as edge:
        edge.create("c", 8)
    hnsw = json.loads((tmp_path / "index" / "collections" / "c" / "edge_config.json").read_text())["vectors"][""]["hnsw_config"]
    assert (hnsw["m"], hnsw["ef_construct"]) == (48, 300)
    client = QdrantClient(location=":memory:")
    asked: dict[str, object] = {}
    real = client.create_collection

    def create(name: str, **kw: object) -> bool:
        asked.update(kw)
        return real(name, vectors_config=kw["vectors_config"])

    monkeypatch.setattr(client, "create_collection", create)
    ServerStore(client=client, layout=layout).create("c", 8)
    graph = asked["hnsw_config"]
    assert (graph.m, graph.ef_construct) == (48, 300)  # type: ignore[attr-defined]


def test_queries_search_as_wide_as_the_settings_say(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """VITA_STORE_HNSW_EF reaches every query of both backends that does not ask for its own breadth, and
    both re-rank the same share of an int8 copy's candidates."""
    from qdrant_client import QdrantClient

    import indexer.store.edge as edge_mod
    from indexer.store import open_store
    from indexer.store.config import RESCORE_OVERSAMPLING
    from indexer.store.server import ServerStore
    from tests.support import make_settings

    monkeypatch.setenv("VITA_STORE_HNSW_EF", "3072")
    cfg = make_settings(tmp_path).store_config()
    assert cfg.hnsw_ef == 3072
    seen: list[int | None] = []
    rescoring: list[float] = []  # an int8 copy's candidates re-ranked per result (ignored without one)
    real_params = edge_mod.qe.SearchParams

    def params(**kw: Any) -> Any:
        seen.append(kw.get("hnsw_ef"))
        rescoring.append(kw["quantization"].oversampling)
        return real_params(**kw)

    monkeypatch.setattr(edge_mod.qe, "SearchParams", params)
    with open_store(cfg) as edge:
        edge.create("c", 8)
        edge.upsert("c", _points(5))
        edge.query("c", np.ones(8, np.float32))
        edge.query("c", np.ones(8, np.float32), hnsw_ef=64)  # a caller's own breadth wins
    assert seen == [3072, 64]
    assert rescoring == [RESCORE_OVERSAMPLING] * 2
    client = QdrantClient(location=":memory:")
    asked: list[Any] = []
    real_query = client.query_points

    def query_points(name: str, **kw: Any) -> Any:
        asked.append((kw["search_params"].hnsw_ef, kw["search_params"].quantization.oversampling))
        return real_query(name, **kw)

    monkeypatch.setattr(client, "query_points", query_points)
    server = ServerStore(client=client, hnsw_ef=cfg.hnsw_ef)
    server.create("c", 8)
    server.upsert("c", _points(5))
    server.query("c", np.ones(8, np.float32))
    assert asked == [(3072, RESCORE_OVERSAMPLING)]


@pytest.mark.parametrize("dim,compact", [(128, True), (768, True), (128, False)])
def test_vectors_go_on_disk_with_an_int8_copy_unless_told_otherwise(tmp_path: Path, dim: int, compact: bool) -> None:
    """The default at every size; `compact` False: the settings ask for the vectors in RAM."""
    import json

    from indexer.store.edge import EdgeStore
    from indexer.store.server import ServerStore

    layout = Layout() if compact else Layout(on_disk=False, int8=False)
    assert layout.resolved() == (compact, compact)
    with EdgeStore(tmp_path / "index", layout) as edge:
        edge.create("c", dim)
        edge.upsert("c", _points(5, dim))
        assert edge.count("c") == 5
    vec = json.loads((tmp_path / "index" / "collections" / "c" / "edge_config.json").read_text())["vectors"][""]
    assert bool(vec.get("on_disk")) is compact
    assert (vec.get("quantization_config") is not None) is compact
    server = ServerStore(location=":memory:", layout=layout)
    asked: dict[str, Any] = {}
    real = server.client.create_collection

    def create(name: str, **kw: Any) -> bool:  # local mode keeps no quantization config to read back
        asked.update(kw)
        return bool(real(name, vectors_config=kw["vectors_config"]))

    server.client.create_collection = create  # type: ignore[method-assign]
    server.create("c", dim)
    assert bool(asked["vectors_config"].on_disk) is compact
    assert (asked["quantization_config"] is not None) is compact


def test_a_key_without_a_server_is_refused_not_ignored(tmp_path: Path) -> None:
    from indexer.store import StoreConfig

    with pytest.raises(StoreError, match="set its URL too"):
        StoreConfig(index_dir=tmp_path, api_key="secret")
    assert StoreConfig(index_dir=tmp_path, url="http://127.0.0.1:6333", api_key="secret").shared


def test_query_breadth_follows_the_measured_curve() -> None:
    """The breadth of a query that names none: 512 up to 100k points, the measured 3072 at a million,
    growing in between and beyond (never past the cap)."""
    from indexer.store.config import BREADTH_CURVE, HNSW_EF_MAX, breadth_for

    (n0, e0), (n1, e1) = BREADTH_CURVE
    assert breadth_for(10) == breadth_for(n0) == e0
    assert breadth_for(n1) == e1
    sizes = [n0, 2 * n0, 5 * n0, n1, 3 * n1, 10 * n1, 10**9]
    efs = [breadth_for(n) for n in sizes]
    assert efs == sorted(efs)
    assert e0 < breadth_for(3 * n0) < e1
    assert breadth_for(10**12) == HNSW_EF_MAX
    assert all(e % 64 == 0 for e in efs)


def test_a_query_with_no_breadth_searches_as_wide_as_its_collection_needs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No VITA_STORE_HNSW_EF: each collection's queries take the breadth its size calls for, counted
    again when the count is stale; the setting, when given, wins."""
    import indexer.store.config as config
    import indexer.store.edge as edge_mod
    import indexer.store.interface as interface
    from indexer.store.edge import EdgeStore

    seen: list[int | None] = []
    real_params = edge_mod.qe.SearchParams
    monkeypatch.setattr(edge_mod.qe, "SearchParams", lambda **kw: (seen.append(kw.get("hnsw_ef")), real_params(**kw))[1])
    monkeypatch.setattr(config, "BREADTH_CURVE", ((4, 128), (40, 1024)))  # a curve small stores reach
    monkeypatch.setattr(interface, "SIZE_TTL_S", 0.0)  # count every time
    with EdgeStore(tmp_path / "s") as store:
        store.create("small", 8)
        store.upsert("small", _points(3))
        store.create("big", 8)
        store.upsert("big", _points(40))
        store.query("small", np.ones(8, np.float32))
        store.query("big", np.ones(8, np.float32))
        store.upsert("small", [Point(str(uuid.uuid4()), np.ones(8, np.float32), {}) for _ in range(37)])
        store.query("small", np.ones(8, np.float32))  # grown to 40 points: as wide as "big"
    assert seen == [128, 1024, 1024]
    with EdgeStore(tmp_path / "t", hnsw_ef=77) as fixed:
        fixed.create("c", 8)
        fixed.upsert("c", _points(40))
        fixed.query("c", np.ones(8, np.float32))
    assert seen[-1] == 77
