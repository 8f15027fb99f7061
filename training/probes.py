"""Trait probes: linear heads on a frozen encoder (AnimalCLAP 3.2, BioVITA 6.4).

One head per trait category: cross-entropy over the labels of a categorical trait (one of),
a logistic loss per label for multi-label and binary traits. Trained on the embeddings of
training media, whose labels are their species' known traits; predictions carry probabilities.
Saved as safetensors + JSON (no pickle).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from sqlalchemy import select
from sqlalchemy.orm import Session
from torch import nn

from catalog.tables import Taxon, TraitValue
from catalog.traits import CATEGORIES, TraitKind
from encoders.factory import PRESET_REF


def probes_dir(model_ref: str | Path, modality: str) -> Path:
    """Where a model's trait probes live: beside its checkpoint, or, for a preset's own weights
    (`preset:field` has no directory), in that preset's cache beside its label banks."""
    text = str(model_ref)
    if text.startswith(PRESET_REF):
        from encoders.field import cache_dir

        return cache_dir() / f"{text.removeprefix(PRESET_REF)}-probes-{modality}"
    return Path(model_ref) / f"probes-{modality}"


def species_traits(session: Session, names: list[str]) -> dict[str, dict[tuple[str, str], bool]]:
    """Known (not predicted) trait facts per species name."""
    rows = session.execute(select(Taxon.name, TraitValue.category, TraitValue.label, TraitValue.present)
                           .join(TraitValue, TraitValue.taxon_id == Taxon.id)
                           .where(Taxon.name.in_(names), TraitValue.source != "predicted"))
    out: dict[str, dict[tuple[str, str], bool]] = {n: {} for n in names}
    for name, cat, label, present in rows:
        out[name][(cat, label)] = present
    return out


def targets(facts: list[dict[tuple[str, str], bool]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """category -> (targets, known mask). Categorical: class index; others: 0/1 per label."""
    out = {}
    for cat in CATEGORIES:
        if cat.kind is TraitKind.CATEGORICAL:
            y = np.full(len(facts), -1, np.int64)
            for i, f in enumerate(facts):
                hits = [j for j, lab in enumerate(cat.labels) if f.get((cat.key, lab))]
                if len(hits) == 1:
                    y[i] = hits[0]
            out[cat.key] = (y, y >= 0)
        else:
            y = np.zeros((len(facts), len(cat.labels)), np.float32)
            known = np.zeros((len(facts), len(cat.labels)), bool)
            for i, f in enumerate(facts):
                for j, lab in enumerate(cat.labels):
                    if (cat.key, lab) in f:
                        y[i, j], known[i, j] = float(f[(cat.key, lab)]), True
            out[cat.key] = (y, known)
    return out


class TraitProbes(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.heads = nn.ModuleDict({c.key: nn.Linear(dim, len(c.labels)) for c in CATEGORIES})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {k: h(x) for k, h in self.heads.items()}

    def loss(self, x: torch.Tensor, tgt: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        logits = self(x)
        total = x.new_zeros(())
        for cat in CATEGORIES:
            y, known = tgt[cat.key]
            if not known.any():
                continue
            if cat.kind is TraitKind.CATEGORICAL:
                total = total + F.cross_entropy(logits[cat.key][known], y[known])
            else:
                per = F.binary_cross_entropy_with_logits(logits[cat.key], y, reduction="none")
                total = total + per[known].mean()
        return total

    @torch.no_grad()
    def predict(self, x: np.ndarray) -> list[dict[str, list[tuple[str, float]]]]:
        """Per item, per category: (label, probability), most likely first."""
        logits = self(torch.as_tensor(x, dtype=torch.float32))
        out: list[dict[str, list[tuple[str, float]]]] = [{} for _ in range(len(x))]
        for cat in CATEGORIES:
            z = logits[cat.key]
            p = z.softmax(-1) if cat.kind is TraitKind.CATEGORICAL else z.sigmoid()
            for i in range(len(x)):
                pairs = sorted(zip(cat.labels, p[i].tolist()), key=lambda t: -t[1])
                out[i][cat.key] = [(lab, round(prob, 4)) for lab, prob in pairs]
        return out

    def save(self, directory: Path, meta: dict[str, object]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(directory / "probes.safetensors"))
        (directory / "probes.json").write_text(json.dumps({"dim": self.dim, **meta}, indent=1))

    @classmethod
    def load(cls, directory: Path) -> TraitProbes:
        meta = json.loads((directory / "probes.json").read_text())
        probes = cls(int(meta["dim"]))
        probes.load_state_dict(load_file(str(directory / "probes.safetensors")))
        return probes


@dataclass
class ProbeResult:
    probes: TraitProbes
    losses: list[float]


def fit_probes(x: np.ndarray, facts: list[dict[tuple[str, str], bool]], epochs: int = 300, lr: float = 5e-2,
               weight_decay: float = 1e-4, seed: int = 0) -> ProbeResult:
    """Full-batch AdamW on frozen embeddings (they fit in memory: N x dim floats)."""
    torch.manual_seed(seed)
    probes = TraitProbes(x.shape[1])
    xt = torch.as_tensor(x, dtype=torch.float32)
    tgt = {k: (torch.as_tensor(y), torch.as_tensor(m)) for k, (y, m) in targets(facts).items()}
    opt = torch.optim.AdamW(probes.parameters(), lr=lr, weight_decay=weight_decay)
    losses = []
    for _ in range(epochs):
        opt.zero_grad()
        loss = probes.loss(xt, tgt)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return ProbeResult(probes.eval(), losses)
