"""The five prompt templates and the two ablation switches."""

from __future__ import annotations

from collections import Counter

import numpy as np

from catalog.taxonomy import Lineage
from training.prompts import ALL_TEMPLATES, PromptSampler, Template, render, taxonomic_sequence

HV = Lineage("Amphibia", "Anura", "Hylidae", "Hyla", "Hyla versicolor")


def test_templates() -> None:
    assert render(Template.COM, HV, "Gray Treefrog") == "Gray Treefrog"
    assert render(Template.SCI, HV, "Gray Treefrog") == "Hyla versicolor"
    assert render(Template.TAX, HV, "Gray Treefrog") == "Amphibia Anura Hylidae Hyla versicolor"
    assert render(Template.SCI_COM, HV, "Gray Treefrog") == "Hyla versicolor with a common name Gray Treefrog"
    assert render(Template.TAX_COM, HV, "Gray Treefrog") == (
        "Amphibia Anura Hylidae Hyla versicolor, with a common name Gray Treefrog")
    assert render(Template.COM, HV, None) == "Hyla versicolor"  # no common name: fall back


def test_sampler_draws_every_template_and_can_be_restricted() -> None:
    sampler = PromptSampler(seed=1)
    drawn = Counter(sampler(HV, "Gray Treefrog") for _ in range(500))
    assert set(drawn) == {render(t, HV, "Gray Treefrog") for t in ALL_TEMPLATES}
    assert min(drawn.values()) > 60  # roughly uniform over five
    only_sci = PromptSampler([Template.SCI], seed=1)
    assert {only_sci(HV, "Gray Treefrog") for _ in range(20)} == {"Hyla versicolor"}


def test_random_taxonomic_order() -> None:
    rng = np.random.default_rng(0)
    orders = {taxonomic_sequence(HV, rng) for _ in range(50)}
    assert len(orders) > 10
    assert all(sorted(o.split()) == sorted(["Amphibia", "Anura", "Hylidae", "Hyla", "versicolor"]) for o in orders)
    sampler = PromptSampler([Template.TAX], random_order=True, seed=2)
    assert len({sampler(HV, None) for _ in range(30)}) > 5
