"""`vita identify`: what is this sound or photo?

Two answers side by side, each a list of species with names, lineage, known traits and a score:
- the tower's own head, where the model has one (the field preset: BirdNET's 6,522 labels for a
  sound, per window and overall, optionally narrowed by BirdNET's range model for a place and
  date; ImageNet's classes for a photo, matched to catalog species by name where they match);
- the retrieval answer: a similarity vote of the nearest indexed species (any preset, once indexed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from catalog.errors import ConfigError
from catalog.queries import SpeciesNotFound
from catalog.tables import MediaKind
from indexer.search import QueryError
from indexer.traitlookup import nearest_species

if TYPE_CHECKING:
    from PIL import Image

    from catalog.facade import Catalog
    from encoders.encoder import VitaEncoder
    from indexer.search.facade import Searcher

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac", ".opus", ".aif", ".aiff", ".wma"}


@dataclass
class Guess:
    name: str  # scientific name, or the head's label when it is not a species we can name
    common_name: str | None
    score: float
    in_catalog: bool = False
    lineage: dict[str, str] = field(default_factory=dict)
    traits: dict[str, list[str]] = field(default_factory=dict)
    rank: str = "species"  # the nearest items identified only to a genus, family, ... answer at that rank


@dataclass
class WindowGuesses:
    offset_s: float
    duration_s: float
    guesses: list[Guess]


@dataclass
class Identification:
    query: str  # the file's name
    modality: str
    head: str | None  # "birdnet" | "imagenet" | None (the model has no head)
    overall: list[Guess] = field(default_factory=list)  # the head's answer for the whole file
    windows: list[WindowGuesses] = field(default_factory=list)  # a sound: the head per window
    nearest: list[Guess] = field(default_factory=list)  # the retrieval vote of the nearest indexed species
    range_filter: str | None = None  # "lat, lon, week" when the range model narrowed the head
    notes: list[str] = field(default_factory=list)


def _kind(path: Path) -> MediaKind:
    return MediaKind.AUDIO if path.suffix.lower() in AUDIO_SUFFIXES else MediaKind.IMAGE


class SpeciesNames:
    """Catalog lookups by scientific, then common name, remembered per call."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._seen: dict[str, Any] = {}

    def card(self, *names: str | None) -> Any:
        for n in names:
            if not n:
                continue
            if n not in self._seen:
                try:
                    card = self.catalog.species(n)
                    self._seen[n] = card if card.rank == "species" else None  # a group's name is not a species
                except SpeciesNotFound:
                    self._seen[n] = None
            if self._seen[n] is not None:
                return self._seen[n]
        return None

    def guess(self, scientific: str, common: str | None, score: float) -> Guess:
        card = self.card(scientific, common)
        if card is None:
            return Guess(scientific, common, round(float(score), 4))
        return Guess(card.name, card.common_name or common, round(float(score), 4), True, dict(card.lineage),
                     {cat: [v[0] for v in values] for cat, values in card.traits.items()})


def _top(probs: np.ndarray, labels: Sequence[tuple[str, str | None]], names: SpeciesNames, k: int) -> list[Guess]:
    order = np.argsort(-probs)[:k]
    return [names.guess(labels[i][0], labels[i][1], float(probs[i])) for i in order if probs[i] > 0]


def identify(catalog: Catalog, path: Path, *, model: VitaEncoder | None = None, searcher: Searcher | None = None,
             lat: float | None = None, lon: float | None = None, date: dt.date | None = None,
             k: int = 5) -> Identification:
    """Identify one file with `model` (default: the searcher's). Without a searcher (nothing
    indexed yet) only the head answers; without a head only the retrieval vote does."""
    path = Path(path)
    if model is None:
        if searcher is None:
            raise ConfigError("identify needs a model or an index to search")
        model = searcher.model
    from indexer.search.query import check_upload

    kind = _kind(path)
    sr = model.cfg.audio.sample_rate if kind is MediaKind.AUDIO and model.cfg.audio else None
    data = check_upload(path, kind, catalog.limits, sr)  # checked and decoded once, for head and retrieval
    out = Identification(path.name, kind.value, None)
    names = SpeciesNames(catalog)
    if (lat is None) != (lon is None):
        raise QueryError("give both --lat and --lon, or neither")
    if kind is MediaKind.AUDIO:
        _audio_head(model, data, names, out, lat, lon, date, k)
    else:
        _image_head(model, data, names, out, k)
    if searcher is not None:
        if searcher.model is not model:  # another model's space: it reads the file its own way
            vector = searcher.audio_vector(path) if kind is MediaKind.AUDIO else searcher.image_vector(path)
        elif kind is MediaKind.AUDIO:
            vector = model.embed_audio([data], crop="onset")[0]
        else:
            vector = model.embed_image([data])[0]
        for sp, score in nearest_species(searcher, vector, kind.value)[:k]:
            out.nearest.append(names.guess(sp, None, score))
        out.nearest = sorted([*out.nearest, *_nearest_above_species(searcher, vector, kind.value)],
                             key=lambda g: -g.score)[:k]
    else:
        out.notes.append("nothing indexed yet: no retrieval answer (run `vita index`)")
    return out


def _nearest_above_species(searcher: Searcher, vector: np.ndarray, modality: str) -> list[Guess]:
    """Indexed items identified only to a genus, family, order or class among the nearest: each such
    taxon once, at its rank, with its best similarity."""
    from indexer.evidence import NEIGHBOURS, lineage_of_payload, nearest_labelled

    best: dict[str, Guess] = {}
    for h in nearest_labelled(searcher.store, searcher.media_c, vector, modality):
        lineage = lineage_of_payload(h.payload)
        if "species" in lineage or not lineage:
            continue
        rank = next(r for r in ("genus", "family", "order", "class") if r in lineage)
        best.setdefault(lineage[rank], Guess(lineage[rank], None, round(float(h.score), 4), True, lineage, {}, rank))
    return list(best.values())[:NEIGHBOURS]


def _audio_head(model: VitaEncoder, wave: np.ndarray, names: SpeciesNames, out: Identification,
                lat: float | None, lon: float | None, date: dt.date | None, k: int) -> None:
    head = model.heads().get("audio")
    if head is None or model.cfg.audio is None:
        out.notes.append(f"the {model.cfg.name} model has no sound classifier; retrieval answer only")
        return
    from encoders.audio import sliding_windows
    from encoders.towers.birdnet import RangeModel, week_of

    sr, win = model.cfg.audio.sample_rate, head.window_s or model.cfg.audio.window_s
    windows = sliding_windows(wave, sr, win, win)
    probs = model.head_scores("audio", [w.samples for w in windows])
    keep = head.events()  # no "Engine", "Noise", ... answers
    if lat is not None and lon is not None and head.name == "birdnet":
        week = week_of(date) if date else -1
        keep &= RangeModel().allowed(lat, lon, week)
        out.range_filter = f"{lat:.3f}, {lon:.3f}, week {week}"
    probs = probs * keep
    labels = [(lab.scientific or lab.name, lab.name) for lab in head.labels]
    out.head = head.name
    for w, p in zip(windows, probs):
        out.windows.append(WindowGuesses(round(w.offset_s, 2), round(min(win, len(wave) / sr - w.offset_s), 2),
                                         _top(p, labels, names, k)))
    out.overall = _top(probs.max(axis=0), labels, names, k)  # present if any window hears it


def _image_head(model: VitaEncoder, image: Image.Image, names: SpeciesNames, out: Identification, k: int) -> None:
    head = model.heads().get("image")
    if head is None:
        out.notes.append(f"the {model.cfg.name} model has no image classifier; retrieval answer only")
        return
    from encoders.towers.imagenet_species import CATS, DOGS, species_of
    from indexer.evidence import merged_classes

    probs = model.head_scores("image", [image])[0]
    out.head = head.name
    image_labels = [lab.name for lab in head.labels]
    # the classes that are one species answer once, with their best class's probability (a sum would
    # let the 120 breeds of dog outweigh every other animal); other classes ("tree frog") are answers
    # of their own, as their label
    keys = [species_of(i) or lab for i, lab in enumerate(image_labels)]
    merged = merged_classes(probs, keys)
    common: dict[str, str] = {}
    for i, (key, lab) in enumerate(zip(keys, image_labels)):
        common.setdefault(key, "dog" if i in DOGS else "cat" if i in CATS else lab)
    keys = sorted(merged, key=lambda key: -merged[key])[:k]
    out.overall = [names.guess(key, common[key] if key != common[key] else None, merged[key]) for key in keys]
