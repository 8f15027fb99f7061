"""Trait prediction on unseen species (animalclap.txt Table 5, biovita.txt Table 7).

The probes (`vita train-traits`, fitted on seen species' training media) predict each unseen
test clip's traits; the truth is its species' known traits. Categorical traits: accuracy and
macro-F1 over the category's labels. Multi-label and binary traits: per label, accuracy and the
F1 of "present". Beside each, the majority-class baseline (the most frequent training value)
shows what a model that ignores the sound gets.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from catalog.traits import CATEGORIES, TraitKind
from training.probes import TraitProbes, targets

Facts = dict[tuple[str, str], bool]


@dataclass(frozen=True)
class TraitRow:
    category: str
    label: str  # "" for a categorical trait as a whole
    kind: str
    n: int
    accuracy: float
    f1: float
    majority_accuracy: float
    majority_f1: float


def f1_binary(pred: np.ndarray, truth: np.ndarray) -> float:
    tp = float((pred & truth).sum())
    denom = float(pred.sum() + truth.sum())
    return 2 * tp / denom if denom else float("nan")


def macro_f1(pred: np.ndarray, truth: np.ndarray, n_labels: int) -> float:
    scores = [f1_binary(pred == k, truth == k) for k in range(n_labels) if (truth == k).any() or (pred == k).any()]
    scores = [s for s in scores if s == s]
    return float(np.mean(scores)) if scores else float("nan")


def evaluate(probes: TraitProbes, x_test: np.ndarray, test_facts: list[Facts], train_facts: list[Facts]) -> list[TraitRow]:
    logits = {k: v.detach().numpy() for k, v in probes(torch.as_tensor(x_test, dtype=torch.float32)).items()}
    truth_test = targets(test_facts)
    truth_train = targets(train_facts)
    rows: list[TraitRow] = []
    for cat in CATEGORIES:
        y, known = truth_test[cat.key]
        ytr, ktr = truth_train[cat.key]
        z = logits[cat.key]
        if cat.kind is TraitKind.CATEGORICAL:
            if not known.any():
                continue
            pred = z.argmax(axis=1)[known]
            yt = y[known]
            major = int(np.bincount(ytr[ktr], minlength=len(cat.labels)).argmax()) if ktr.any() else 0
            base = np.full_like(yt, major)
            rows.append(TraitRow(cat.key, "", cat.kind.value, int(known.sum()), float((pred == yt).mean()),
                                 macro_f1(pred, yt, len(cat.labels)), float((base == yt).mean()),
                                 macro_f1(base, yt, len(cat.labels))))
            continue
        for j, label in enumerate(cat.labels):
            m = known[:, j]
            if not m.any():
                continue
            yt = y[m, j] > 0.5
            pred = z[m, j] > 0
            mt = ktr[:, j]
            major = bool((ytr[mt, j] > 0.5).mean() > 0.5) if mt.any() else False
            base = np.full_like(yt, major)
            rows.append(TraitRow(cat.key, label, cat.kind.value, int(m.sum()), float((pred == yt).mean()),
                                 f1_binary(pred, yt), float((base == yt).mean()), f1_binary(base, yt)))
    return rows


def category_summary(rows: list[TraitRow]) -> dict[str, dict[str, float]]:
    """Per category: mean accuracy and F1 over its rows (BioVITA Table 7 reports F1 per category)."""
    out: dict[str, dict[str, float]] = {}
    for cat in CATEGORIES:
        mine = [r for r in rows if r.category == cat.key]
        if mine:
            out[cat.key] = {k: float(np.nanmean([getattr(r, k) for r in mine]))
                            for k in ("accuracy", "f1", "majority_accuracy", "majority_f1")}
    return out


def rows_json(rows: list[TraitRow]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]
