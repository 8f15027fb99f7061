"""`vita index`: plan batches from the catalog, dispatch them to workers, commit, optimize.

Only media not yet indexed for this model are planned, so a re-run does nothing. In the
embedded default this process owns the vector store: it starts its own worker processes
(filesystem broker, no server), receives their points and writes them. A worker process that
dies has its batch redelivered by Celery (late acks); if the whole worker goes, it is restarted
and the unfinished batches are sent again. Point ids are deterministic, so nothing doubles.

The parts: `retry` (the database's outages), `wire` (what travels), `pool` (worker processes),
`dispatch` (batches out and back), `sink` (commits and counts), `report` (what the run says).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from catalog.facade import Catalog
from catalog.prompts import PromptStyle, Template, render, taxon_prompt
from catalog.tables import IndexCollection, IndexEntry, Media, MediaStatus, Taxon
from indexer.build import lineage_payload, trait_keywords
from indexer.model_ref import ModelSpec, describe_model
from indexer.schema import CollectionKind, alias_name, collection_name, taxon_point_id
from indexer.store import VectorStore, open_store
from workers.config import IndexConfig
from workers.dispatch import STALL_S, CeleryRun, run_eager
from workers.pool import WorkerPool
from workers.report import IndexReport
from workers.retry import Notice, patient
from workers.sink import Progress, Sink


@dataclass(frozen=True)
class IndexOptions:
    """How one run goes (the configuration of where things live is `IndexConfig`)."""

    preset: str = "tiny"
    batch_size: int = 64
    workers: int | None = None  # worker processes to start (None: the configuration's)
    start_workers: bool = True  # False: workers started elsewhere take the batches
    eager: bool = False  # in this process, no broker (tests, single-shot scripts)
    retry_failed: bool = False
    limit: int | None = None  # at most this many media (a trial run)
    only: list[int] | None = None  # only these media ids (the benchmarks)
    poll_s: float = 0.02
    stall_s: float = STALL_S


def plan(catalog: Catalog, spec: ModelSpec, collection: str, retry_failed: bool = False,
         limit: int | None = None, only: list[int] | None = None) -> list[int]:
    """Media this model can embed that have no entry in the collection (or a failed one, on retry)."""
    kinds = [k for k in ("audio", "image") if k in spec.modalities]
    with catalog.sessions() as s:
        done = select(IndexEntry.media_id).where(IndexEntry.collection == collection)
        if retry_failed:
            done = done.where(IndexEntry.status == "indexed")
        q = select(Media.id).where(Media.kind.in_(kinds), Media.id.not_in(done)).order_by(Media.id)
        if not retry_failed:
            q = q.where(Media.status != MediaStatus.ERROR.value)
        if only is not None:
            q = q.where(Media.id.in_(only))
        return list(s.scalars(q.limit(limit) if limit else q))


def taxa_prompts(catalog: Catalog, style: PromptStyle = PromptStyle.VITA) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(rank, name, prompt, payload) for every species, genus and family with a full lineage, in the
    model's wording."""
    out = []
    with catalog.sessions() as s:
        taxa = [t for t in s.scalars(select(Taxon).where(Taxon.rank.in_(["species", "genus", "family"])))
                if t.class_name and t.order_name and t.family_name]
        traits = trait_keywords(s, [t.id for t in taxa if t.rank == "species"])
        for t in sorted(taxa, key=lambda t: (t.rank, t.name)):
            if t.rank == "species":
                lin = t.lineage()
                if lin is None:
                    continue
                prompt = render(Template.TAX_COM, lin, t.common_name, style=style)
            else:
                prompt = taxon_prompt(t.rank, t.lineage_names(), style)
            payload = {**{k: v for k, v in lineage_payload(t).items() if v is not None}, "modality": "text",
                       "rank": t.rank, "name": t.name, "prompt": prompt, "traits": traits.get(t.id, [])}
            out.append((t.rank, t.name, prompt, payload))
    return out


def run_index(catalog: Catalog, cfg: IndexConfig, model_ref: str, options: IndexOptions = IndexOptions(), *,
              store: VectorStore | None = None, progress: Progress | None = None,
              notice: Notice | None = None) -> IndexReport:
    """Index every media item this model has not indexed yet (as `options` narrow it); the aliases
    then point at this model's collections, so search uses what is indexed. `store`: an open store
    to write to (default: opened from `cfg` and closed at the end); `progress` is called with
    (media done, media planned), `notice` with a line for the user (a database outage, no worker)."""
    o = options
    t0 = time.monotonic()
    spec = describe_model(model_ref, o.preset)
    media_c = collection_name(cfg.corpus, spec.key, CollectionKind.MEDIA)
    taxa_c = collection_name(cfg.corpus, spec.key, CollectionKind.TAXA)
    report = IndexReport(media_c, taxa_c, spec.ref)
    own_store = store is None
    store = store or open_store(cfg.worker.store)
    commit_here = not cfg.worker.store.shared  # embedded: only this process (the store's owner) may write
    try:
        for name, kind in ((media_c, CollectionKind.MEDIA), (taxa_c, CollectionKind.TAXA)):
            store.create(name, spec.dim)
            patient(lambda: _register(catalog, cfg.corpus, spec, name, kind), notice)  # noqa: B023 - called at once
        todo = patient(lambda: plan(catalog, spec, media_c, o.retry_failed, o.limit, o.only), notice)
        report.planned = len(todo)
        batches = [todo[i:i + o.batch_size] for i in range(0, len(todo), o.batch_size)]
        taxa = patient(lambda: _missing_taxa(catalog, store, taxa_c, spec), notice) if "text" in spec.modalities else []
        sink = Sink(catalog, store, spec, media_c, taxa_c, report, progress, notice, t0=t0)
        if o.eager:
            run_eager(sink, batches, taxa)
        elif batches or taxa:
            pool = WorkerPool(cfg, o.workers or cfg.workers) if o.start_workers else None
            CeleryRun(sink, cfg, pool, batches, taxa, commit_here, o.stall_s, notice).run(o.poll_s)
        t_opt = time.monotonic()
        for name, kind in ((media_c, CollectionKind.MEDIA), (taxa_c, CollectionKind.TAXA)):
            store.optimize(name)
            store.set_alias(alias_name(cfg.corpus, kind), name)
            points = store.count(name)
            patient(lambda: _complete(catalog, name, points), notice)  # noqa: B023 - called at once
        report.optimize_s = time.monotonic() - t_opt
    finally:
        if own_store:
            store.close()
    report.seconds = time.monotonic() - t0
    return report


def _register(catalog: Catalog, corpus: str, spec: ModelSpec, name: str, kind: CollectionKind) -> None:
    with catalog.sessions() as s:
        if s.scalar(select(IndexCollection).where(IndexCollection.name == name)) is None:
            s.add(IndexCollection(name=name, kind=kind.value, alias=alias_name(corpus, kind),
                                  model_ref=spec.ref, model_key=spec.key, preset=spec.preset, dim=spec.dim))
            s.commit()


def _complete(catalog: Catalog, name: str, points: int) -> None:
    with catalog.sessions() as s:
        row = s.scalar(select(IndexCollection).where(IndexCollection.name == name))
        if row is not None:
            row.points, row.completed_at = points, dt.datetime.now(dt.UTC)
            s.commit()


def _missing_taxa(catalog: Catalog, store: VectorStore, taxa_c: str,
                  spec: ModelSpec) -> list[tuple[str, str, dict[str, Any]]]:
    """(point id, prompt, payload) of taxa not yet in the taxa collection."""
    want = [(taxon_point_id(rank, name, spec.key), prompt, payload)
            for rank, name, prompt, payload in taxa_prompts(catalog, PromptStyle(spec.config.prompts))]
    have: set[str] = set()
    for i in range(0, len(want), 512):
        have |= {h.id for h in store.retrieve(taxa_c, [w[0] for w in want[i:i + 512]])}
    return [w for w in want if w[0] not in have]
