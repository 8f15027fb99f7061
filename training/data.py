"""Training examples from the catalog, balanced epochs, and decoded-media caches.

One epoch takes at most `cap` recordings per species (BioVITA: 20) and tops rare species up
to `floor` by resampling, so common species do not drown the rest.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.decode import load_audio, load_image
from catalog.tables import Media, MediaKind, Split, Taxon
from catalog.taxonomy import Lineage
from encoders.audio import random_crop


@dataclass(frozen=True, slots=True)
class Example:
    media_id: int
    path: str
    species: int  # index into the SpeciesTable
    kind: str


@dataclass
class SpeciesTable:
    """The species a run knows, in a fixed order; `index` maps a name to its row."""

    names: list[str]
    lineages: list[Lineage]
    common: list[str | None]
    split_role: list[str | None]

    @property
    def index(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.names)}

    def __len__(self) -> int:
        return len(self.names)


def species_table(session: Session) -> SpeciesTable:
    rows = session.scalars(select(Taxon).where(Taxon.rank == "species").order_by(Taxon.name)).all()
    pairs = [(t, lin) for t in rows if (lin := t.lineage()) is not None]
    return SpeciesTable(
        names=[t.name for t, _ in pairs],
        lineages=[lin for _, lin in pairs],
        common=[t.common_name for t, _ in pairs],
        split_role=[t.split_role for t, _ in pairs],
    )


def examples(session: Session, table: SpeciesTable, kind: MediaKind, splits: Iterable[Split]) -> list[Example]:
    idx = table.index
    q = (select(Media.id, Media.path, Taxon.name).join(Taxon, Media.taxon_id == Taxon.id)
         .where(Media.kind == kind.value, Media.split.in_([s.value for s in splits]), Media.status != "error")
         .order_by(Media.id))
    return [Example(mid, path, idx[name], kind.value) for mid, path, name in session.execute(q) if name in idx]


def balanced_epoch(items: Sequence[Example], cap: int, floor: int, rng: random.Random) -> list[Example]:
    """At most `cap` and at least `floor` (resampled) items per species, shuffled."""
    by_species: dict[int, list[Example]] = defaultdict(list)
    for e in items:
        by_species[e.species].append(e)
    out: list[Example] = []
    for group in by_species.values():
        pick = rng.sample(group, min(cap, len(group)))
        while len(pick) < floor:
            pick.append(rng.choice(group))
        out += pick
    rng.shuffle(out)
    return out


def batches(items: Sequence[Example], size: int) -> list[list[Example]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


class MediaCache:
    """Decoded audio (at the model's rate) and images, kept in memory across epochs."""

    def __init__(self, sample_rate: int | None) -> None:
        self.sample_rate = sample_rate
        self._audio: dict[str, np.ndarray] = {}
        self._images: dict[str, Image.Image] = {}
        self._features: dict[str, torch.Tensor] = {}

    def features(self, featurize: Callable[[list[np.ndarray]], torch.Tensor], path: str, window_s: float,
                 rng: np.random.Generator, grid_s: float | None = None, front_end: str = "clap") -> torch.Tensor:
        """The model's input for a random window (mel for HTS-AT, samples for BirdNET); clips that
        fit in one window never change between epochs, so theirs are computed once. With `grid_s`
        a crop starts on a multiple of it, so a frozen tower sees few distinct windows per file.
        The "onset" front end zero-pads a short clip instead of repeating it, as BioVITA's training
        code reads audio (a random window of a long clip, zeros after a short one)."""
        assert self.sample_rate is not None
        wave = self.audio(path)
        n = int(window_s * self.sample_rate)
        if front_end == "onset" and len(wave) < n:
            wave = np.pad(wave, (0, n - len(wave)))
        if len(wave) > n:
            return featurize([random_crop(wave, self.sample_rate, window_s, rng, grid_s)])
        if path not in self._features:
            self._features[path] = featurize([wave])
        return self._features[path]

    def audio(self, path: str) -> np.ndarray:
        if path not in self._audio:
            self._audio[path] = load_audio(Path(path), self.sample_rate)[0]
        return self._audio[path]

    def image(self, path: str) -> Image.Image:
        if path not in self._images:
            self._images[path] = load_image(Path(path))
        return self._images[path]
