"""Names people use -> taxa: WordNet's animal nouns, the eBird/Clements checklist, the catalog's own
names; and records identified above species at ingest."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from catalog.names import NameResolver, singulars
from catalog.names.birds import bird_taxonomy
from catalog.names.wordnet import WordNet
from catalog.sources.folder import FolderSource
from catalog.tables import Media, Taxon
from tests.support import HYLA, row, write_audio, write_csv
from vita.settings import Settings

# a sample of nouns, each with the taxon WordNet files it under (read off WordNet 3.0 by hand)
WORDNET_SAMPLE = {
    "owl": ("order", "Strigiformes"), "owls": ("order", "Strigiformes"), "frogs": ("order", "Anura"),
    "duck": ("family", "Anatidae"), "geese": ("family", "Anatidae"), "bird": ("class", "Aves"),
    "bats": ("order", "Chiroptera"), "tree frog": ("family", "Hylidae"), "barn owl": ("genus", "Tyto"),
    "toucan": ("family", "Ramphastidae"), "crickets": ("family", "Gryllidae"), "mice": ("order", "Rodentia"),
    "wolves": ("genus", "Canis"), "cow": ("genus", "Bos"), "thrush": ("family", "Turdidae"),
    "penguin": ("family", "Spheniscidae"), "insects": ("class", "Insecta"), "Strigidae": ("family", "Strigidae"),
}


@pytest.mark.parametrize("word", list(WORDNET_SAMPLE))
def test_wordnet_files_animal_nouns_under_their_taxa(wordnet: WordNet, word: str) -> None:
    rank, name = WORDNET_SAMPLE[word]
    taxa = wordnet.taxa(word)
    assert len(taxa) == 1 and taxa[0].rank == rank and name in taxa[0].names, taxa


def test_wordnet_reads_no_taxon_into_ordinary_words(wordnet: WordNet) -> None:
    for word in ("grey", "forest", "night", "calling", "photos", "xyzzy", "the"):
        assert wordnet.taxa(word) == [], word
    seals = wordnet.taxa("seals")  # suborder Pinnipedia: expanded to its families, a filter stays exact
    assert seals[0].expanded
    assert {"Phocidae", "Otariidae"} <= set(seals[0].names)
    robin = wordnet.taxa("robin")  # two birds: both meanings come back
    assert {t.names[0] for t in robin} == {"Erithacus", "Turdus"}


def test_the_bird_checklist_gives_lineages_and_names() -> None:
    birds = bird_taxonomy()
    assert birds is not None
    assert len(birds.by_scientific) > 10_000
    mallard = birds.lineage("Anas platyrhynchos")
    assert mallard is not None
    assert (mallard.order, mallard.family) == ("Anseriformes", "Anatidae")
    assert birds.species_for("Barred Owl") == "Strix varia"
    assert birds.common_name("Strix aluco") == "Tawny Owl"


TAXA = [("class", "Amphibia", None, ("Amphibia",)), ("order", "Anura", None, ("Amphibia", "Anura")),
        ("family", "Bufonidae", None, ("Amphibia", "Anura", "Bufonidae")),
        ("species", "Anaxyrus fowleri", "Fowler's Toad", ("Amphibia", "Anura", "Bufonidae", "Anaxyrus", "Anaxyrus fowleri")),
        ("family", "Hylidae", None, ("Amphibia", "Anura", "Hylidae")),
        ("species", "Hyla versicolor", "Gray Treefrog", ("Amphibia", "Anura", "Hylidae", "Hyla", "Hyla versicolor")),
        ("class", "Aves", None, ("Aves",)), ("order", "Strigiformes", None, ("Aves", "Strigiformes")),
        ("species", "Strix aluco", "Tawny Owl", ("Aves", "Strigiformes", "Strigidae", "Strix", "Strix aluco")),
        ("species", "Turdus migratorius", "American Robin", ("Aves", "Passeriformes", "Turdidae", "Turdus",
                                                             "Turdus migratorius")),
        ("species", "Erithacus rubecula", "European Robin", ("Aves", "Passeriformes", "Muscicapidae", "Erithacus",
                                                             "Erithacus rubecula"))]


@pytest.fixture
def resolver(wordnet: WordNet) -> NameResolver:
    rows = [*TAXA, ("genus", "Turdus", None, TAXA[-2][3][:4]), ("genus", "Erithacus", None, TAXA[-1][3][:4])]
    return NameResolver(rows, wordnet, bird_taxonomy())


def test_the_resolver_reads_names_whole_in_any_case_and_number(resolver: NameResolver) -> None:
    def first(text: str) -> list[str]:
        res = resolver.resolve(text)
        return [t.label() for t in res.meanings[0]] if res else []

    assert first("gray treefrogs") == first("GRAY TREEFROG") == ["species Hyla versicolor (Gray Treefrog)"]
    assert first("Tawny Owls") == ["species Strix aluco (Tawny Owl)"]
    assert first("hyla versicolor")[0].startswith("species")
    assert first("owls") == ["order Strigiformes"]
    assert first("toads") == ["order Anura"]
    assert first("grey treefrog") == first("gray treefrog")  # one letter off, two words: close enough
    ostrich = resolver.resolve("common ostrich")
    assert ostrich is not None
    assert ostrich.source == "birds"
    assert not ostrich.held()  # named, not held
    robin = resolver.resolve("robins")
    assert robin is not None
    assert robin.ambiguous
    assert len(robin.held()) == 2  # both genera held: a choice
    assert resolver.resolve("xyzzy") is None
    assert singulars("tawny owls") == ["tawny owl"]


def test_type_ahead_matches_word_starts_never_inside_a_word(resolver: NameResolver) -> None:
    owl = [t.name for t in resolver.suggest("owl")]
    assert owl[0] == "Strigiformes"
    assert "Strix aluco" in owl
    assert "Anaxyrus fowleri" not in owl
    assert [t.name for t in resolver.suggest("tawny")] == ["Strix aluco"]
    assert [t.name for t in resolver.suggest("Gray Treefrog")][0] == "Hyla versicolor"
    assert [t.name for t in resolver.suggest("fowl", ranks=("species",))] == ["Anaxyrus fowleri"]  # the epithet's start


def test_records_identified_above_species_ingest_at_their_rank(settings: Settings, db_url: str, tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    for i in range(7):
        write_audio(root / f"r{i}.wav", 1.0, freq=300.0 + 50 * i)
    rows = [row("S-1", "r0.wav", "Hyla versicolor", HYLA, common="Gray Treefrog"),
            row("G-1", "r1.wav", "Hyla", HYLA, taxonRank="genus"),
            row("F-1", "r2.wav", "Ardeidae", ["Aves", "Pelecaniformes", "Ardeidae", ""], taxonRank="Family"),
            row("O-1", "r3.wav", "", ["Amphibia", "Anura", "", ""]),  # lineage columns alone
            row("X-1", "r4.wav", "Hylidae"),  # no rank, no columns: a name the catalog holds
            row("X-2", "r5.wav", "Cervidae", taxonRank="family"),  # new, and no lineage up to its class
            row("X-3", "r6.wav", "Animalia", taxonRank="kingdom")]
    write_csv(root / "metadata.csv", rows, [*rows[1]])
    cat = settings.open_catalog(db_url)
    report = cat.ingest(FolderSource(root))
    assert (report.added, report.failed) == (5, 2), report.failures
    reasons = {f.item: f.reason for f in cat.failures()}
    assert any("r5.wav" in i and "no lineage up to its class" in r for i, r in reasons.items()), reasons
    assert any("r6.wav" in i and "taxonRank 'kingdom'" in r for i, r in reasons.items()), reasons
    with cat.sessions() as s:
        got = dict(s.execute(select(Media.source_id, Taxon.rank).join(Taxon, Media.taxon_id == Taxon.id)).all())
        heron = s.scalar(select(Taxon).where(Taxon.name == "Ardeidae"))
        assert (heron.rank, heron.class_name, heron.order_name, heron.family_name) == (
            "family", "Aves", "Pelecaniformes", "Ardeidae")
    assert got == {"S-1": "species", "G-1": "genus", "F-1": "family", "O-1": "order", "X-1": "family"}
    assert cat.species("Ardeidae").rank == "family"
    again = cat.ingest(FolderSource(root))
    assert (again.added, again.skipped, again.failed) == (0, 5, 2)
    cat.close()


# The towers' own labels, placed by published sources (no catalog): BirdNET's by the checklist,
# WordNet's genus, or the head noun of the English name; ImageNet's by WordNet's synsets.
BIRDNET_SAMPLE = {
    ("Strix aluco", "Tawny Owl"): ("Aves", "Strigiformes", "Strigidae"),
    ("Acris crepitans", "Northern Cricket Frog"): ("Amphibia", None, "Hylidae"),  # WordNet's genus Acris
    ("Scudderia furcata", "Fork-tailed Bush Katydid"): ("Insecta", "Orthoptera", "Tettigoniidae"),  # "katydid"
    ("Canis lupus", "Gray Wolf"): ("Mammalia", "Carnivora", "Canidae"),
}
IMAGENET_SAMPLE = {24: ("species", "Strix nebulosa", "Aves"), 31: ("order", "Salientia", "Amphibia"),  # tree frog
                   96: ("family", "Ramphastidae", "Aves"), 281: ("species", "Felis catus", "Mammalia"),  # tabby
                   207: ("species", "Canis familiaris", "Mammalia"), 130: ("family", "Phoenicopteridae", "Aves")}


def test_birdnet_labels_are_placed_by_the_checklist_wordnet_or_their_english_name(wordnet: WordNet) -> None:
    from catalog.names.lineage import label_lineages

    labels = [*BIRDNET_SAMPLE, ("Neoconocephalus robustus", "Robust Conehead"), ("Engine", "Engine")]
    got = label_lineages(labels, wordnet)
    for (label, (cls, order, family)), lin in zip(BIRDNET_SAMPLE.items(), got):
        assert lin["class"] == cls and lin["family"] == family and lin["species"] == label[0], (label, lin)
        assert order is None or lin["order"] == order
    assert got[-2] == {"genus": "Neoconocephalus", "species": "Neoconocephalus robustus"}  # no source: the binomial
    assert got[-1] == {}  # a non-event class


def test_imagenet_classes_are_placed_through_their_wordnet_synsets(wordnet: WordNet) -> None:
    from encoders.towers.efficientnet import imagenet_classes
    from encoders.towers.imagenet_species import imagenet_lineages

    lineages = imagenet_lineages(wordnet)
    names = imagenet_classes()
    for index, (rank, name, cls) in IMAGENET_SAMPLE.items():
        lin = lineages[index]
        assert lin.get(rank) == name and lin["class"] == cls and list(lin)[-1] == rank, (names[index], lin)
    assert lineages[names.index("balloon")] == {}  # no animal
    placed = sum(bool(lin) for lin in lineages)
    assert 350 < placed < 420  # ImageNet has 398 animal classes; a few are groups of several taxa


def test_a_close_spelling_is_found_among_names_of_a_possible_length_and_kept(
        resolver: NameResolver, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pruned search finds what a search of every name finds, and a repeated word costs no search."""
    import difflib

    spellings = [n for names in resolver._spellings.values() for n in names]
    for typo in ("grey treefrog", "tawny owll", "hyla versicolour", "fowlers toad", "great tit"):
        every = difflib.get_close_matches(typo, spellings, n=1, cutoff=0.88)
        assert resolver._nearest(typo) == (every[0] if every else None), typo
    calls: list[str] = []
    real = difflib.get_close_matches
    monkeypatch.setattr(difflib, "get_close_matches", lambda form, *a, **kw: (calls.append(form), real(form, *a, **kw))[1])
    assert resolver.resolve("grey treefrog") is not None
    assert resolver.resolve("Grey  Treefrog") is not None  # the same words
    assert calls == []  # answered above and kept


def test_new_taxa_are_named_at_once_after_an_ingest_and_soon_after_another_process_s(
        settings: Settings, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The resolver is kept between searches: this catalog's own ingest renews it at once; another
    writer's (a second Catalog on the same database, as another process is) once NAMES_RECHECK_S passed."""
    import catalog.facade

    root = tmp_path / "corpus"
    for i in range(2):
        write_audio(root / f"r{i}.wav", 1.0, freq=300.0 + 50 * i)
    write_csv(root / "a.csv", [row("A-1", "r0.wav", "Hyla versicolor", HYLA)])
    write_csv(root / "b.csv", [row("B-1", "r1.wav", "Strix varia", ["Aves", "Strigiformes", "Strigidae", "Strix"])])
    monkeypatch.setattr(catalog.facade, "NAMES_RECHECK_S", 3600.0)
    reader, writer = settings.open_catalog(db_url), settings.open_catalog(db_url)
    with reader, writer:
        assert reader.names().held_name("species", "Hyla versicolor") is None
        assert reader.ingest(FolderSource(root, root / "a.csv")).added == 1
        assert reader.names().held_name("species", "hyla versicolor") == "Hyla versicolor"  # at once
        assert writer.ingest(FolderSource(root, root / "b.csv")).added == 1
        assert writer.names().held_name("genus", "strix") == "Strix"
        monkeypatch.setattr(catalog.facade, "NAMES_RECHECK_S", 0.0)
        assert reader.names().held_name("genus", "strix") == "Strix"  # the other writer's, once checked
