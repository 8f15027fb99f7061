"""Lineages from published sources alone (no catalog): the eBird/Clements checklist for birds,
WordNet's member holonyms for the rest, and a binomial's genus when neither has the species.

This is what places the towers' own labels in the taxonomy: BirdNET's binomials (birds, and some
frogs, insects and mammals) here, ImageNet's classes in `encoders.towers.imagenet_species`.
The catalog's own taxa come first where one is held (`indexer.evidence`); a model's label bank
(`encoders.field`) uses these alone, so that it does not depend on what a catalog holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from catalog.names.birds import bird_taxonomy
from catalog.names.wordnet import WordNet

#: rank, name -> lineage (class down to the taxon), {} when unknown
Lookup = Callable[[str, str], dict[str, str]]


def reference_lineage(wordnet: WordNet | None, rank: str, name: str) -> dict[str, str]:
    """rank -> name from the class down to the taxon: the bird checklist, else WordNet, else (for a
    binomial) its genus's lineage and the species; {} when no source places it."""
    birds = bird_taxonomy()
    found = birds.lineage_at(rank, name) if birds else None
    if found:
        return found
    if wordnet is not None and (found := wordnet.lineage_of(rank, name)):
        return found
    parts = name.split()
    if rank == "species" and len(parts) == 2:
        return {**reference_lineage(wordnet, "genus", parts[0]), "genus": parts[0], "species": name}
    return {}


def label_lineages(labels: Sequence[tuple[str, str]], wordnet: WordNet | None) -> list[dict[str, str]]:
    """BirdNET's (binomial, English name) labels placed in the taxonomy; {} for its non-event classes.
    A binomial no source places up to its class is placed by its English name's head noun in
    WordNet ("Barking Treefrog" -> family Hylidae, "False Robust Conehead" -> no taxon), kept only
    when that noun names one taxon."""
    out: list[dict[str, str]] = []
    for binomial, common in labels:
        if len(binomial.split()) != 2:
            out.append({})
            continue
        lin = reference_lineage(wordnet, "species", binomial)
        if "class" not in lin and wordnet is not None:
            lin = {**head_noun_lineage(wordnet, common), **lin}
        out.append(lin)
    return out


def head_noun_lineage(wordnet: WordNet, common: str) -> dict[str, str]:
    """The lineage of the one taxon an English name's head noun names (its last two words, else its
    last word: "Gray Go-away-bird" -> "go-away-bird"), {} when none or several."""
    words = common.replace("-", " ").lower().split()
    for n in (2, 1):
        if len(words) < n:
            continue
        taxa = wordnet.taxa(" ".join(words[-n:]))
        if len(taxa) == 1 and not taxa[0].expanded:
            t = taxa[0]
            found = reference_lineage(wordnet, t.rank, t.names[0])
            if "class" in found:
                return found
    return {}
