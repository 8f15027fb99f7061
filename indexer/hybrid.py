"""Identification-aware ranking: what the engine knows of a query's taxon, fused with similarity.

Two towers that were never trained together place a photo and a sound of the same animal far
apart, yet the engine often knows what the query is: the preset's own head (BirdNET, ImageNet),
the labels of the nearest items in the query's own modality (same tower: strong), the taxa's text
points. Each source gives a distribution over taxa at every rank; they are combined, each weighted
by its own confidence (the share of its best taxon), into a posterior. A candidate then scores by
how much of that posterior its lineage holds (species counts most, class least) plus a smaller
share of its similarity, and says how it was found.

Pure functions over small records: the searcher and the real-media benchmark share them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from catalog.taxonomy import RANKS

#: How much agreeing at each rank is worth (the deepest shared rank dominates).
RANK_WEIGHTS: dict[str, float] = {"species": 1.0, "genus": 0.5, "family": 0.3, "order": 0.15, "class": 0.05}
#: The share of a candidate's similarity in its score (agreement is at most 1).
SIMILARITY_WEIGHT = 0.3
#: A rank's taxon is "identified" in an explanation from this posterior share up.
EXPLAIN_FROM = 0.15
#: Softmax temperature over the similarities of a neighbour vote.
VOTE_TEMPERATURE = 0.05


class Ranking(str, Enum):
    """How sound and photo queries are ranked: by taxon evidence and similarity, or by similarity alone."""

    HYBRID = "hybrid"
    EMBEDDING = "embedding"


@dataclass(frozen=True)
class Evidence:
    """One source's answer: weighted partial lineages (rank -> name), e.g. a head's classes."""

    source: str  # "BirdNET", "ImageNet", "nearest sounds", "its own label", ...
    taxa: list[tuple[Mapping[str, str], float]]
    common: Mapping[str, str] = field(default_factory=dict)  # scientific name -> common name, for explanations
    reliability: float = 1.0  # how often this source names the right species where that was measured (0..1)


@dataclass
class Posterior:
    """rank -> {name: probability}, each rank summing to at most 1."""

    ranks: dict[str, dict[str, float]] = field(default_factory=lambda: {r: {} for r in RANKS})
    sources: list[str] = field(default_factory=list)
    common: dict[str, str] = field(default_factory=dict)

    def p(self, rank: str, name: str | None) -> float:
        return self.ranks.get(rank, {}).get(name, 0.0) if name else 0.0

    def top(self, rank: str, n: int = 3, at_least: float = 0.0) -> list[tuple[str, float]]:
        items = sorted(self.ranks.get(rank, {}).items(), key=lambda kv: -kv[1])
        return [(k, v) for k, v in items[:n] if v >= at_least]

    @property
    def empty(self) -> bool:
        return not any(self.ranks.values())


def distribution(ev: Evidence) -> tuple[dict[str, dict[str, float]], float]:
    """One source's per-rank distribution and its confidence: its best taxon's share at the deepest
    rank it names (a head that spreads its mass over many species counts less), times its measured
    reliability (a neighbour vote where each species has one recording names the wrong one)."""
    total = sum(w for _, w in ev.taxa if w > 0)
    ranks: dict[str, dict[str, float]] = {r: defaultdict(float) for r in RANKS}
    if total <= 0:
        return {r: {} for r in RANKS}, 0.0
    for lineage, w in ev.taxa:
        if w > 0:
            for r in RANKS:
                if lineage.get(r):
                    ranks[r][lineage[r]] += w / total
    deepest = next((r for r in reversed(RANKS) if ranks[r]), None)
    confidence = max(ranks[deepest].values()) * ev.reliability if deepest else 0.0
    return {r: dict(v) for r, v in ranks.items()}, confidence


def combine(evidence: Iterable[Evidence]) -> Posterior:
    """The confidence-weighted mixture of the sources' distributions."""
    out = Posterior()
    parts = [(ev, *distribution(ev)) for ev in evidence]
    parts = [(ev, d, c) for ev, d, c in parts if c > 0]
    total = sum(c for _, _, c in parts)
    for ev, dist, c in parts:
        out.sources.append(ev.source)
        out.common.update(ev.common)
        for r in RANKS:
            for name, p in dist[r].items():
                out.ranks[r][name] = out.ranks[r].get(name, 0.0) + p * c / total
    return out


def vote(source: str, hits: Iterable[tuple[Mapping[str, str], float]], common: Mapping[str, str] | None = None,
         temperature: float = VOTE_TEMPERATURE, reliability: float = 1.0) -> Evidence:
    """Evidence from labelled neighbours: (lineage, similarity) -> softmax weights."""
    hits = list(hits)
    if not hits:
        return Evidence(source, [], common or {}, reliability)
    scores = np.array([s for _, s in hits], dtype=np.float64)
    w = np.exp((scores - scores.max()) / temperature)
    return Evidence(source, [(lin, float(x)) for (lin, _), x in zip(hits, w)], common or {}, reliability)


def top_species(ev: Evidence) -> str | None:
    """The species a source names first, if it names one."""
    dist, _ = distribution(ev)
    species = dist.get("species", {})
    return max(species, key=lambda k: species[k]) if species else None


@dataclass(frozen=True)
class Scored:
    key: str
    score: float
    similarity: float
    agreement: float
    why: str


def agreement(post: Posterior, lineage: Mapping[str, str]) -> float:
    """How much of the posterior the lineage holds, ranks weighted (1 for a sure species match)."""
    return sum(RANK_WEIGHTS[r] * post.p(r, lineage.get(r)) for r in RANKS) / sum(RANK_WEIGHTS.values())


def explain(post: Posterior, lineage: Mapping[str, str]) -> str:
    """How a candidate was found: the deepest rank at which it shares a likely taxon."""
    for r in reversed(RANKS):
        name = lineage.get(r)
        p = post.p(r, name)
        if name and p >= EXPLAIN_FROM:
            label = post.common.get(name) or name
            what = f"the identified {label}" if r == "species" else f"the likely {r} {name}"
            return f"same {r} as {what} {p:.2f}"
    return "nearest in the shared space"


def fuse(post: Posterior, candidates: Iterable[tuple[str, float, Mapping[str, str]]]) -> list[Scored]:
    """(key, similarity, lineage) -> scored, best first. With no evidence it is the similarity order."""
    out = []
    for key, sim, lineage in candidates:
        agree = agreement(post, lineage) if not post.empty else 0.0
        out.append(Scored(key, round(agree + SIMILARITY_WEIGHT * sim, 4), sim, round(agree, 4),
                          explain(post, lineage) if not post.empty else "nearest in the shared space"))
    out.sort(key=lambda s: (-s.score, -s.similarity))
    return out
