"""The demo world's tree: real taxonomy and traits, plus latent features inherited down it.

Every taxon gets a latent vector: its parent's plus Gaussian noise seeded by its own name,
with a scale that shrinks towards the species. So a family's members sound and look alike,
a genus's more so, and an unseen species is close to its relatives, which is what lets
taxonomy help a model on species it never heard.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from catalog.taxonomy import Lineage, Rank
from catalog.traits import expand

LATENT_DIM = 24
#: How far each rank moves away from its parent (class .. species).
RANK_SCALES: dict[Rank, float] = {
    Rank.CLASS: 1.0, Rank.ORDER: 0.55, Rank.FAMILY: 0.6, Rank.GENUS: 0.4, Rank.SPECIES: 0.22,
}


@dataclass(frozen=True, slots=True)
class DemoSpecies:
    lineage: Lineage
    common_name: str

    @property
    def name(self) -> str:
        return self.lineage.species

    @property
    def slug(self) -> str:
        return self.name.replace(" ", "_")


def _data(name: str) -> str:
    return resources.files("catalog").joinpath("data", name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def species_list() -> tuple[DemoSpecies, ...]:
    """Parse `data/demo_world.txt` (indented class > order > family > 'Genus: epithet=Name; ...')."""
    out: list[DemoSpecies] = []
    stack: list[str] = []
    for raw in _data("demo_world.txt").splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        depth = (len(raw) - len(raw.lstrip(" "))) // 2
        text = raw.strip()
        if depth < 3:
            stack = stack[:depth] + [text]
            continue
        genus, rest = (p.strip() for p in text.split(":", 1))
        for pair in rest.split(";"):
            epithet, common = (p.strip() for p in pair.split("=", 1))
            lineage = Lineage(stack[0], stack[1], stack[2], genus, f"{genus} {epithet}")
            out.append(DemoSpecies(lineage, common))
    return tuple(out)


@lru_cache(maxsize=1)
def _trait_table() -> dict[str, dict[str, dict[str, object]]]:
    return json.loads(_data("demo_traits.json"))


def traits_of(species: DemoSpecies) -> dict[tuple[str, str], bool]:
    """Family traits, overridden by genus, then by species; as (category, label) facts."""
    table = _trait_table()
    merged: dict[str, object] = {}
    for level, key in (("families", species.lineage.family), ("genera", species.lineage.genus),
                       ("species", species.name)):
        merged.update(table[level].get(key, {}))
    facts: dict[tuple[str, str], bool] = {}
    for cat, value in merged.items():
        facts.update({(cat, lab): v for lab, v in expand(cat, value).items()})  # type: ignore[arg-type]  # expand() accepts the str | list values the table holds
    return facts


def stable_seed(*parts: object) -> int:
    """A 64-bit seed from any parts, stable across runs and machines (unlike hash())."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def latent(lineage: Lineage, seed: int) -> np.ndarray:
    """The species' latent vector: the sum of one seeded step per rank, class first."""
    z = np.zeros(LATENT_DIM)
    for rank in Rank.ordered():
        rng = np.random.default_rng(stable_seed(seed, rank.value, lineage.at(rank)))
        z = z + RANK_SCALES[rank] * rng.standard_normal(LATENT_DIM)
    return z


def sig(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))
