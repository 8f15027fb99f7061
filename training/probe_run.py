"""`vita train-traits`: embed the training media with a frozen encoder, fit the probes, save them
next to the encoder (`<model>/probes-<modality>/`; `preset:field`: in its cache, see `probes_dir`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from catalog.errors import ConfigError
from catalog.facade import Catalog
from catalog.tables import MediaKind, Split
from catalog.traits import CATEGORIES, TraitKind
from encoders.factory import PRESET_REF, create_encoder
from training.data import MediaCache, examples, species_table
from training.probes import TraitProbes, fit_probes, probes_dir, species_traits, targets


def embed_items(model: Any, items: list[Any], cache: MediaCache, kind: MediaKind) -> np.ndarray:
    if kind is MediaKind.AUDIO:
        return model.embed_audio([cache.audio(e.path) for e in items])
    return model.embed_image([cache.image(e.path) for e in items])


def train_trait_probes(catalog: Catalog, checkpoint: Path | str, modality: str = "audio") -> dict[str, Any]:
    kind = MediaKind(modality)
    text = str(checkpoint)
    model = (create_encoder(text.removeprefix(PRESET_REF)) if text.startswith(PRESET_REF)
             else create_encoder(checkpoint=checkpoint))
    with catalog.sessions() as s:
        table = species_table(s)
        items = examples(s, table, kind, [Split.TRAIN])
        facts_by_name = species_traits(s, table.names)
    if not items:
        raise ConfigError(f"no training {modality} in the catalog")
    cache = MediaCache(model.cfg.audio.sample_rate if model.cfg.audio else None)
    x = embed_items(model, items, cache, kind)
    facts = [facts_by_name[table.names[e.species]] for e in items]
    result = fit_probes(x, facts)
    out = probes_dir(checkpoint, modality)
    result.probes.save(out, {"modality": modality, "encoder": str(checkpoint), "n_train": len(items)})
    return {"out": str(out), "train": training_scores(result.probes, x, facts)}


def training_scores(probes: TraitProbes, x: np.ndarray, facts: list[dict[tuple[str, str], bool]]) -> dict[str, float]:
    """Accuracy for categorical traits, micro-F1 for the others (on the data given)."""
    pred = probes.predict(x)
    out: dict[str, float] = {}
    for cat in CATEGORIES:
        y, known = targets(facts)[cat.key]
        if cat.kind is TraitKind.CATEGORICAL:
            if known.any():
                guess = np.array([cat.labels.index(p[cat.key][0][0]) for p in pred])
                out[cat.key] = float((guess[known] == y[known]).mean())
        else:
            probs = np.array([[dict(p[cat.key])[lab] for lab in cat.labels] for p in pred])
            hit = (probs > 0.5)[known]
            truth = y[known] > 0.5
            tp = float((hit & truth).sum())
            denom = float(hit.sum() + truth.sum())
            if denom:
                out[cat.key] = 2 * tp / denom
    return out
