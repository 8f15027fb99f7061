"""Taxonomy-aware text prompts (AnimalCLAP Table 2, BioVITA Table 9).

Five templates, one drawn per example during training:
  Com      'Gray Treefrog'
  Sci      'Hyla versicolor'
  Tax      'Amphibia Anura Hylidae Hyla versicolor'   (class order family genus species, broad to narrow)
  Sci+Com  'Hyla versicolor with a common name Gray Treefrog'
  Tax+Com  'Amphibia Anura Hylidae Hyla versicolor, with a common name Gray Treefrog'
The templates live here, below every layer that embeds text (encoders for label prompts, the
indexer for taxa points, training and the benchmarks); the training sampler is in `training.prompts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

import numpy as np

from catalog.taxonomy import Lineage


class Template(str, Enum):
    COM = "com"
    SCI = "sci"
    TAX = "tax"
    SCI_COM = "sci+com"
    TAX_COM = "tax+com"


ALL_TEMPLATES: tuple[Template, ...] = tuple(Template)


def taxon_parts(rank: str, names: Sequence[str]) -> list[str]:
    """The Tax prompt's words for a taxon of any rank: class .. the taxon, broad to narrow; a species
    ends in its epithet, not its binomial (the one definition of the taxon prompt)."""
    parts = [n for n in names if n]
    if rank == "species" and parts:
        parts[-1] = parts[-1].split(" ", 1)[-1]
    return parts


def taxon_prompt(rank: str, names: Sequence[str]) -> str:
    """'Amphibia Anura Hylidae' for a family, 'Amphibia Anura Hylidae Hyla versicolor' for a species."""
    return " ".join(taxon_parts(rank, names))


def taxonomic_sequence(lineage: Lineage, rng: np.random.Generator | None = None) -> str:
    """class order family genus epithet; shuffled when an rng is given (the ablation)."""
    parts = taxon_parts("species", lineage.names())
    if rng is not None:
        parts = [parts[i] for i in rng.permutation(len(parts))]
    return " ".join(parts)


def render(template: Template, lineage: Lineage, common: str | None,
           rng: np.random.Generator | None = None) -> str:
    """One prompt; templates that need a common name fall back to the scientific one without it."""
    sci = lineage.species
    if template is Template.COM:
        return common or sci
    if template is Template.SCI:
        return sci
    tax = taxonomic_sequence(lineage, rng)
    if template is Template.TAX:
        return tax
    if template is Template.SCI_COM:
        return sci_com(sci, common)
    return f"{tax}, with a common name {common}" if common else tax


def sci_com(scientific: str, common: str | None) -> str:
    """The Sci+Com prompt from two names alone (a classifier's label has no lineage)."""
    return f"{scientific} with a common name {common}" if common else scientific

