"""BioVITA Bench (biovita.txt 5, B.1): 36 cross-modal retrieval scenarios.

A scenario is a direction (A2T ... T2I) x a level (species, genus, family) x a group (seen,
unseen species). A task is one query and `ways` candidate taxa (100 in the paper), one of them
right. Each candidate is one species of its taxon, represented by all of its items in the target
modality; its score is the best similarity over them. At genus and family level the right
candidate is a *different* species of the query's taxon. Top-k counts a task right when fewer
than k wrong candidates score at least as high as the right one (ties count against the model,
so a constant embedding scores chance, not 100%).

Tasks are drawn from a seed and saved (`tasks.json.gz`, species by name), so two models are
compared on the same tasks; where a group has fewer than `ways` taxa, the scenario uses all of
them and says so (`ways`, `chance`).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.data import BenchItem, Embedded, Group, Modality
from catalog.errors import ConfigError

LEVELS = ("species", "genus", "family")
DIRECTIONS: tuple[tuple[Modality, Modality], ...] = (
    (Modality.AUDIO, Modality.TEXT), (Modality.TEXT, Modality.AUDIO),
    (Modality.AUDIO, Modality.IMAGE), (Modality.IMAGE, Modality.AUDIO),
    (Modality.IMAGE, Modality.TEXT), (Modality.TEXT, Modality.IMAGE),
)
TASKS_FORMAT = 1


def direction_name(q: Modality, t: Modality) -> str:
    return f"{q.letter}2{t.letter}"


@dataclass(frozen=True)
class Scenario:
    query: Modality
    target: Modality
    level: str
    group: Group

    @property
    def name(self) -> str:
        return f"{direction_name(self.query, self.target)}/{self.level}/{self.group.value}"

    @classmethod
    def parse(cls, name: str) -> Scenario:
        d, level, group = name.split("/")
        letters = {m.letter: m for m in Modality}
        return cls(letters[d[0]], letters[d[2]], level, Group(group))


def all_scenarios() -> list[Scenario]:
    return [Scenario(q, t, lvl, g) for g in Group for lvl in LEVELS for q, t in DIRECTIONS]


@dataclass
class Task:
    query: str  # item key
    candidates: list[str]  # species names; candidates[0] is the right one


@dataclass
class TaskSet:
    seed: int
    ways: int
    max_tasks: int
    fingerprint: str  # of the manifest the tasks were drawn from
    scenarios: dict[str, list[Task]] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        species = sorted({c for ts in self.scenarios.values() for t in ts for c in t.candidates})
        ix = {s: i for i, s in enumerate(species)}
        data = {"format": TASKS_FORMAT, "seed": self.seed, "ways": self.ways, "max_tasks": self.max_tasks,
                "fingerprint": self.fingerprint, "species": species,
                "scenarios": {n: [[t.query, [ix[c] for c in t.candidates]] for t in ts]
                              for n, ts in self.scenarios.items()}}
        with gzip.open(path, "wt") as fh:
            json.dump(data, fh, separators=(",", ":"))

    @classmethod
    def load(cls, path: Path) -> TaskSet:
        with gzip.open(path, "rt") as fh:
            data = json.load(fh)
        if data.get("format") != TASKS_FORMAT:
            raise ConfigError(f"{path}: task file format {data.get('format')}, this version reads {TASKS_FORMAT}")
        sp = data["species"]
        return cls(data["seed"], data["ways"], data["max_tasks"], data["fingerprint"],
                   {n: [Task(q, [sp[i] for i in c]) for q, c in ts] for n, ts in data["scenarios"].items()})


def fingerprint(items: list[BenchItem]) -> str:
    h = hashlib.sha256()
    for key in sorted(f"{it.key}|{it.species}|{it.group.value}" for it in items):
        h.update(key.encode())
    return h.hexdigest()[:16]


def sample_tasks(items: list[BenchItem], seed: int = 0, ways: int = 100, max_tasks: int = 300,
                 scenarios: list[Scenario] | None = None) -> TaskSet:
    """Draw every scenario's tasks; each scenario has its own stream of the seed, so adding one
    scenario does not change the others."""
    out = TaskSet(seed, ways, max_tasks, fingerprint(items))
    for sc in scenarios or all_scenarios():
        rng = random.Random(f"{seed}:{sc.name}")
        pool = [it for it in items if it.group is sc.group]
        targets: dict[str, set[str]] = defaultdict(set)  # taxon -> species with target items
        for it in pool:
            if it.modality is sc.target:
                targets[it.taxon(sc.level)].add(it.species)
        taxa = {t: sorted(s) for t, s in targets.items()}
        k = min(ways, len(taxa))
        tasks: list[Task] = []
        if k >= 2:
            queries = [it for it in pool if it.modality is sc.query
                       and [s for s in taxa.get(it.taxon(sc.level), []) if sc.level == "species" or s != it.species]]
            if len(queries) > max_tasks:
                queries = sorted(rng.sample(queries, max_tasks), key=lambda it: it.key)
            names = sorted(taxa)
            for q in queries:
                own = q.taxon(sc.level)
                right = q.species if sc.level == "species" else rng.choice([s for s in taxa[own] if s != q.species])
                others = rng.sample([t for t in names if t != own], k - 1)
                tasks.append(Task(q.key, [right] + [rng.choice(taxa[t]) for t in others]))
        out.scenarios[sc.name] = tasks
    return out


@dataclass
class ScenarioResult:
    scenario: str
    tasks: int
    ways: int
    top1: float
    top5: float
    chance_top1: float
    chance_top5: float
    per_class: dict[str, float]  # top-1 by the query's class (BioVITA Fig. 8)
    errors_same_genus: float  # of top-1 errors, share whose pick is in the query's genus (Fig. 9)
    errors_same_family: float


#: (scenario, its tasks, target species -> their item keys, the species in column order) -> (tasks, species) scores
SpeciesScores = Callable[[Scenario, list[Task], dict[str, list[str]], list[str]], np.ndarray]


def best_similarity(emb: Embedded) -> SpeciesScores:
    """A species' score is its best item's similarity to the query (the embedding rows)."""
    def scores(sc: Scenario, ts: list[Task], groups: dict[str, list[str]], species: list[str]) -> np.ndarray:
        q = emb.of([t.query for t in ts])
        best = np.full((len(ts), len(species)), -np.inf, dtype=np.float32)
        for i, s in enumerate(species):
            best[:, i] = (q @ emb.of(groups[s]).T).max(axis=1)
        return best

    return scores


def score(items: list[BenchItem], emb: Embedded, tasks: TaskSet, species_scores: SpeciesScores | None = None,
          directions: tuple[str, ...] | None = None) -> list[ScenarioResult]:
    """Every scenario's top-1/top-5 (or only those of `directions`, e.g. ("A2I", "I2A")); species
    scored by `species_scores` (default: their best item's similarity)."""
    by_key = {it.key: it for it in items}
    lineage = {it.species: it.lineage for it in items}
    scorer = species_scores or best_similarity(emb)
    results = []
    for name, ts in tasks.scenarios.items():
        sc = Scenario.parse(name)
        if directions is not None and direction_name(sc.query, sc.target) not in directions:
            continue
        if not ts or not all(t.query in emb.row for t in ts):
            results.append(ScenarioResult(name, 0, 0, float("nan"), float("nan"), float("nan"), float("nan"),
                                          {}, float("nan"), float("nan")))
            continue
        groups: dict[str, list[str]] = defaultdict(list)
        for it in items:
            if it.group is sc.group and it.modality is sc.target and it.key in emb.row:
                groups[it.species].append(it.key)
        species = sorted(groups)
        col = {s: i for i, s in enumerate(species)}
        best = scorer(sc, ts, groups, species)
        top1, top5 = [], []
        per_class: dict[str, list[bool]] = defaultdict(list)
        err_genus, err_family = [], []
        for i, t in enumerate(ts):
            row = best[i, [col[c] for c in t.candidates]]
            beaten = int((row[1:] >= row[0]).sum())
            top1.append(beaten < 1)
            top5.append(beaten < 5)
            qi = by_key[t.query]
            per_class[qi.lineage.class_].append(beaten < 1)
            if beaten:
                pick = lineage[t.candidates[1 + int(np.argmax(row[1:]))]]
                err_genus.append(pick.genus == qi.lineage.genus)
                err_family.append(pick.family == qi.lineage.family)
        ways = len(ts[0].candidates)
        results.append(ScenarioResult(name, len(ts), ways, float(np.mean(top1)), float(np.mean(top5)),
                                      1 / ways, min(5, ways) / ways,
                                      {c: float(np.mean(v)) for c, v in sorted(per_class.items())},
                                      float(np.mean(err_genus)) if err_genus else float("nan"),
                                      float(np.mean(err_family)) if err_family else float("nan")))
    return results


def results_json(results: list[ScenarioResult]) -> list[dict[str, Any]]:
    return [asdict(r) for r in results]
