"""Taxonomy-aware text prompts (AnimalCLAP Table 2, BioVITA Table 9).

Five templates, one drawn per example during training:
  Com      'Gray Treefrog'
  Sci      'Hyla versicolor'
  Tax      'Amphibia Anura Hylidae Hyla versicolor'   (class order family genus species, broad to narrow)
  Sci+Com  'Hyla versicolor with a common name Gray Treefrog'
  Tax+Com  'Amphibia Anura Hylidae Hyla versicolor, with a common name Gray Treefrog'
Two styles word them. `vita` (above) ends the taxonomic sequence in the epithet. `biovita` is
BioVITA's own code's wording: 'Hyla versicolor with common name Gray Treefrog' and the sequence
ending in the binomial, 'Amphibia Anura Hylidae Hyla Hyla versicolor with common name Gray
Treefrog'. A preset names its style (`EncoderConfig.prompts`): a released model is queried in the
words it was trained on.
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


class PromptStyle(str, Enum):
    VITA = "vita"
    BIOVITA = "biovita"


def taxon_parts(rank: str, names: Sequence[str], style: PromptStyle = PromptStyle.VITA) -> list[str]:
    """The Tax prompt's words for a taxon of any rank: class .. the taxon, broad to narrow; a species
    ends in its epithet (`vita`) or its binomial (`biovita`)."""
    parts = [n for n in names if n]
    if rank == "species" and parts and style is PromptStyle.VITA:
        parts[-1] = parts[-1].split(" ", 1)[-1]
    return parts


def taxon_prompt(rank: str, names: Sequence[str], style: PromptStyle = PromptStyle.VITA) -> str:
    """'Amphibia Anura Hylidae' for a family, 'Amphibia Anura Hylidae Hyla versicolor' for a species."""
    return " ".join(taxon_parts(rank, names, style))


def taxonomic_sequence(lineage: Lineage, rng: np.random.Generator | None = None,
                       style: PromptStyle = PromptStyle.VITA) -> str:
    """class order family genus epithet (or binomial); shuffled when an rng is given (the ablation)."""
    parts = taxon_parts("species", lineage.names(), style)
    if rng is not None:
        parts = [parts[i] for i in rng.permutation(len(parts))]
    return " ".join(parts)


def render(template: Template, lineage: Lineage, common: str | None,
           rng: np.random.Generator | None = None, style: PromptStyle = PromptStyle.VITA) -> str:
    """One prompt; templates that need a common name fall back to the scientific one without it."""
    sci = lineage.species
    if template is Template.COM:
        return common or sci
    if template is Template.SCI:
        return sci
    tax = taxonomic_sequence(lineage, rng, style)
    if template is Template.TAX:
        return tax
    if template is Template.SCI_COM:
        return sci_com(sci, common, style)
    if not common:
        return tax
    return f"{tax} with common name {common}" if style is PromptStyle.BIOVITA else f"{tax}, with a common name {common}"


def sci_com(scientific: str, common: str | None, style: PromptStyle = PromptStyle.VITA) -> str:
    """The Sci+Com prompt from two names alone (a classifier's label has no lineage)."""
    if not common:
        return scientific
    return f"{scientific} with common name {common}" if style is PromptStyle.BIOVITA else \
        f"{scientific} with a common name {common}"
