"""Evidence of a query's taxon for the hybrid ranking (`indexer.hybrid`): the preset's own heads
with their labels placed in the taxonomy, the labelled neighbours in the query's own modality, and
an indexed item's own label.

Head labels reach taxa through real sources: a BirdNET label is a binomial whose lineage comes
from the catalog, else the eBird/Clements checklist, else WordNet's genus (frogs, insects); an
ImageNet class is a WordNet noun filed under its taxon ("toucan" -> family Ramphastidae), or one
species (`encoders.towers.imagenet_species`). Classes that stand
for one taxon (120 dog breeds) are merged by their maximum, not their sum, so a merged class is
not inflated by the number of classes it merges.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from catalog.names import NameResolver
from catalog.names.lineage import reference_lineage
from catalog.names.wordnet import WordNet
from catalog.taxonomy import RANKS
from encoders.encoder import VitaEncoder
from encoders.towers.imagenet_species import imagenet_lineages
from indexer.filters import Filter
from indexer.hybrid import Evidence, top_species, vote
from indexer.store import Hit, VectorStore

HEAD_TOP = 25  # head classes kept as evidence (the rest carry little mass)
NEIGHBOURS = 32  # labelled items of the query's modality that vote
VOTE_SAMPLE = 100  # indexed items on which the vote's reliability is measured, per modality
SAME_FILE = 0.9999  # a cosine this close to an indexed item: the query is that file (decoded the same way)
MODALITY_WORD = {"audio": "sounds", "image": "photos"}


def lineage_of(names: NameResolver, scientific: str, rank: str = "species") -> dict[str, str]:
    """A taxon's lineage (rank -> name) from the catalog, else the published sources
    (`catalog.names.lineage`), else the taxon alone."""
    held = names.lineage_at(rank, scientific)
    if held:
        return held
    return reference_lineage(names.wordnet, rank, scientific) or {rank: scientific}


def audio_head_evidence(model: VitaEncoder, wave: np.ndarray, names: NameResolver) -> Evidence | None:
    """The sound head's classes (best window per class) as weighted lineages; None without one."""
    head = model.heads().get("audio")
    if head is None or model.cfg.audio is None:
        return None
    from encoders.audio import sliding_windows

    sr, win = model.cfg.audio.sample_rate, head.window_s or model.cfg.audio.window_s
    probs = model.head_scores("audio", [w.samples for w in sliding_windows(wave, sr, win, win)])
    if len(probs) == 0:
        return None
    overall = probs.max(axis=0) * head.events()
    top = np.argsort(-overall)[:HEAD_TOP]
    labels = head.labels
    taxa = [(lineage_of(names, sci), float(overall[i])) for i in top if overall[i] > 0 and (sci := labels[i].scientific)]
    return Evidence(head.title or head.name, [(lin, w) for lin, w in taxa if lin],
                    {sci: labels[i].name for i in top if (sci := labels[i].scientific)})


_IMAGENET_TAXA: weakref.WeakKeyDictionary[NameResolver, list[dict[str, str]]] = weakref.WeakKeyDictionary()


def imagenet_taxa(names: NameResolver, wordnet: WordNet | None) -> list[dict[str, str]]:
    """Per ImageNet class, the lineage it stands for, the catalog's taxa first ({} for a class that is
    no animal taxon); worked out once per resolver (a catalog state), not per photo."""
    if names not in _IMAGENET_TAXA:
        _IMAGENET_TAXA[names] = imagenet_lineages(wordnet, lambda r, n: lineage_of(names, n, r))
    return _IMAGENET_TAXA[names]


def merged_classes(probs: np.ndarray, keys: Sequence[str]) -> dict[str, float]:
    """Classes that stand for one taxon, merged by their maximum (a sum would make "dog", 120
    breeds, outweigh every single-class animal)."""
    out: dict[str, float] = {}
    for p, key in zip(probs, keys):
        if key:
            out[key] = max(out.get(key, 0.0), float(p))
    return out


def image_head_evidence(model: VitaEncoder, image: Any, names: NameResolver,
                        wordnet: WordNet | None) -> Evidence | None:
    """The photo head's (ImageNet's) classes placed in the taxonomy, merged per taxon by their maximum;
    None without one."""
    head = model.heads().get("image")
    if head is None:
        return None
    probs = model.head_scores("image", [image])[0]
    lineages = imagenet_taxa(names, wordnet)
    keys = ["/".join(f"{r}={lin[r]}" for r in RANKS if r in lin) for lin in lineages]
    merged = merged_classes(probs, keys)
    by_key = {k: lin for k, lin in zip(keys, lineages) if k}
    top = sorted(merged.items(), key=lambda kv: -kv[1])[:HEAD_TOP]
    return Evidence(head.title or head.name, [(by_key[k], w) for k, w in top], names.common_names())


def lineage_of_payload(payload: Mapping[str, Any]) -> dict[str, str]:
    """A point's lineage (rank -> name), as deep as its item is identified."""
    return {r: payload[r] for r in RANKS if payload.get(r)}


def nearest_labelled(store: VectorStore, collection: str, vector: np.ndarray, modality: str,
                     exclude: Filter | None = None) -> list[Hit]:
    """The nearest indexed items of the query's own modality (same tower), best first."""
    flt = Filter({"modality": [modality]})
    return store.query(collection, vector, exclude.merged(flt) if exclude else flt, limit=NEIGHBOURS)


def neighbour_evidence(hits: Sequence[Hit], modality: str, common: Mapping[str, str] | None = None,
                       reliability: float = 1.0) -> Evidence:
    """The labels of the query's nearest items of its own modality, as a similarity-weighted vote."""
    labelled = [(lineage_of_payload(h.payload), h.score) for h in hits]
    return vote(f"nearest {MODALITY_WORD.get(modality, modality)}", [(lin, s) for lin, s in labelled if lin], common,
                reliability=reliability)


def same_file_evidence(hits: Sequence[Hit], common: Mapping[str, str] | None = None) -> Evidence:
    """An upload the index already holds (cosine >= SAME_FILE): its catalog label is what it is."""
    return label_evidence([lineage_of_payload(h.payload) for h in hits if h.score >= SAME_FILE], common,
                          "the same file, indexed")


def vote_reliability(store: VectorStore, collection: str, modality: str, sample: int = VOTE_SAMPLE) -> float | None:
    """How often the neighbour vote names an indexed item's own species with the item held out
    (its other windows too), over a sample of the modality's first windows; None with no labelled items."""
    hits, _ = store.scroll_page(collection, Filter({"modality": [modality], "window": ["0"]}), limit=sample,
                                with_vector=True)
    tried = right = 0
    for h in hits:
        species = h.payload.get("species")
        if not species or h.vector is None:
            continue
        near = nearest_labelled(store, collection, h.vector, modality, Filter(exclude={"media_id": [str(h.payload["media_id"])]}))
        ev = neighbour_evidence(near, modality)
        tried += 1
        right += top_species(ev) == species
    return right / tried if tried else None


def label_evidence(lineages: Sequence[Mapping[str, str]], common: Mapping[str, str] | None = None,
                   source: str = "its own label") -> Evidence:
    """An indexed item's own label ("more like this": its identification is known)."""
    return Evidence(source, [(lin, 1.0) for lin in lineages if lin], common or {})
