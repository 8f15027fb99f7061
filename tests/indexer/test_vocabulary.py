"""Traits, ranks, lineages, licences and dates: the vocabulary every source maps into."""

from __future__ import annotations

import datetime as dt

import pytest

from catalog.licenses import normalise_license
from catalog.sources.base import parse_coordinate, parse_date
from catalog.taxonomy import Lineage, Rank, normalise_scientific_name
from catalog.traits import (
    ALL_LABELS,
    ANIMALCLAP_TRAITS,
    BY_KEY,
    CATEGORIES,
    TraitError,
    TraitKind,
    expand,
    from_animalclap,
    payload_values,
)


def test_biovita_vocabulary_has_34_labels_in_nine_categories() -> None:
    assert len(ALL_LABELS) == 34
    assert len(set(ALL_LABELS)) == 34
    assert [c.key for c in CATEGORIES] == ["diet", "activity", "posture", "lifestyle", "trophic", "habitat",
                                          "climate", "social", "migration"]
    # BioVITA's starred (mutually exclusive) categories are exactly the categorical ones.
    assert {c.key for c in CATEGORIES if c.exclusive} == {"diet", "activity", "posture", "social"}
    assert BY_KEY["trophic"].kind is TraitKind.BINARY


def test_animalclap_22_traits_map_into_biovita_labels() -> None:
    assert len(ANIMALCLAP_TRAITS) == 22
    for key, label in ANIMALCLAP_TRAITS.values():
        assert key in BY_KEY
        assert label is None or label in BY_KEY[key].labels


def test_categorical_takes_exactly_one_value() -> None:
    assert expand("activity", "Nocturnal") == {"diurnal": False, "nocturnal": True, "crepuscular": False,
                                               "cathemeral": False}
    with pytest.raises(TraitError, match="one of"):
        expand("activity", "nocturnal;diurnal")
    with pytest.raises(TraitError, match="unknown value 'sleepy'"):
        expand("activity", "sleepy")


def test_multilabel_and_binary() -> None:
    habitat = expand("habitat", "forest; wetland")
    assert [k for k, v in habitat.items() if v] == ["forest", "wetland"]
    assert sum(habitat.values()) == 2
    assert len(habitat) == 6
    assert expand("trophic", "yes") == {"predator": True}
    assert expand("trophic", False) == {"predator": False}
    with pytest.raises(TraitError):
        expand("trophic", "sometimes")
    with pytest.raises(TraitError, match="unknown trait"):
        expand("wingspan", "big")


def test_animalclap_record_and_payload() -> None:
    facts = from_animalclap({"activity_pattern": "nocturnal", "habitat_wetland": "true", "predator": "0"})
    assert facts[("activity", "nocturnal")] is True
    assert facts[("habitat", "wetland")] is True
    assert facts[("trophic", "predator")] is False
    values = payload_values((k, lab, v) for (k, lab), v in facts.items())
    assert values == ["activity=nocturnal", "habitat=wetland"]


def test_lineage_checks_genus_and_completeness() -> None:
    lin = Lineage("Amphibia", "Anura", "Hylidae", "Hyla", "Hyla versicolor")
    assert lin.at(Rank.FAMILY) == "Hylidae"
    assert lin.epithet == "versicolor"
    with pytest.raises(ValueError, match="not in genus"):
        Lineage("Amphibia", "Anura", "Hylidae", "Dryophytes", "Hyla versicolor")
    with pytest.raises(ValueError, match="lacks family"):
        Lineage("Amphibia", "Anura", "", "Hyla", "Hyla versicolor")
    assert normalise_scientific_name("  hyla   VERSICOLOR ") == "Hyla versicolor"
    assert [r.level for r in Rank.ordered()] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(("raw", "code"), [
    ("CC BY-NC 4.0", "cc-by-nc"),
    ("//creativecommons.org/licenses/by-nc-sa/4.0/", "cc-by-nc-sa"),
    ("http://creativecommons.org/publicdomain/zero/1.0/", "cc0"),
    ("CC0", "cc0"),
    ("cc-by", "cc-by"),
    ("Creative Commons Attribution-ShareAlike 4.0 International", "cc-by-sa"),
    ("All rights reserved", "all-rights-reserved"),
    ("CC0-1.0", "cc0"),  # SPDX forms, as Debian copyright files and GCompris write them
    ("CC-BY-SA-4.0", "cc-by-sa"),
    ("Public Domain", "cc0"),
    ("GPLv3", "gplv3"),  # not Creative Commons: kept whole, version and all
    ("GPL-3+", "gpl-3+"),
])
def test_licence_normalisation(raw: str, code: str) -> None:
    assert normalise_license(raw) == code


def test_dates_and_coordinates() -> None:
    assert parse_date("2021-06-25") == dt.date(2021, 6, 25)
    assert parse_date("2021-06-25T22:18:43+00:00") == dt.date(2021, 6, 25)
    assert parse_date("2020-05-01/2020-05-03") == dt.date(2020, 5, 1)
    assert parse_date("2019-05-00") == dt.date(2019, 5, 1)
    assert parse_date("2019") == dt.date(2019, 1, 1)
    assert parse_date("") is None
    for bad in ("31/12/2020", "yesterday", "2020-13-45"):
        with pytest.raises(ValueError, match="bad date"):
            parse_date(bad)
    assert parse_coordinate("51.6", 90, "lat") == 51.6
    with pytest.raises(ValueError, match="outside"):
        parse_coordinate("91", 90, "lat")
    with pytest.raises(ValueError, match="bad lon"):
        parse_coordinate("east", 180, "lon")
