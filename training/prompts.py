"""The training prompt sampler: one template drawn per example (AnimalCLAP Table 2, BioVITA Table 9).

Switches reproduce the papers' ablations: a single template (AnimalCLAP Table 3 rows) and a
random order of the taxonomic sequence (Table 4). The templates themselves are `catalog.prompts`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from catalog.errors import ConfigError
from catalog.prompts import (
    ALL_TEMPLATES,
    PromptStyle,
    Template,
    render,
    taxon_parts,
    taxon_prompt,
    taxonomic_sequence,
)
from catalog.taxonomy import Lineage

__all__ = ["ALL_TEMPLATES", "PromptSampler", "PromptStyle", "Template", "render", "taxon_parts", "taxon_prompt", "taxonomic_sequence"]


class PromptSampler:
    """Draws a template per example; `random_order` shuffles the taxonomic sequence each time."""

    def __init__(self, templates: Sequence[Template] = ALL_TEMPLATES, random_order: bool = False,
                 seed: int = 0, style: PromptStyle = PromptStyle.VITA) -> None:
        if not templates:
            raise ConfigError("at least one template")
        self.templates = tuple(Template(t) for t in templates)
        self.random_order = random_order
        self.rng = np.random.default_rng(seed)
        self.style = style

    def __call__(self, lineage: Lineage, common: str | None) -> str:
        template = self.templates[int(self.rng.integers(len(self.templates)))]
        return render(template, lineage, common, self.rng if self.random_order else None, self.style)
