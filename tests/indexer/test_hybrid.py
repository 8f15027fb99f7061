"""The hybrid ranking's arithmetic by hand: sources combined by confidence, candidates scored by the
posterior their lineage holds, items identified above species still ranked, explanations."""

from __future__ import annotations

import pytest

from indexer.evidence import merged_classes
from indexer.hybrid import RANK_WEIGHTS, SIMILARITY_WEIGHT, Evidence, agreement, combine, distribution, fuse, vote

OWL = {"class": "Aves", "order": "Strigiformes", "family": "Strigidae", "genus": "Strix", "species": "Strix aluco"}
BARRED = {**OWL, "species": "Strix varia"}
FROG = {"class": "Amphibia", "order": "Anura", "family": "Hylidae", "genus": "Hyla", "species": "Hyla versicolor"}


def test_a_source_is_a_distribution_at_every_rank_and_its_peak_is_its_confidence() -> None:
    dist, conf = distribution(Evidence("head", [(OWL, 0.6), (BARRED, 0.2), (FROG, 0.2)]))
    assert dist["species"] == pytest.approx({"Strix aluco": 0.6, "Strix varia": 0.2, "Hyla versicolor": 0.2})
    assert dist["genus"] == pytest.approx({"Strix": 0.8, "Hyla": 0.2})
    assert conf == pytest.approx(0.6)
    _, unreliable = distribution(Evidence("vote", [(OWL, 1.0)], reliability=0.25))
    assert unreliable == pytest.approx(0.25)
    assert distribution(Evidence("empty", []))[1] == 0.0


def test_sources_are_mixed_by_confidence() -> None:
    sure = Evidence("head", [(OWL, 0.9), (FROG, 0.1)])  # confidence 0.9
    unsure = Evidence("vote", [(FROG, 0.5), (BARRED, 0.5)])  # confidence 0.5
    post = combine([sure, unsure])
    assert post.sources == ["head", "vote"]
    assert post.p("species", "Strix aluco") == pytest.approx(0.9 * 0.9 / 1.4)
    assert post.p("species", "Hyla versicolor") == pytest.approx((0.1 * 0.9 + 0.5 * 0.5) / 1.4)
    assert post.p("genus", "Strix") == pytest.approx((0.9 * 0.9 + 0.5 * 0.5) / 1.4)
    assert combine([Evidence("vote", [(OWL, 1.0)], reliability=0.0)]).empty  # a source never right counts for nothing


def test_candidates_rank_by_agreement_then_similarity_and_say_why() -> None:
    post = combine([Evidence("head", [(OWL, 1.0)], {"Strix aluco": "Tawny Owl"})])
    family_only = {"class": "Aves", "order": "Strigiformes", "family": "Strigidae"}  # identified above species
    scored = fuse(post, [("frog", 0.9, FROG), ("barred", 0.5, BARRED), ("tawny", 0.2, OWL), ("owl?", 0.6, family_only),
                         ("nothing", 0.95, {})])
    assert [s.key for s in scored] == ["tawny", "barred", "owl?", "nothing", "frog"]
    why = {s.key: s.why for s in scored}
    assert why["tawny"] == "same species as the identified Tawny Owl 1.00"
    assert why["barred"] == "same genus as the likely genus Strix 1.00"
    assert why["owl?"] == "same family as the likely family Strigidae 1.00"
    assert why["frog"] == why["nothing"] == "nearest in the shared space"
    top = scored[0]
    assert top.agreement == pytest.approx(1.0)
    assert top.score == pytest.approx(1.0 + SIMILARITY_WEIGHT * 0.2)
    assert agreement(post, family_only) == pytest.approx(
        sum(RANK_WEIGHTS[r] for r in ("class", "order", "family")) / sum(RANK_WEIGHTS.values()))


def test_without_evidence_the_order_is_the_similarity() -> None:
    scored = fuse(combine([]), [("a", 0.2, OWL), ("b", 0.9, FROG)])
    assert [s.key for s in scored] == ["b", "a"]
    assert all(s.why == "nearest in the shared space" for s in scored)


def test_a_vote_weights_neighbours_by_similarity() -> None:
    ev = vote("nearest sounds", [(OWL, 0.9), (FROG, 0.8)], temperature=0.05)
    dist, _ = distribution(ev)
    assert dist["species"]["Strix aluco"] > 0.85
    assert sum(dist["species"].values()) == pytest.approx(1.0)


def test_merged_classes_keep_the_best_member() -> None:
    import numpy as np

    probs = np.array([0.01] * 120 + [0.3])  # 120 breeds at 1% each and one lion at 30%
    merged = merged_classes(probs, ["dog"] * 120 + ["lion"])
    assert merged == pytest.approx({"dog": 0.01, "lion": 0.3})  # summed, "dog" would be 1.2
