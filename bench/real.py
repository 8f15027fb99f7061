"""The real-media benchmark: real animal recordings and photos (GCompris's, `catalog.sources.packaged`)
through each model, against random ranking.

- Retrieval: precision@5 of A2A, I2I, A2I and I2A at species, genus, family and class level. A
  query counts at a level when at least one candidate shares its taxon there; the item itself
  is never a candidate. Random is the exact expectation of a random ranking (relevant / pool).
- Identification: the field preset's heads (BirdNET for a sound, ImageNet classes matched to
  catalog species by name for a photo), top-1 and top-5, over the files whose species the head
  can name at all.
The corpus is small (8 recordings, 47 photos, 44 species): read the counts beside each figure.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.data import BenchItem, Embedded, Group, Modality, embed_items
from bench.results import BenchRun, pct, table
from catalog.api import Catalog
from catalog.models import Media, Taxon
from catalog.sources.folder import FolderSource
from catalog.sources.packaged.gcompris import build

LEVELS = ("species", "genus", "family", "class")
DIRECTIONS = ((Modality.AUDIO, Modality.AUDIO), (Modality.IMAGE, Modality.IMAGE),
              (Modality.AUDIO, Modality.IMAGE), (Modality.IMAGE, Modality.AUDIO))
K = 5
RANDOM = "random ranking"
Log = Callable[[str], None]


@dataclass(frozen=True)
class Row:
    model: str
    direction: str
    level: str
    precision_at_5: float
    queries: int


@dataclass(frozen=True)
class IdRow:
    head: str
    modality: str
    files: int  # files whose species the head can name
    top1: float
    top5: float


def corpus(deb: Path, into: Path) -> tuple[Catalog, list[BenchItem]]:
    """The real corpus built from the .deb and ingested into a catalog of its own (the user's is untouched)."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    build(into / "corpus", deb)
    url = f"sqlite:///{into / 'catalog.sqlite'}"
    cat = Catalog(url)
    report = cat.ingest(FolderSource(into / "corpus"))
    if report.failed:
        raise RuntimeError(f"the real corpus did not ingest cleanly: {report.failures[:3]}")
    items = []
    with cat.sessions() as s:
        rows = s.scalars(select(Media).join(Taxon, Media.taxon_id == Taxon.id).options(selectinload(Media.taxon))
                         .order_by(Media.id))
        for m in rows:
            lineage = m.taxon.lineage()
            if lineage is not None:
                items.append(BenchItem(f"{m.kind}:{m.id}", Modality(m.kind), lineage, Group.SEEN, m.path,
                                       m.taxon.common_name))
    return cat, items


def precision(items: list[BenchItem], emb: Embedded | None, q: Modality, t: Modality, level: str) -> tuple[float, int]:
    """Mean precision@5 (or the random expectation when `emb` is None) and the number of queries."""
    qs = [i for i in items if i.modality is q]
    ts = [i for i in items if i.modality is t]
    index = {k: n for n, k in enumerate(emb.keys)} if emb is not None else {}
    scores = []
    for it in qs:
        cands = [c for c in ts if c.key != it.key]
        rel = np.array([c.taxon(level) == it.taxon(level) for c in cands])
        if not len(cands) or not rel.any():
            continue
        if emb is None:
            scores.append(float(rel.mean()))
            continue
        sims = emb.vectors[[index[c.key] for c in cands]] @ emb.vectors[index[it.key]]
        top = np.argsort(-sims, kind="stable")[: min(K, len(cands))]
        scores.append(float(rel[top].mean()))
    return (float(np.mean(scores)) if scores else float("nan")), len(scores)


def retrieval_rows(items: list[BenchItem], embedded: dict[str, Embedded | None]) -> list[Row]:
    rows = []
    for name, emb in embedded.items():
        for q, t in DIRECTIONS:
            if emb is not None and not ({i.key for i in items if i.modality in (q, t)} <= set(emb.keys)):
                continue  # the model lacks one of the two modalities
            for level in LEVELS:
                p, n = precision(items, emb, q, t, level)
                rows.append(Row(name, f"{q.letter}2{t.letter}", level, p, n))
    return rows


def identification(cat: Catalog, items: list[BenchItem], model: Any) -> list[IdRow]:
    """Top-1/top-5 of the field preset's heads on the files whose species they can name."""
    from indexer.identify import SpeciesNames, identify

    names = SpeciesNames(cat)
    audio_known = {lab.scientific for lab in model.audio_labels}
    from encoders.towers.imagenet_species import species_of

    image_known = {card.name for i, lab in enumerate(model.image_labels)
                   if (card := names.card(species_of(i), lab)) is not None}
    out = []
    for modality, head, known in ((Modality.AUDIO, "birdnet", audio_known), (Modality.IMAGE, "imagenet", image_known)):
        chosen = [i for i in items if i.modality is modality and i.species in known]
        hits1 = hits5 = 0
        for it in chosen:
            guesses = [g.name for g in identify(cat, Path(str(it.path)), model=model, k=K).overall]
            hits1 += bool(guesses) and guesses[0] == it.species
            hits5 += it.species in guesses
        n = len(chosen)
        out.append(IdRow(head, modality.value, n, hits1 / n if n else float("nan"), hits5 / n if n else float("nan")))
    return out


def markdown(rows: list[Row], ids: list[IdRow], items: list[BenchItem], notes: list[str]) -> str:
    n_audio = sum(i.modality is Modality.AUDIO for i in items)
    lines = [f"Real media (GCompris: {n_audio} recordings, {len(items) - n_audio} photos, "
             f"{len({i.species for i in items})} species). Precision@5 (%), queries in brackets.", ""]
    models = list(dict.fromkeys(r.model for r in rows))
    for direction in dict.fromkeys(r.direction for r in rows):
        body = []
        for m in models:
            cells = {r.level: r for r in rows if r.model == m and r.direction == direction}
            if cells:
                body.append([m, *(f"{pct(cells[lv].precision_at_5)} ({cells[lv].queries})" for lv in LEVELS)])
        lines += [f"**{direction}**", "", table(["model", *LEVELS], body), ""]
    if ids:
        lines += ["**Identification by the towers' heads** (files whose species the head can name)", "",
                  table(["head", "files", "top-1", "top-5"], [[r.head, r.files, pct(r.top1), pct(r.top5)] for r in ids]), ""]
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines)


def run_real(deb: Path, models: dict[str, Any], run: BenchRun, log: Log = print,
             identify_with: Any = None) -> dict[str, Any]:
    """`models`: name -> encoder. Writes real.json / real.md."""
    with tempfile.TemporaryDirectory() as tmp:
        cat, items = corpus(deb, Path(tmp))
        with cat:
            waves: dict[str, dict[str, np.ndarray]] = {}
            embedded: dict[str, Embedded | None] = {RANDOM: None}
            for name, model in models.items():
                log(f"embedding the real corpus with {name}")
                rate = str(model.cfg.audio.sample_rate if model.cfg.audio else 0)
                embedded[name] = embed_items(model, items, waves=waves.setdefault(rate, {}))
            rows = retrieval_rows(items, embedded)
            ids = identification(cat, items, identify_with) if identify_with is not None else []
    notes = ["Random ranking is the exact expectation (relevant candidates / candidates), not a sample.",
             "A2A has 8 recordings of 8 species: no species or genus has two, so only family (cow, sheep) and "
             "class levels can be answered there."]
    data = {"k": K, "rows": [asdict(r) for r in rows], "identification": [asdict(r) for r in ids],
            "items": len(items), "species": len({i.species for i in items})}
    run.write("real", data, markdown(rows, ids, items, notes))
    return data
