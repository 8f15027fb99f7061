"""The demo world: real taxonomy, traits for everyone, features inherited down the tree."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from catalog.facade import Catalog
from catalog.sources.base import MediaRecord
from catalog.sources.demo import PRESETS, DemoPreset, DemoSize, DemoWorldSource, select_species, sound
from catalog.sources.demo.world import latent, species_list, traits_of
from catalog.tables import Media, MediaKind, Taxon
from catalog.traits import CATEGORIES
from tests.support import make_settings
from vita.settings import Settings

TINY = DemoPreset(genera_per_family=1, species_per_genus=3, audio_per_species=2, images_per_species=1,
                  sample_rate=8000, audio_seconds=(1.0, 1.5), image_size=32)


def test_world_meets_the_brief() -> None:
    world = species_list()
    assert len(world) >= 200
    classes = {s.lineage.class_ for s in world}
    families = {s.lineage.family for s in world}
    assert classes >= {"Aves", "Amphibia", "Insecta", "Mammalia"}
    assert len(families) >= 30
    assert families >= {"Hylidae", "Ranidae", "Bufonidae", "Strigidae", "Parulidae", "Turdidae", "Gryllidae",
                        "Tettigoniidae", "Canidae", "Vespertilionidae"}
    per_genus = Counter(s.lineage.genus for s in world)
    assert sum(n >= 3 for n in per_genus.values()) > len(per_genus) / 2
    assert len({s.name for s in world}) == len(world), "duplicate species"
    assert all(s.common_name for s in world)


def test_every_species_has_all_traits_consistently() -> None:
    for s in species_list():
        facts = traits_of(s)
        for cat in CATEGORIES:
            values = [facts[(cat.key, lab)] for lab in cat.labels]
            assert len(values) == len(cat.labels), (s.name, cat.key)
            if cat.exclusive:
                assert sum(values) == 1, (s.name, cat.key)
    owls = {s.name: traits_of(s) for s in species_list() if s.lineage.family == "Strigidae"}
    assert owls["Strix varia"][("activity", "nocturnal")]
    assert owls["Bubo scandiacus"][("climate", "polar")]  # a species override
    assert not owls["Strix varia"][("climate", "polar")]


def _centroid(s_name: str, k: int) -> float:
    s = next(x for x in species_list() if x.name == s_name)
    wave = sound.render(sound.params_for(s.lineage, latent(s.lineage, 0)), 2.0, 16000, np.random.default_rng(k))
    power = np.abs(np.fft.rfft(wave)) ** 2
    freqs = np.fft.rfftfreq(len(wave), 1 / 16000)
    return float(np.log2((power * freqs).sum() / power.sum()))


def test_sounds_are_inherited_down_the_tree() -> None:
    """Measured on rendered audio: congeners sound closer than confamilials, who sound closer
    than members of other classes (log spectral centroid, over many pairs)."""
    chosen = [s for s in species_list() if s.lineage.class_ in {"Aves", "Amphibia"}][::2]
    feat = {s.name: np.mean([_centroid(s.name, k) for k in range(2)]) for s in chosen}
    lin = {s.name: s.lineage for s in chosen}
    gaps: dict[str, list[float]] = defaultdict(list)
    for a, b in itertools.combinations(feat, 2):
        la, lb = lin[a], lin[b]
        rel = ("genus" if la.genus == lb.genus else "family" if la.family == lb.family
               else "class" if la.class_ == lb.class_ else "other")
        gaps[rel].append(abs(feat[a] - feat[b]))
    mean = {k: float(np.mean(v)) for k, v in gaps.items()}
    assert mean["genus"] < mean["family"] < mean["other"], mean


def test_latents_shrink_towards_the_species() -> None:
    hyla = [s.lineage for s in species_list() if s.lineage.genus == "Hyla"]
    hylidae_other = [s.lineage for s in species_list() if s.lineage.family == "Hylidae" and s.lineage.genus != "Hyla"]
    owls = [s.lineage for s in species_list() if s.lineage.family == "Strigidae"]
    z = lambda lins: np.stack([latent(x, 0) for x in lins])
    within = np.linalg.norm(z(hyla) - z(hyla).mean(0), axis=1).mean()
    family = np.linalg.norm(z(hylidae_other) - z(hyla).mean(0), axis=1).mean()
    other = np.linalg.norm(z(owls) - z(hyla).mean(0), axis=1).mean()
    assert within < family < other


def test_generation_is_deterministic(tmp_path: Path) -> None:
    """Same seed, byte-identical files (so sha256 dedup holds after a crash); other seed, other files."""
    sources = {name: DemoWorldSource(tmp_path / name, "small", seed=seed)
               for name, seed in (("a", 3), ("b", 3), ("c", 4))}
    records = [r for r in sources["a"].records() if isinstance(r, MediaRecord)][:4]
    for r in records:
        data = {}
        for name, src in sources.items():
            moved = replace(r, path=src.root / r.path.relative_to(sources["a"].root))
            data[name] = src.fetch(moved).read_bytes()
        assert data["a"] == data["b"]
        assert data["a"] != data["c"]


def test_presets_select_parts_of_the_world() -> None:
    small = select_species(PRESETS[DemoSize.SMALL])
    full = select_species(PRESETS[DemoSize.DEFAULT])
    assert len(full) == len(species_list())
    assert 100 <= len(small) < len(full)
    assert {s.lineage.family for s in small} == {s.lineage.family for s in full}


def test_the_large_preset_is_the_whole_world_with_over_30000_clips(tmp_path: Path) -> None:
    """The indexing benchmark's size: every species, >= 30,000 recordings; only the records are made
    here (synthesising 30,000 files is the benchmark's set-up, not a test's)."""
    src = DemoWorldSource(tmp_path, "large", workers=1)  # one worker: records are listed, no file is made
    media = [r for r in src.records() if isinstance(r, MediaRecord)]
    clips = [r for r in media if r.kind is MediaKind.AUDIO]
    assert len(select_species(src.preset)) == len(species_list())
    assert len(clips) >= 30_000
    assert len(media) - len(clips) >= len(species_list())
    assert len({r.source_id for r in media}) == len(media)  # no record twice
    assert src.root.name == "demo-large-0"  # its own folder: the default world's files are not reused
    assert not any(tmp_path.rglob("*.flac"))


@pytest.fixture(scope="module")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    settings = make_settings(tmp_path_factory.mktemp("small"))
    cat = settings.open_catalog()
    report = cat.ingest(DemoWorldSource(settings.media_dir, "small"))
    assert report.failed == 0, report.failures[:3]
    yield cat
    cat.close()


def test_small_world_has_seen_and_unseen_species_per_class(small_world: Catalog) -> None:
    st = small_world.stats()
    assert {c.name for c in st.classes} == {"Aves", "Amphibia", "Insecta", "Mammalia"}
    for c in st.classes:
        assert c.seen > 0 and c.unseen > 0, c
        assert c.audio > 0 and c.images > 0, c
    assert set(st.splits) == {"train", "val", "test-seen", "test-unseen"}
    assert st.open_failures == 0


def test_unseen_species_share_genus_or_family_with_training_species(small_world: Catalog) -> None:
    with small_world.sessions() as s:
        species = list(s.scalars(select(Taxon).where(Taxon.rank == "species")))
        trained = set(s.scalars(select(Media.taxon_id).where(Media.split == "train")))
        for t in species:
            splits = set(s.scalars(select(Media.split).where(Media.taxon_id == t.id)))
            if t.split_role == "unseen":
                assert splits == {"test-unseen"}, t.name
                relatives = [o for o in species if o.id in trained and o.id != t.id
                             and (o.genus_name == t.genus_name or o.family_name == t.family_name)]
                assert relatives, t.name
            else:
                assert "test-unseen" not in splits and t.id in trained, t.name
        # one observation's sound and photo never straddle two splits
        groups: dict[str, set[str]] = defaultdict(set)
        for m in s.scalars(select(Media)):
            groups[m.extra["group"]].add(m.split)
        assert all(len(v) == 1 for v in groups.values())


def test_rerun_adds_nothing_and_splits_stay(small_world: Catalog) -> None:
    with small_world.sessions() as s:
        before = dict(s.execute(select(Media.sha256, Media.split)).all())
        roles = dict(s.execute(select(Taxon.name, Taxon.split_role)).all())
    report = small_world.ingest(DemoWorldSource(Path(small_world.url.removeprefix("sqlite:///")).parent / "media", "small"))
    assert report.added == 0
    assert report.skipped == len(before)
    assert report.failed == 0
    with small_world.sessions() as s:
        assert dict(s.execute(select(Media.sha256, Media.split)).all()) == before
        assert dict(s.execute(select(Taxon.name, Taxon.split_role)).all()) == roles


def test_species_card(small_world: Catalog) -> None:
    card = small_world.species("gray treefrog")
    assert card.name == "Hyla versicolor"
    assert card.lineage == {"class": "Amphibia", "order": "Anura", "family": "Hylidae", "genus": "Hyla",
                            "species": "Hyla versicolor"}
    assert [v[0] for v in card.traits["activity"]] == ["nocturnal"]
    assert card.media
    assert all(m.license and m.rights_holder for m in card.media)
    assert {m.kind for m in card.media} == {"audio", "image"}


def test_tiny_world_on_both_databases(settings: Settings, db_url: str) -> None:
    cat = settings.open_catalog(db_url)
    src = DemoWorldSource(settings.media_dir, "small")
    src.preset = TINY
    report = cat.ingest(src)
    n = len(select_species(TINY))
    assert report.added == n * 2 + n
    assert report.failed == 0
    with cat.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Media)) == n * 3
        assert s.scalar(select(func.count()).select_from(Taxon).where(Taxon.split_role == "unseen")) > 0
    cat.close()
