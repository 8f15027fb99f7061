"""The hybrid ranking (`indexer.hybrid`) on benchmark queries held out of the index, as the
searcher would rank them for a field-guide user's own photo or recording: evidence from the
model's heads (where the preset has them) and from the labelled items of the query's own modality
(the query itself left out), fused with similarity. Used by the real-media suite and beside the
embedding rows of BioVITA Bench.

"More like this" on an item already in the catalog may also use that item's own label; it is the
easier case and is measured apart (`label_known=True`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.data import BenchItem, Embedded, MediaItem, Modality
from indexer.evidence import NEIGHBOURS, label_evidence
from indexer.hybrid import SIMILARITY_WEIGHT, Evidence, Posterior, agreement, combine, top_species, vote

Item = BenchItem | MediaItem


def ranks_of(it: Item) -> dict[str, str]:
    """rank -> name, class downwards, of an item identified at any rank."""
    if isinstance(it, MediaItem):
        return it.ranks
    lin = it.lineage
    return {"class": lin.class_, "order": lin.order, "family": lin.family, "genus": lin.genus, "species": lin.species}


def neighbour_vote(pool: Sequence[Item], emb: Embedded, vector: np.ndarray, held_out: str,
                   reliability: float) -> Evidence:
    """The labelled neighbours of a query among `pool` (its own modality), itself left out."""
    others = [i for i in pool if i.key != held_out and i.key in emb.row]
    if not others:
        return vote("nearest", [])
    sims = emb.of([i.key for i in others]) @ vector
    top = np.argsort(-sims)[:NEIGHBOURS]
    return vote("nearest", [(ranks_of(others[j]), float(sims[j])) for j in top], reliability=reliability)


def vote_reliability(pool: Sequence[Item], emb: Embedded, sample: int | None = None) -> float:
    """Leave-one-out: how often the neighbour vote names an item's own species (what the index
    measures on its own items), over `sample` items of the pool (all by default)."""
    named = [it for it in pool if ranks_of(it).get("species") and it.key in emb.row]
    if sample is not None and len(named) > sample:
        named = [named[i] for i in np.random.default_rng(0).choice(len(named), sample, replace=False)]
    if len(pool) < 2 or not named:
        return 0.0
    right = sum(top_species(neighbour_vote(pool, emb, emb.of([it.key])[0], it.key, 1.0)) == ranks_of(it)["species"]
                for it in named)
    return right / len(named)


HeadFn = Callable[[Item], Evidence | None]


def head_evidence(model: Any, names: Any, waves: Mapping[str, np.ndarray]) -> HeadFn:
    """The preset's heads on a query (BirdNET for a sound, ImageNet for a photo); None without them."""
    from catalog.decode import load_image
    from indexer.evidence import audio_head_evidence, image_head_evidence

    def run(it: Item) -> Evidence | None:
        if it.modality is Modality.AUDIO and it.key in waves:
            return audio_head_evidence(model, waves[it.key], names)
        if it.modality is Modality.IMAGE and it.path is not None:
            return image_head_evidence(model, load_image(Path(it.path)), names, names.wordnet)
        return None

    return run


@dataclass
class HeldOutEvidence:
    """Each query's posterior, worked out once: heads and the neighbour vote of its own modality."""

    items: Sequence[Item]
    emb: Embedded
    head: HeadFn | None = None
    common: Mapping[str, str] = field(default_factory=dict)
    label_known: bool = False  # "more like this": the query's own label is evidence too
    _reliability: dict[Modality, float] = field(default_factory=dict)
    _posterior: dict[str, Posterior] = field(default_factory=dict)

    def pool(self, modality: Modality) -> list[Item]:
        return [i for i in self.items if i.modality is modality and i.key in self.emb.row]

    def posterior(self, it: Item) -> Posterior:
        if it.key not in self._posterior:
            pool = self.pool(it.modality)
            if it.modality not in self._reliability:
                self._reliability[it.modality] = vote_reliability(pool, self.emb, sample=200)
            vector = self.emb.of([it.key])[0]
            head = self.head(it) if self.head is not None else None
            evidence = [e for e in (head, neighbour_vote(pool, self.emb, vector, it.key, self._reliability[it.modality]))
                        if e is not None]
            if self.label_known:
                evidence.append(label_evidence([ranks_of(it)]))
            self._posterior[it.key] = combine([Evidence(e.source, e.taxa, self.common, e.reliability)
                                               for e in evidence])
        return self._posterior[it.key]


def hybrid_species_scores(evidence: HeldOutEvidence, by_key: Mapping[str, BenchItem]) -> Any:
    """BioVITA Bench's species scores under the hybrid ranking: a candidate species' agreement with
    the query's posterior (the same for all its items) plus the similarity weight times its best item's
    similarity, which is the best fused score over its items."""
    from bench.retrieval import Scenario, Task

    def scores(sc: Scenario, ts: list[Task], groups: dict[str, list[str]], species: list[str]) -> np.ndarray:
        emb = evidence.emb
        q = emb.of([t.query for t in ts])
        lineages = [ranks_of(by_key[groups[s][0]]) for s in species]
        out = np.zeros((len(ts), len(species)), dtype=np.float32)
        for j, s in enumerate(species):
            out[:, j] = SIMILARITY_WEIGHT * (q @ emb.of(groups[s]).T).max(axis=1)
        for i, t in enumerate(ts):
            post = evidence.posterior(by_key[t.query])
            if not post.empty:
                out[i] += np.array([agreement(post, lin) for lin in lineages], dtype=np.float32)
        return out

    return scores
