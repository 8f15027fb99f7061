"""`Searcher`: the thin facade the CLI, the UI and the trait lookup call; the parts do the work.

- `query.QueryEncoder`: text parsing, upload checks, encoding;
- `engine.VectorSearch`: targets and grouping;
- `browse.Browser`: pages, facets, the status overview;
- `join.join`: the catalog join.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sqlalchemy import select

from catalog.facade import Catalog
from catalog.tables import IndexCollection
from catalog.taxonomy import RANKS
from indexer.evidence import (
    audio_head_evidence,
    image_head_evidence,
    label_evidence,
    lineage_of_payload,
    nearest_labelled,
    neighbour_evidence,
    same_file_evidence,
)
from indexer.filters import Filter
from indexer.hybrid import EXPLAIN_FROM, Evidence, Ranking, Scored, combine, fuse
from indexer.parse import Interpretation, Vocabulary
from indexer.schema import RANK_FIELDS, CollectionKind, alias_name
from indexer.search.browse import Browser, Order
from indexer.search.calibrate import Calibration, calibrate
from indexer.search.engine import OVERFETCH, VectorSearch
from indexer.search.join import join
from indexer.search.query import Query, QueryEncoder
from indexer.search.request import GroupBy, Result, SearchRequest, SearchResponse, Target, UnknownTaxon
from indexer.store import StoreConfig, StoreError, VectorStore, open_store

RECHECK_S = 300.0  # how long a searcher trusts its calibration before counting the collection again


class Searcher:
    """Holds the store, the model and the vocabulary; open once, query many times.

    Given a `StoreConfig` it opens (and on `close` closes) the store itself; given an open store,
    it leaves it to the caller.
    """

    def __init__(self, catalog: Catalog, store: VectorStore | StoreConfig, corpus: str = "main") -> None:
        self.catalog = catalog
        self._own_store = isinstance(store, StoreConfig)
        self.store: VectorStore = open_store(store) if isinstance(store, StoreConfig) else store
        try:
            self.media_c = self.store.resolve(alias_name(corpus, CollectionKind.MEDIA))
            self.taxa_c = self.store.resolve(alias_name(corpus, CollectionKind.TAXA))
            with catalog.sessions() as s:
                row = s.scalar(select(IndexCollection).where(IndexCollection.name == self.media_c))
            if row is None:
                raise StoreError(f"collection {self.media_c} is not in this catalog; was it indexed from "
                                 "another data directory?")
        except StoreError:
            self.close()
            raise
        self.model_ref, self.preset = row.model_ref, row.preset
        self.query = QueryEncoder(catalog, self.store, self.media_c, self.model_ref, self.preset)
        self.engine = VectorSearch(self.store, self.media_c, self.taxa_c)
        self.browser = Browser(catalog, self.store, self.media_c, self.taxa_c)
        self._calibration: tuple[float, Calibration] | None = None  # (when checked, what)

    @property
    def model(self) -> Any:
        return self.query.model

    @property
    def vocabulary(self) -> Vocabulary:
        return self.query.vocabulary

    def close(self) -> None:
        if self._own_store:
            self.store.close()

    def __enter__(self) -> Searcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ query vectors

    def audio_vector(self, path: Any) -> np.ndarray:
        return self.query.audio_vector(path)

    def image_vector(self, path: Any) -> np.ndarray:
        return self.query.image_vector(path)

    def media_vector(self, media_ids: list[int]) -> np.ndarray:
        return self.query.media_vector(media_ids)

    # ------------------------------------------------------------ search and browse

    def search(self, req: SearchRequest) -> SearchResponse:
        notes = self.check_taxa(req.filters)  # may respell a value in the catalog's case
        q = self.query.encode(req)
        resp = SearchResponse([], q.target, q.kind, q.embedded_text, q.interpretation, q.filters,
                              notes=[*(q.interpretation.notes if q.interpretation else []), *notes])
        if q.kind != "text" and req.rank is Ranking.HYBRID:
            resp.results = self._hybrid(q, req, resp)
        else:
            resp.results = join(self.catalog, self.engine.run(q.vector, q.target, q.filters, req.k, req.group_by))
            for r in resp.results:
                r.why = "nearest to the words in the shared space" if q.kind == "text" else "nearest in the shared space"
        results = resp.results
        if q.kind == "text" and results and not self._names_something(req, q.interpretation):
            ceiling = self.calibration().ceiling(q.target)
            resp.no_good_match = ceiling is not None and results[0].score <= ceiling
        return resp

    def _hybrid(self, q: Query, req: SearchRequest, resp: SearchResponse) -> list[Result]:
        """Sound, photo and media queries: evidence of the query's taxon (the model's own head, the
        labelled neighbours in its own modality, an indexed item's own label) fused with similarity
        over the embedding's candidates and the likely taxa's items (`indexer.hybrid`)."""
        names = self.catalog.names()
        common = names.common_names()
        evidence: list[Evidence] = []
        if q.kind == "media":
            own = list(self.store.scroll(self.media_c, Filter({"media_id": [str(m) for m in req.media_ids]})))
            evidence.append(label_evidence([lineage_of_payload(h.payload) for h in own], common))
            modality = str(own[0].payload.get("modality", "audio")) if own else "audio"
        else:
            modality = q.kind
            head = (audio_head_evidence(self.model, q.data, names) if q.kind == "audio"
                    else image_head_evidence(self.model, q.data, names, names.wordnet))
            if head is not None:
                evidence.append(head)
        near = nearest_labelled(self.store, self.media_c, q.vector, modality, Filter(exclude=dict(q.filters.exclude)))
        same = same_file_evidence(near, common)  # an upload the index already holds: its label is known
        evidence += [e for e in (same, neighbour_evidence(near, modality, common,
                                                          self.calibration().vote.get(modality, 0.0))) if e.taxa]
        post = combine(evidence)
        resp.ranking, resp.evidence = Ranking.HYBRID, post.sources
        resp.identified = [(r, n, round(p, 4)) for r in reversed(RANKS) for n, p in post.top(r, 2, EXPLAIN_FROM)]
        hits = {h.id: h for h in self.engine.run(q.vector, q.target, q.filters, max(req.k * OVERFETCH, 100),
                                                 GroupBy.NONE)}
        for rank in ("species", "genus", "family"):  # the likely taxa's items, wherever the embedding put them
            wanted = q.filters.keywords.get(rank)
            for name, _ in post.top(rank, 3, EXPLAIN_FROM):
                if wanted and name not in wanted:
                    continue  # the user's filter on this rank holds: a likely taxon outside it is not looked for
                flt = q.filters if wanted else q.filters.merged(Filter({rank: [name]}))
                hits.update((h.id, h) for h in self.engine.run(q.vector, q.target, flt, req.k, GroupBy.NONE)
                            if h.id not in hits)
        scored = fuse(post, [(h.id, h.score, lineage_of_payload(h.payload)) for h in hits.values()])
        key = {GroupBy.SPECIES: "species", GroupBy.RECORDING: "recording"}.get(req.group_by)
        seen: set[str] = set()
        picked: list[Scored] = []
        for sc in scored:
            group = str(hits[sc.key].payload.get(key) or sc.key) if key else sc.key
            if group not in seen:
                seen.add(group)
                picked.append(sc)
            if len(picked) == req.k:
                break
        results = join(self.catalog, [hits[sc.key] for sc in picked])
        for r, sc in zip(results, picked):
            r.relevance, r.why = sc.score, sc.why
        return results

    @staticmethod
    def _names_something(req: SearchRequest, interp: Interpretation | None) -> bool:
        named = interp is not None and any(m.field != "target" for m in interp.matches)
        return named or any(k in RANK_FIELDS for k in req.filters.keywords) or bool(req.filters.traits)

    def check_taxa(self, flt: Filter) -> list[str]:
        """Taxon filter values by rank: a value no source of names knows is refused (UnknownTaxon,
        naming it); one the catalog holds nothing of is kept, with a note saying so."""
        names = self.catalog.names()
        notes = []
        for rank in RANK_FIELDS:
            values = flt.keywords.get(rank, [])
            for i, value in enumerate(values):
                spelt = names.held_name(rank, value)
                if spelt is not None:
                    values[i] = spelt
                    continue
                res = names.resolve(value)
                if res is None or not any(t.rank == rank and t.name.lower() == value.lower()
                                          for m in res.meanings for t in m):
                    raise UnknownTaxon(f"{rank} {value!r} is not a known {rank} name")
                notes.append(f"nothing in the catalog is of {rank} {value}")
        return notes

    def calibration(self) -> Calibration:
        """This index's "no good match" ceilings and neighbour-vote reliability, measured once and kept
        in the catalog beside the collection (again once the collection has grown or shrunk by a
        fifth); checked against the collection at most every RECHECK_S seconds."""
        now = time.monotonic()
        if self._calibration is not None and now - self._calibration[0] < RECHECK_S:
            return self._calibration[1]
        points = self.count()
        with self.catalog.sessions() as s:
            row = s.scalar(select(IndexCollection).where(IndexCollection.name == self.media_c))
            cal = Calibration.from_json(row.calibration if row else None)
            if cal is None or cal.stale(points):
                cal = calibrate(self.model.embed_text, self.engine, points)
                if row is not None:
                    row.calibration = cal.to_json()
                    s.commit()
        self._calibration = (now, cal)
        return cal

    def nearest_species(self, species: str, k: int = 8) -> list[Result]:
        """Other species whose media lie closest to this species' media (mean vector)."""
        hits = list(self.store.scroll(self.media_c, Filter({"species": [species]}), with_vector=True))
        if not hits:
            return []
        v = np.mean([h.vector for h in hits if h.vector is not None], axis=0)
        return join(self.catalog, self.engine.run(v, Target.ANY, Filter(exclude={"species": [species]}), k,
                                                  GroupBy.SPECIES))

    def browse(self, flt: Filter, page: int = 0, per_page: int = 20,
               order: Order = Order.STORE) -> tuple[list[Result], int]:
        """One card per media item (its first window), in `order`; (page, total)."""
        hits, total = self.browser.page(flt, page, per_page, order)
        return join(self.catalog, hits), total

    def count(self, flt: Filter | None = None) -> int:
        return self.browser.count(flt)

    def facets(self, key: str, flt: Filter | None = None, limit: int = 200) -> dict[str, int]:
        return self.browser.facets(key, flt, limit)

    def overview(self) -> dict[str, Any]:
        return self.browser.overview()
