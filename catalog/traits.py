"""The 34 ecological trait labels of BioVITA (biovita.txt Table 2), typed.

The seed's text of Table 2 lost part of the table in extraction and shows 30 labels. The four
missing ones (habitat mountain and urban, climate polar, social herding) are restored from
AnimalCLAP's Table 1, whose 22 traits BioVITA's 34 labels extend; with them the total is 34.

Every label is stored as a yes/no fact about a species (`TraitValue.present`). A category's
kind says how its labels relate:
- categorical: exactly one label of the category is true (BioVITA's starred categories);
- multi-label: any subset may be true (habitat, climate, lifestyle, migration);
- binary: a single label that is true or false (trophic role: predator).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

from catalog.errors import VitaError


class TraitKind(str, Enum):
    CATEGORICAL = "categorical"
    MULTILABEL = "multilabel"
    BINARY = "binary"


class TraitSource(str, Enum):
    """Where a trait value came from; predictions carry a confidence below 1."""

    TABLE = "table"
    PREDICTED = "predicted"
    DEMO = "demo"


@dataclass(frozen=True, slots=True)
class TraitCategory:
    key: str
    title: str
    kind: TraitKind
    labels: tuple[str, ...]

    @property
    def exclusive(self) -> bool:
        return self.kind is TraitKind.CATEGORICAL


CATEGORIES: tuple[TraitCategory, ...] = (
    TraitCategory("diet", "Diet type", TraitKind.CATEGORICAL,
                  ("herbivorous", "carnivorous", "omnivorous", "specialized")),
    TraitCategory("activity", "Activity pattern", TraitKind.CATEGORICAL,
                  ("diurnal", "nocturnal", "crepuscular", "cathemeral")),
    TraitCategory("posture", "Locomotion posture", TraitKind.CATEGORICAL,
                  ("quadrupedal", "bipedal", "other")),
    TraitCategory("lifestyle", "Lifestyle", TraitKind.MULTILABEL,
                  ("arboreal", "aquatic", "terrestrial", "fossorial", "aerial")),
    TraitCategory("trophic", "Trophic role", TraitKind.BINARY, ("predator",)),
    TraitCategory("habitat", "Habitat", TraitKind.MULTILABEL,
                  ("forest", "grassland", "desert", "wetland", "mountain", "urban")),
    TraitCategory("climate", "Climatic distribution", TraitKind.MULTILABEL,
                  ("tropical", "subtropical", "temperate", "boreal", "polar")),
    TraitCategory("social", "Social behavior", TraitKind.CATEGORICAL,
                  ("solitary", "pairing", "grouping", "herding")),
    TraitCategory("migration", "Migration status", TraitKind.MULTILABEL,
                  ("migratory", "resident")),
)

BY_KEY: dict[str, TraitCategory] = {c.key: c for c in CATEGORIES}
ALL_LABELS: tuple[tuple[str, str], ...] = tuple((c.key, lab) for c in CATEGORIES for lab in c.labels)
assert len(ALL_LABELS) == 34, len(ALL_LABELS)

#: Everyday words for trait labels, as people type them in a search ("frogs calling at night"):
#: word -> (category, label). The labels themselves, and their plurals, are matched without this.
TRAIT_WORDS: dict[str, tuple[str, str]] = {
    **{w: ("activity", "nocturnal") for w in ("night", "nighttime", "night-time", "nights", "after dark")},
    **{w: ("activity", "diurnal") for w in ("daytime", "by day", "during the day")},
    **{w: ("habitat", "wetland") for w in ("marsh", "marshes", "swamp", "swamps", "bog", "bogs", "pond", "ponds",
                                           "wet", "wetlands")},
    **{w: ("habitat", "forest") for w in ("woods", "woodland", "woodlands", "forests", "rainforest", "jungle")},
    **{w: ("habitat", "grassland") for w in ("meadow", "meadows", "prairie", "prairies", "savanna", "savannah",
                                             "grass", "fields")},
    **{w: ("habitat", "urban") for w in ("city", "cities", "town", "towns", "garden", "gardens", "park", "parks")},
    **{w: ("habitat", "mountain") for w in ("mountains", "alpine", "highland", "highlands")},
    **{w: ("habitat", "desert") for w in ("deserts", "arid")},
    **{w: ("climate", "tropical") for w in ("tropics",)},
    **{w: ("climate", "polar") for w in ("arctic", "antarctic")},
    **{w: ("migration", "migratory") for w in ("migrant", "migrants", "migrating")},
    **{w: ("lifestyle", "aquatic") for w in ("water", "underwater", "swimming")},
    **{w: ("lifestyle", "aerial") for w in ("flying",)},
    **{w: ("trophic", "predator") for w in ("predatory", "hunters", "hunting")},
}

#: AnimalCLAP's 22 traits (animalclap.txt Table 1) -> the BioVITA category and label(s) they map to.
#: A categorical AnimalCLAP trait maps to a whole category; a binary one to a single label.
ANIMALCLAP_TRAITS: dict[str, tuple[str, str | None]] = {
    "diet_type": ("diet", None),
    "activity_pattern": ("activity", None),
    "locomotion_posture": ("posture", None),
    "social_behavior": ("social", None),
    **{f"locomotion_{m}": ("lifestyle", m) for m in BY_KEY["lifestyle"].labels},
    **{f"habitat_{h}": ("habitat", h) for h in BY_KEY["habitat"].labels},
    **{f"climate_{c}": ("climate", c) for c in BY_KEY["climate"].labels},
    "predator": ("trophic", "predator"),
    "migratory": ("migration", "migratory"),
}
assert len(ANIMALCLAP_TRAITS) == 22, len(ANIMALCLAP_TRAITS)


class TraitError(VitaError, ValueError):
    """A trait name or value outside the vocabulary."""


def category(key: str) -> TraitCategory:
    try:
        return BY_KEY[key.strip().lower()]
    except KeyError:
        raise TraitError(f"unknown trait {key!r}; known: {', '.join(BY_KEY)}") from None


def expand(key: str, value: str | bool | Iterable[str]) -> dict[str, bool]:
    """One category's value as it is written in a table -> {label: present} for its labels.

    categorical: a label ("nocturnal"); every other label becomes False.
    multi-label: labels separated by ';' or '|' or a list; the rest become False.
    binary: true/false/yes/no/1/0 (or the label itself for true).
    """
    cat = category(key)
    if cat.kind is TraitKind.BINARY:
        (label,) = cat.labels
        return {label: _truth(value, cat.key, label)}
    if isinstance(value, str):
        chosen = [v.strip().lower() for v in value.replace("|", ";").split(";") if v.strip()]
    elif isinstance(value, bool):
        raise TraitError(f"trait {cat.key} takes labels, not {value!r}")
    else:
        chosen = [str(v).strip().lower() for v in value]
    unknown = [v for v in chosen if v not in cat.labels]
    if unknown:
        raise TraitError(f"{cat.key}: unknown value {unknown[0]!r}; allowed: {', '.join(cat.labels)}")
    if cat.exclusive and len(chosen) != 1:
        raise TraitError(f"{cat.key} is one of {', '.join(cat.labels)}; got {len(chosen)} values")
    return {lab: lab in chosen for lab in cat.labels}


def _truth(value: str | bool | Iterable[str], key: str, label: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "y", label}:
        return True
    if text in {"0", "false", "no", "n", "", f"not {label}", f"non-{label}"}:
        return False
    raise TraitError(f"{key} is true or false; got {value!r}")


def from_animalclap(row: Mapping[str, str | bool]) -> dict[tuple[str, str], bool]:
    """An AnimalCLAP-style record (its 22 trait names) -> BioVITA (category, label) facts."""
    facts: dict[tuple[str, str], bool] = {}
    for name, value in row.items():
        if name not in ANIMALCLAP_TRAITS:
            raise TraitError(f"unknown AnimalCLAP trait {name!r}")
        key, label = ANIMALCLAP_TRAITS[name]
        if label is None:
            facts.update({(key, lab): v for lab, v in expand(key, value).items()})
        else:
            facts[(key, label)] = _truth(value, name, label)
    return facts


def keyword(key: str, label: str) -> str:
    """A trait fact as one payload keyword, 'category=label' (e.g. 'activity=nocturnal'): the one spelling."""
    return f"{key}={label}"


def split_keyword(text: str) -> tuple[str, str]:
    """'activity=nocturnal' -> ('activity', 'nocturnal'); TraitError unless it names a known label."""
    key, _, label = text.partition("=")
    if (key, label) not in ALL_LABELS:
        raise TraitError(f"trait {text!r}: want category=label, e.g. activity=nocturnal or habitat=wetland")
    return key, label


def payload_values(facts: Iterable[tuple[str, str, bool]]) -> list[str]:
    """True facts as keyword values for search payloads: ['activity=nocturnal', ...]."""
    return sorted(keyword(key, label) for key, label, present in facts if present)
