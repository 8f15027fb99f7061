"""Trait lookup: known traits of a species; for a sound or photo, traits predicted two ways,
each with a confidence: the linear probes (`vita train-traits`) and a similarity-weighted vote
of the nearest species in the index (whose traits ride on every point's payload)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from catalog.queries import find_species
from catalog.traits import CATEGORIES, TraitKind, split_keyword
from indexer.filters import Filter
from indexer.search import QueryError

if TYPE_CHECKING:
    from indexer.search.facade import Searcher

VOTE_SPECIES = 10  # nearest species that vote
VOTE_TEMPERATURE = 0.05  # softmax temperature over their similarities


@dataclass
class TraitReport:
    query: str
    species: str | None = None  # the species when known (a species lookup, or media ids)
    known: dict[str, list[str]] = field(default_factory=dict)
    probes: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # category -> (label, p), best first
    neighbours: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    nearest_species: list[tuple[str, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def species_traits(searcher: Searcher, name: str) -> TraitReport:
    """A species' known traits, by any of its names; a group's name ("owls") is refused with its species."""
    with searcher.catalog.sessions() as s:
        name = find_species(s, name, searcher.catalog.names()).name
    card = searcher.catalog.species(name)
    return TraitReport(f"species {card.name}", card.name,
                       {cat: [v[0] for v in values] for cat, values in card.traits.items()})


def predict_traits(searcher: Searcher, *, audio: Path | None = None, image: Path | None = None,
                   media_ids: list[int] | None = None) -> TraitReport:
    if audio is not None:
        modality, vector, query = "audio", searcher.audio_vector(audio), str(audio)
    elif image is not None:
        modality, vector, query = "image", searcher.image_vector(image), str(image)
    elif media_ids:
        vector = searcher.media_vector(media_ids)
        hits = list(searcher.store.scroll(searcher.media_c, Filter({"media_id": [str(media_ids[0])]})))
        modality, query = hits[0].payload["modality"], f"media {media_ids}"
    else:
        raise QueryError("give an audio file, an image file or media ids")
    report = TraitReport(query)
    if media_ids:
        report.species = hits[0].payload.get("species")
        if report.species:
            report.known = species_traits(searcher, report.species).known
    exclude = Filter(exclude={"media_id": [str(m) for m in media_ids or []]})
    _vote(searcher, vector, modality, exclude, report)
    _probe(searcher, vector, modality, report)
    return report


def _nearest(searcher: Searcher, vector: np.ndarray, modality: str,
             exclude: Filter | None = None) -> list[tuple[str, tuple[float, list[str]]]]:
    """The nearest indexed species of a modality, best first: (species, (best score, its traits))."""
    flt = Filter({"modality": [modality]})
    hits = searcher.store.query(searcher.media_c, vector, exclude.merged(flt) if exclude else flt,
                                limit=VOTE_SPECIES * 8)
    best: dict[str, tuple[float, list[str]]] = {}
    for h in hits:
        sp = h.payload.get("species")
        if sp and sp not in best:
            best[sp] = (h.score, list(h.payload.get("traits", [])))
    return list(best.items())[:VOTE_SPECIES]


def nearest_species(searcher: Searcher, vector: np.ndarray, modality: str) -> list[tuple[str, float]]:
    """(species, similarity of its closest indexed item), best first: the retrieval answer to "what is this?"."""
    return [(sp, round(score, 4)) for sp, (score, _) in _nearest(searcher, vector, modality)]


def _vote(searcher: Searcher, vector: np.ndarray, modality: str, exclude: Filter, report: TraitReport) -> None:
    top = _nearest(searcher, vector, modality, exclude)
    if not top:
        report.notes.append("no indexed neighbours to vote")
        return
    report.nearest_species = [(sp, round(score, 4)) for sp, (score, _) in top]
    scores = np.array([s for _, (s, _) in top])
    w = np.exp((scores - scores.max()) / VOTE_TEMPERATURE)
    for cat in CATEGORIES:
        votes: dict[str, float] = defaultdict(float)
        total = 0.0
        for weight, (_, (_, traits)) in zip(w, top):
            labels = [label for key, label in map(split_keyword, traits) if key == cat.key]
            if not labels and cat.kind is not TraitKind.BINARY:
                continue  # this neighbour's value is unknown: it does not vote here
            total += weight
            for lab in labels:
                votes[lab] += weight
        if total > 0:
            report.neighbours[cat.key] = sorted(((lab, round(float(votes[lab] / total), 4)) for lab in cat.labels),
                                                key=lambda t: -t[1])


def _probe(searcher: Searcher, vector: np.ndarray, modality: str, report: TraitReport) -> None:
    from training.probes import TraitProbes, probes_dir

    directory = probes_dir(searcher.model_ref, modality)
    if not (directory / "probes.json").is_file():
        report.notes.append(f"no {modality} trait probes next to the model (run `vita train-traits "
                            f"--modality {modality}`)")
        return
    probes = TraitProbes.load(directory)
    report.probes = probes.predict(vector[None, :])[0]
