"""Search: one module for the CLI, the UI and the benchmarks.

A query is free text, an audio file, an image file, or media already indexed ("more like this");
the target is audio, image, text (taxa) or any; filters narrow by lineage, traits, licence,
source, date and place; grouping keeps one hit per species or per recording so that one long
recording cannot fill the page. Results carry catalog metadata, time offsets and attribution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select

from catalog.api import Catalog
from catalog.decode import MediaError, inspect, load_audio, load_image
from catalog.models import IndexCollection, Media, MediaKind
from indexer.filters import Filter
from indexer.models import load_model
from indexer.parse import Interpretation, Vocabulary
from indexer.schema import RANK_FIELDS, CollectionKind, alias_name
from indexer.store import Hit, StoreError, VectorStore, open_store
from vita.settings import Settings

TAXA_FIELDS = frozenset({*RANK_FIELDS, "traits", "rank"})  # what a taxon point can be filtered on
OVERFETCH = 8  # grouped queries fetch this many hits per wanted group, then more if needed


class Target(str, Enum):
    AUDIO = "audio"
    IMAGE = "image"
    TEXT = "text"  # taxa: species, genus and family prompts
    ANY = "any"


class GroupBy(str, Enum):
    NONE = "none"
    SPECIES = "species"
    RECORDING = "recording"


class QueryError(ValueError):
    """A query that cannot run: no input, an unreadable upload, unknown media ids."""


@dataclass
class SearchRequest:
    text: str | None = None
    audio: Path | None = None
    image: Path | None = None
    media_ids: list[int] = field(default_factory=list)
    target: Target | None = None  # None: from the text's modality words, else any
    filters: Filter = field(default_factory=Filter)
    k: int = 10
    group_by: GroupBy = GroupBy.NONE
    parse: bool = True  # read taxon, trait and modality words of the text as filters
    ignore: list[tuple[str, str]] = field(default_factory=list)  # parsed (field, value) pairs the user removed


@dataclass
class Result:
    score: float
    modality: str
    species: str | None
    common_name: str | None
    lineage: dict[str, str]
    traits: list[str]
    media_id: int | None = None
    offset_s: float | None = None
    duration_s: float | None = None
    rank: str | None = None  # taxa results
    name: str | None = None
    license: str | None = None
    rights_holder: str | None = None
    attribution: str | None = None
    source: str | None = None
    observed_on: str | None = None
    path: str | None = None
    url: str | None = None
    point_id: str = ""


@dataclass
class SearchResponse:
    results: list[Result]
    target: Target
    query_kind: str  # text | audio | image | media
    embedded_text: str | None = None
    interpretation: Interpretation | None = None
    filters: Filter = field(default_factory=Filter)


class Searcher:
    """Holds the store, the model and the vocabulary; open once, query many times."""

    def __init__(self, catalog: Catalog, settings: Settings, store: VectorStore | None = None) -> None:
        self.catalog, self.settings = catalog, settings
        self._own_store = store is None
        self.store = store or open_store(settings)
        try:
            self.media_c = self.store.resolve(alias_name(settings.corpus, CollectionKind.MEDIA))
            self.taxa_c = self.store.resolve(alias_name(settings.corpus, CollectionKind.TAXA))
        except StoreError:
            self.close()
            raise
        with catalog.sessions() as s:
            row = s.scalar(select(IndexCollection).where(IndexCollection.name == self.media_c))
            if row is None:
                self.close()
                raise StoreError(f"collection {self.media_c} is not in this catalog; was it indexed from "
                                 "another data directory?")
            self.model_ref, self.preset = row.model_ref, row.preset
        self._vocab: Vocabulary | None = None

    @property
    def model(self) -> Any:
        return load_model(self.model_ref, self.preset)

    @property
    def vocabulary(self) -> Vocabulary:
        if self._vocab is None:
            with self.catalog.sessions() as s:
                self._vocab = Vocabulary.from_catalog(s)
        return self._vocab

    def close(self) -> None:
        if self._own_store:
            self.store.close()

    def __enter__(self) -> Searcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ query vectors

    def audio_vector(self, path: Path) -> np.ndarray:
        """An upload is checked like ingest input (size, format, length, silence) before decoding."""
        self._check(path, MediaKind.AUDIO)
        sr = self.model.cfg.audio.sample_rate if self.model.cfg.audio else None
        if sr is None:
            raise QueryError(f"model {self.preset} has no audio tower")
        wave, _ = load_audio(path, sr)
        return self.model.embed_audio([wave], crop="onset")[0]

    def image_vector(self, path: Path) -> np.ndarray:
        self._check(path, MediaKind.IMAGE)
        return self.model.embed_image([load_image(path, self.catalog.limits)])[0]

    def media_vector(self, media_ids: list[int]) -> np.ndarray:
        """The mean of the items' stored vectors (all windows of a recording)."""
        hits = list(self.store.scroll(self.media_c, Filter({"media_id": [str(m) for m in media_ids]}),
                                      with_vector=True))
        if not hits:
            raise QueryError(f"media {media_ids} are not in the index (unknown ids, or not indexed yet)")
        v = np.mean([h.vector for h in hits if h.vector is not None], axis=0)
        return v / max(float(np.linalg.norm(v)), 1e-12)

    def _check(self, path: Path, kind: MediaKind) -> None:
        try:
            inspect(Path(path), kind, self.catalog.limits)
        except MediaError as exc:
            raise QueryError(f"{path}: {exc.stage}: {exc.reason}") from None
        except FileNotFoundError:
            raise QueryError(f"{path}: no such file") from None

    # ------------------------------------------------------------ search

    def search(self, req: SearchRequest) -> SearchResponse:
        flt, target, interp, text = req.filters, req.target, None, None
        if sum(x is not None and x != [] for x in (req.text, req.audio, req.image, req.media_ids)) != 1:
            raise QueryError("give exactly one of: text, an audio file, an image file, media ids")
        if req.text is not None:
            kind = "text"
            text = req.text
            if req.parse:
                interp = self.vocabulary.parse(req.text)
                dropped = [m for m in interp.matches if (m.field, m.value) in set(req.ignore)]
                interp.matches = [m for m in interp.matches if m not in dropped]
                interp.remainder = " ".join([interp.remainder, *(m.phrase for m in dropped
                                                                  if m.field != "target")]).strip()
                parsed = Filter()
                for key, values in interp.filters().items():
                    parsed.add(key, *values)
                flt = flt.merged(parsed)
                target = target or (Target(interp.target) if interp.target else None)
                text = self.vocabulary.prompt_for(interp) or req.text
            vector = self.model.embed_text([text])[0]
        elif req.audio is not None:
            kind, vector = "audio", self.audio_vector(Path(req.audio))
        elif req.image is not None:
            kind, vector = "image", self.image_vector(Path(req.image))
        else:
            kind, vector = "media", self.media_vector(req.media_ids)
            flt = flt.merged(Filter(exclude={"media_id": [str(m) for m in req.media_ids]}))
        target = target or Target.ANY
        results = self._run(vector, target, flt, req.k, req.group_by)
        return SearchResponse(results, target, kind, text, interp, flt)

    # ------------------------------------------------------------ browsing and overview

    def browse(self, flt: Filter, page: int = 0, per_page: int = 20) -> tuple[list[Result], int]:
        """One card per media item (its first window), in store order; (page, total)."""
        first = flt.merged(Filter({"window": ["0"]}))
        total = self.store.count(self.media_c, first)
        hits = []
        for i, h in enumerate(self.store.scroll(self.media_c, first, batch=per_page)):
            if i >= (page + 1) * per_page:
                break
            if i >= page * per_page:
                hits.append(h)
        return self._join(hits), total

    def count(self, flt: Filter | None = None) -> int:
        """Media (not windows) matching a filter."""
        return self.store.count(self.media_c, (flt or Filter()).merged(Filter({"window": ["0"]})))

    def facets(self, key: str, flt: Filter | None = None, limit: int = 200) -> dict[str, int]:
        """Media per value of a payload field (trait facets count `category=label` keywords)."""
        return self.store.facet(self.media_c, key, (flt or Filter()).merged(Filter({"window": ["0"]})), limit)

    def nearest_species(self, species: str, k: int = 8) -> list[Result]:
        """Other species whose media lie closest to this species' media (mean vector)."""
        hits = list(self.store.scroll(self.media_c, Filter({"species": [species]}), with_vector=True))
        if not hits:
            return []
        v = np.mean([h.vector for h in hits if h.vector is not None], axis=0)
        return self._run(v, Target.ANY, Filter(exclude={"species": [species]}), k, GroupBy.SPECIES)

    def overview(self) -> dict[str, Any]:
        """What the index status page shows: collections, counts per modality and split, progress."""
        from catalog.models import IndexEntry

        with self.catalog.sessions() as s:
            cols = [{"name": c.name, "kind": c.kind, "alias": c.alias, "model": c.model_ref, "points": c.points,
                     "completed": c.completed_at.isoformat() if c.completed_at else None}
                    for c in s.scalars(select(IndexCollection).order_by(IndexCollection.id))]
            media = len(s.scalars(select(Media.id)).all())
            done = {status: n for status, n in s.execute(
                select(IndexEntry.status, func.count()).where(IndexEntry.collection == self.media_c)
                .group_by(IndexEntry.status))}
        return {"collections": cols, "media_collection": self.media_c, "taxa_collection": self.taxa_c,
                "points": self.store.count(self.media_c), "taxa_points": self.store.count(self.taxa_c),
                "by_modality": self.facets("modality"), "by_split": self.facets("split"),
                "catalog_media": media, "indexed": done.get("indexed", 0), "failed": done.get("error", 0)}

    def _run(self, vector: np.ndarray, target: Target, flt: Filter, k: int, group_by: GroupBy) -> list[Result]:
        hits: list[tuple[str, Hit]] = []
        if target in (Target.AUDIO, Target.IMAGE, Target.ANY):
            media_flt = flt if target is Target.ANY else flt.merged(Filter({"modality": [target.value]}))
            hits += [(self.media_c, h) for h in self._grouped(self.media_c, vector, media_flt, k, group_by)]
        if target in (Target.TEXT, Target.ANY):
            taxa_flt = _restrict(flt, TAXA_FIELDS)
            if taxa_flt is not None:
                hits += [(self.taxa_c, h) for h in self._grouped(self.taxa_c, vector, taxa_flt, k,
                                                                   GroupBy.NONE)]
        hits.sort(key=lambda ch: -ch[1].score)
        return self._join([h for _, h in hits[:k]])

    def _grouped(self, collection: str, vector: np.ndarray, flt: Filter, k: int, group_by: GroupBy) -> list[Hit]:
        if group_by is GroupBy.NONE:
            return self.store.query(collection, vector, flt, limit=k)
        key = "species" if group_by is GroupBy.SPECIES else "recording"
        fetch = k * OVERFETCH
        while True:
            hits = self.store.query(collection, vector, flt, limit=fetch)
            best: dict[str, Hit] = {}
            for h in hits:  # best first, so the first hit of a group is its best
                best.setdefault(str(h.payload.get(key, h.id)), h)
            if len(best) >= k or len(hits) < fetch or fetch >= 64 * k:
                return list(best.values())[:k]
            fetch *= 4

    def _join(self, hits: list[Hit]) -> list[Result]:
        ids = {int(h.payload["media_id"]) for h in hits if "media_id" in h.payload}
        with self.catalog.sessions() as s:
            media = {m.id: m for m in s.scalars(select(Media).where(Media.id.in_(ids)))} if ids else {}
        out = []
        for h in hits:
            p = h.payload
            m = media.get(int(p["media_id"])) if "media_id" in p else None
            out.append(Result(
                score=round(h.score, 4), modality=p.get("modality", "?"), species=p.get("species"),
                common_name=p.get("common_name"), lineage={r: p[r] for r in RANK_FIELDS if p.get(r)},
                traits=list(p.get("traits", [])), media_id=p.get("media_id"), offset_s=p.get("offset_s"),
                duration_s=p.get("duration_s"), rank=p.get("rank"), name=p.get("name"),
                license=p.get("license"), rights_holder=p.get("rights_holder"),
                attribution=m.attribution if m else None, source=p.get("source"), observed_on=p.get("observed_on"),
                path=m.path if m else None, url=m.url if m else None, point_id=h.id))
        return out


def _restrict(flt: Filter, allowed: frozenset[str]) -> Filter | None:
    """The filter as it applies to taxa; None when it names media-only fields (licence, date, place),
    since no taxon can satisfy those."""
    if flt.date_from or flt.date_to or flt.bbox or any(k not in allowed for k in flt.keywords):
        return None
    return Filter(dict(flt.keywords), {k: v for k, v in flt.exclude.items() if k in allowed},
                  traits=dict(flt.traits))
