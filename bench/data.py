"""The test media as a small typed manifest (one row per item, keyed by id), and their embeddings.

Benchmarks never read the catalog beyond this: an item is an audio clip, a photo or a species'
text prompt of a test split, with its lineage and whether its species was seen in training.
Tests build manifests by hand, so every suite runs on synthetic data too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np
from sqlalchemy import select

from catalog.errors import NotFoundError
from catalog.facade import Catalog
from catalog.prompts import PromptStyle, Template, render
from catalog.tables import Media, Split, Taxon
from catalog.taxonomy import Lineage


class Modality(str, Enum):
    AUDIO = "audio"
    IMAGE = "image"
    TEXT = "text"

    @property
    def letter(self) -> str:
        return {"audio": "A", "image": "I", "text": "T"}[self.value]


class Group(str, Enum):
    SEEN = "seen"
    UNSEEN = "unseen"


SPLIT_OF = {Group.SEEN: Split.TEST_SEEN, Group.UNSEEN: Split.TEST_UNSEEN}


@dataclass(frozen=True, slots=True)
class BenchItem:
    key: str  # "audio:<media id>", "image:<media id>", "text:<species>"
    modality: Modality
    lineage: Lineage
    group: Group
    path: str | None = None  # media file; None for text
    common: str | None = None

    @property
    def species(self) -> str:
        return self.lineage.species

    def taxon(self, level: str) -> str:
        return {"species": self.lineage.species, "genus": self.lineage.genus,
                "family": self.lineage.family, "class": self.lineage.class_}[level]


def held_out_manifest(catalog: Catalog, groups: Iterable[Group] = tuple(Group)) -> list[BenchItem]:
    """Every usable test-split audio clip and photo, and one text item per species that has media there."""
    items: list[BenchItem] = []
    with catalog.sessions() as s:
        for group in groups:
            rows = s.execute(select(Media, Taxon).join(Taxon, Media.taxon_id == Taxon.id)
                             .where(Media.split == SPLIT_OF[group].value, Media.status != "error",
                                    Taxon.rank == "species").order_by(Media.id)).all()
            species: dict[str, BenchItem] = {}
            for m, t in rows:
                lin = t.lineage()
                if lin is None or m.kind not in ("audio", "image"):
                    continue
                items.append(BenchItem(f"{m.kind}:{m.id}", Modality(m.kind), lin, group, m.path, t.common_name))
                species.setdefault(t.name, BenchItem(f"text:{t.name}", Modality.TEXT, lin, group, None, t.common_name))
            items += species.values()
    return items


@dataclass
class Embedded:
    """Item keys and their L2-normalised vectors, in one matrix."""

    keys: list[str]
    vectors: np.ndarray

    def __post_init__(self) -> None:
        self.row = {k: i for i, k in enumerate(self.keys)}

    def of(self, keys: list[str]) -> np.ndarray:
        return self.vectors[[self.row[k] for k in keys]]


@dataclass(frozen=True, slots=True)
class MediaItem:
    """A real media file identified at whatever rank (rank -> name, class downwards): the real-media
    corpora's items, some of which are identified only to a genus, family or order."""

    key: str  # "audio:<media id>", "image:<media id>"
    modality: Modality
    ranks: dict[str, str]
    path: str | None = None

    def taxon(self, level: str) -> str | None:
        return self.ranks.get(level)


def _path(it: BenchItem | MediaItem) -> Path:
    if it.path is None:
        raise NotFoundError(f"bench item {it.key} has no media file")
    return Path(it.path)


def embed_items(model: object, items: Sequence[BenchItem | MediaItem], template: Template = Template.COM,
                waves: dict[str, np.ndarray] | None = None) -> Embedded:
    """Embed with any encoder (`embed_audio`/`embed_image`/`embed_text`); sounds are onset-cropped as
    BioVITA's evaluation does, text is the species' prompt in `template`. `waves` keeps decoded
    sounds (at the model's rate) across calls, so several models share one decode."""
    from catalog.decode import load_audio, load_image

    keys: list[str] = []
    parts: list[np.ndarray] = []
    cfg = getattr(model, "cfg", None)
    for modality in Modality:
        chosen = [it for it in items if it.modality is modality]
        if not chosen or (cfg is not None and modality.value not in cfg.modalities):
            continue
        if modality is Modality.AUDIO:
            rate = cfg.audio.sample_rate if cfg is not None and cfg.audio else None
            cache = waves if waves is not None else {}
            for it in chosen:
                if it.key not in cache:
                    cache[it.key] = load_audio(_path(it), rate)[0]
            vec = model.embed_audio([cache[it.key] for it in chosen])  # type: ignore[attr-defined]  # model: any encoder, passed as object
        elif modality is Modality.IMAGE:
            vec = model.embed_image([load_image(_path(it)) for it in chosen])  # type: ignore[attr-defined]  # model: a VitaEncoder passed as object
        else:
            style = PromptStyle(cfg.prompts if cfg is not None else PromptStyle.VITA)
            prompts = [render(template, it.lineage, it.common, style=style) for it in chosen if isinstance(it, BenchItem)]
            vec = model.embed_text(prompts)  # type: ignore[attr-defined]  # model: any encoder, passed as object
        keys += [it.key for it in chosen]
        parts.append(np.asarray(vec, dtype=np.float32))
    dim = parts[0].shape[1] if parts else 1
    return Embedded(keys, np.concatenate(parts) if parts else np.zeros((0, dim), np.float32))
