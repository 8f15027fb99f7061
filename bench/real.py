"""The real-media benchmark: real animal recordings and photos (GCompris's, `catalog.sources.packaged`)
through each model, against random ranking.

- Retrieval: precision@5 of A2A, I2I, A2I and I2A at species, genus, family and class level. A
  query counts at a level when at least one candidate shares its taxon there; the item itself
  is never a candidate. Random is the exact expectation of a random ranking (relevant / pool).
- Held out, photo -> sound and sound -> photo: each query is left out of the index (a field-guide
  user's own file: its label is not its evidence), ranked by similarity alone and by the hybrid
  ranking (`indexer.hybrid`: the model's heads and the labelled neighbours of the query's own
  modality, fused with similarity); precision@5 and the share of queries with a right item in the
  top 5, at species and family level, over the queries whose species has media in the target
  modality, beside the exact random expectation.
- Identification: the field preset's heads (BirdNET for a sound, ImageNet classes matched to
  catalog species by name for a photo), top-1 and top-5, over the files whose species the head
  can name at all.
The corpus is small (8 recordings, 47 photos, 44 species): read the counts beside each figure.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.data import BenchItem, Embedded, Group, MediaItem, Modality, embed_items
from bench.hybrid import HeldOutEvidence, head_evidence, ranks_of
from bench.results import BenchRun, pct, table
from catalog.facade import Catalog
from catalog.sources.folder import FolderSource
from catalog.sources.packaged.gcompris import build
from catalog.tables import Media, Taxon
from catalog.taxonomy import RANKS
from indexer.hybrid import fuse

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


@dataclass(frozen=True)
class HeldOutRow:
    model: str
    direction: str  # I2A | A2I
    ranking: str  # embedding | hybrid | random ranking
    level: str
    precision_at_5: float
    hit_at_5: float  # share of queries with a right item in the top 5
    top1: float  # share of queries whose first result is right
    queries: int


def random_hit(relevant: int, pool: int, k: int = K) -> float:
    """The chance that a random ranking puts at least one of `relevant` items of `pool` in its top k."""
    return 1.0 - math.comb(pool - relevant, min(k, pool)) / math.comb(pool, min(k, pool))


def media_items(cat: Catalog) -> list[MediaItem]:
    """Every sound and photo of the catalog with its identification at whatever rank."""
    from sqlalchemy import select

    items = []
    with cat.sessions() as s:
        for m, t in s.execute(select(Media, Taxon).join(Taxon, Media.taxon_id == Taxon.id).order_by(Media.id)):
            above = dict(zip(RANKS, (t.class_name, t.order_name, t.family_name, t.genus_name)))
            ranks = {r: n for r, n in above.items() if n and RANKS.index(r) < RANKS.index(t.rank)}
            items.append(MediaItem(f"{m.kind}:{m.id}", Modality(m.kind), {**ranks, t.rank: t.name}, m.path))
    return items


def held_out_rows(cat: Catalog, items: list[MediaItem], name: str, model: Any, emb: Embedded,
                  waves: dict[str, np.ndarray]) -> list[HeldOutRow]:
    """Photo -> sound and sound -> photo with each query held out, embedding against hybrid. At each
    level the queries are those identified at that level whose taxon there has media in the target
    modality; the candidates are every item of the target modality."""
    names = cat.names()
    evidence = HeldOutEvidence(items, emb, head_evidence(model, names, waves), names.common_names())
    out: list[HeldOutRow] = []
    for q, t in ((Modality.IMAGE, Modality.AUDIO), (Modality.AUDIO, Modality.IMAGE)):
        same = evidence.pool(q)
        targets = evidence.pool(t)
        if not same or not targets:
            continue
        target_vectors = emb.of([c.key for c in targets])
        scores: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
        for it in same:
            levels = [lv for lv in ("species", "family")
                      if it.taxon(lv) and any(c.taxon(lv) == it.taxon(lv) for c in targets)]
            if not levels:
                continue
            sims = target_vectors @ emb.of([it.key])[0]
            post = evidence.posterior(it)
            by_key = {c.key: c for c in targets}
            rankings = {"embedding": [targets[j] for j in np.argsort(-sims, kind="stable")],
                        "hybrid": [by_key[s.key] for s in fuse(post, [(c.key, float(x), ranks_of(c))
                                                                       for c, x in zip(targets, sims)])]}
            for level in levels:
                rel = [c.taxon(level) == it.taxon(level) for c in targets]
                chance = float(np.mean(rel))
                scores.setdefault((RANDOM, level), []).append((chance, random_hit(sum(rel), len(rel)), chance))
                for ranking, order in rankings.items():
                    top = [c.taxon(level) == it.taxon(level) for c in order[:K]]
                    scores.setdefault((ranking, level), []).append((float(np.mean(top)), float(any(top)), float(top[0])))
        for (ranking, level), vals in scores.items():
            p5, hit, first = (float(np.mean(col)) for col in zip(*vals))
            out.append(HeldOutRow(name, f"{q.letter}2{t.letter}", ranking, level, p5, hit, first, len(vals)))
    return out


def identification(cat: Catalog, items: list[BenchItem], model: Any) -> list[IdRow]:
    """Top-1/top-5 of the field preset's heads on the files whose species they can name."""
    from indexer.identify import SpeciesNames, identify

    names = SpeciesNames(cat)
    heads = model.heads()
    audio_known = {lab.scientific for lab in heads["audio"].labels}
    from encoders.towers.imagenet_species import species_of

    image_known = {card.name for i, lab in enumerate(lab.name for lab in heads["image"].labels)
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


def held_out_markdown(rows: list[HeldOutRow]) -> list[str]:
    if not rows:
        return []
    lines = ["**Held out: photo -> sound (I2A) and sound -> photo (A2I)**, each query left out of the index, over the "
             "queries whose species has media in the target modality. Precision@5 / right item in the top 5 / right "
             "item first (%), queries in brackets; x random: species precision@5 over the random expectation.", ""]
    body = []
    for (model, direction, ranking) in dict.fromkeys((r.model, r.direction, r.ranking) for r in rows):
        cells = {r.level: r for r in rows if (r.model, r.direction, r.ranking) == (model, direction, ranking)}
        rnd = next((r for r in rows if (r.model, r.direction, r.ranking, r.level) == (model, direction, RANDOM, "species")),
                   None)
        sp = cells.get("species")
        ratio = f"{sp.precision_at_5 / rnd.precision_at_5:.1f}x" if sp and rnd and rnd.precision_at_5 > 0 else "–"
        body.append([model, direction, ranking, *(f"{pct(c.precision_at_5)} / {pct(c.hit_at_5)} / {pct(c.top1)} "
                                                 f"({c.queries})" if (c := cells.get(lv)) else "–"
                                                 for lv in ("species", "family")), ratio])
    return [*lines, table(["model", "direction", "ranking", "species", "family", "x random"], body), ""]


def markdown(rows: list[Row], ids: list[IdRow], items: list[BenchItem], notes: list[str],
             held: list[HeldOutRow] | None = None) -> str:
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
    lines += held_out_markdown(held or [])
    if ids:
        lines += ["**Identification by the towers' heads** (files whose species the head can name)", "",
                  table(["head", "files", "top-1", "top-5"], [[r.head, r.files, pct(r.top1), pct(r.top5)] for r in ids]), ""]
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines)


def run_real(deb: Path, models: dict[str, Any], run: BenchRun, log: Log = print,
             identify_with: Any = None, more: Path | None = None) -> dict[str, Any]:
    """`models`: name -> encoder; `more`: Debian's tuxpaint-stamps-default .deb, whose animal stamps
    join the held-out photo <-> sound queries (most are identified above species). Writes real.json / real.md."""
    from catalog.sources.packaged import tuxpaint

    with tempfile.TemporaryDirectory() as tmp:
        cat, items = corpus(deb, Path(tmp))
        with cat:
            if more is not None:
                tuxpaint.build(Path(tmp) / "tuxpaint", more)
                report = cat.ingest(FolderSource(Path(tmp) / "tuxpaint"))
                log(f"Tux Paint's stamps: {report.added} media ({report.failed} refused: {report.failures[:3]})")
            media = media_items(cat)
            waves: dict[str, dict[str, np.ndarray]] = {}
            embedded: dict[str, Embedded | None] = {RANDOM: None}
            held: list[HeldOutRow] = []
            for name, model in models.items():
                log(f"embedding the real corpus with {name}")
                rate = str(model.cfg.audio.sample_rate if model.cfg.audio else 0)
                emb = embed_items(model, media, waves=waves.setdefault(rate, {}))
                embedded[name] = emb
                log(f"held-out photo <-> sound queries with {name}")
                held += held_out_rows(cat, media, name, model, emb, waves[rate])
            rows = retrieval_rows(items, embedded)
            ids = identification(cat, items, identify_with) if identify_with is not None else []
            counts = {m.value: sum(i.modality is m for i in media) for m in (Modality.AUDIO, Modality.IMAGE)}
    notes = ["Random ranking is the exact expectation (relevant candidates / candidates), not a sample.",
             "A2A has 8 recordings of 8 species: no species or genus has two, so only family (cow, sheep) and "
             "class levels can be answered there.",
             f"Held out: {counts['audio']} recordings and {counts['image']} photos"
             + (" (GCompris and Tux Paint's stamps; the stamps are mostly identified to genus, family or order)"
                if more is not None else " (GCompris)") + "."]
    data = {"k": K, "rows": [asdict(r) for r in rows], "identification": [asdict(r) for r in ids],
            "held_out": [asdict(r) for r in held], "held_out_media": counts,
            "items": len(items), "species": len({i.species for i in items})}
    run.write("real", data, markdown(rows, ids, items, notes, held))
    return data
