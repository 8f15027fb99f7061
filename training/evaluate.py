"""Audio -> text over ALL species' prompts, per test split and query template.

Reports top-1 / top-5 at species level, and how often the top-1 species is in the right genus
and family (BioVITA Fig. 9's error analysis). The full benchmark suites live in `bench/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from catalog.facade import Catalog
from catalog.prompts import Template
from catalog.tables import MediaKind, Split
from encoders.factory import create_encoder
from training.data import MediaCache, examples, species_table
from training.trainer import species_text_embeddings


@dataclass(frozen=True)
class A2TRow:
    split: str
    template: str
    n: int
    top1: float
    top5: float
    top1_genus: float
    top1_family: float
    chance_top1: float


def a2t_report(catalog: Catalog, checkpoint: str | Path,
               templates: tuple[Template, ...] = (Template.TAX_COM, Template.SCI, Template.COM),
               splits: tuple[Split, ...] = (Split.TEST_SEEN, Split.TEST_UNSEEN)) -> list[A2TRow]:
    model = create_encoder(checkpoint=checkpoint)
    with catalog.sessions() as s:
        table = species_table(s)
        sets = {sp: examples(s, table, MediaKind.AUDIO, [sp]) for sp in splits}
    cache = MediaCache(model.cfg.audio.sample_rate if model.cfg.audio else None)
    genus = np.array([lin.genus for lin in table.lineages])
    family = np.array([lin.family for lin in table.lineages])
    audio = {sp: model.embed_audio([cache.audio(e.path) for e in items]) for sp, items in sets.items() if items}
    rows = []
    for tpl in templates:
        text = species_text_embeddings(model, table, tpl)
        for sp, a in audio.items():
            y = np.array([e.species for e in sets[sp]])
            ranks = np.argsort(-(a @ text.T), axis=1)
            rows.append(A2TRow(sp.value, tpl.value, len(y), float((ranks[:, 0] == y).mean()),
                               float((ranks[:, :5] == y[:, None]).any(axis=1).mean()),
                               float((genus[ranks[:, 0]] == genus[y]).mean()),
                               float((family[ranks[:, 0]] == family[y]).mean()), 1 / len(table)))
    return rows
