"""`vita identify` on real animal media (GCompris's recordings and photos) with the field preset:
the towers' heads, the range filter, per-window answers, and the nearest indexed species."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf
from typer.testing import CliRunner

pytest.importorskip("ai_edge_litert", reason="the field extra (pip install '.[field]'); make test installs it")

from catalog.facade import Catalog
from catalog.sources.folder import FolderSource
from catalog.sources.packaged.gcompris import build
from indexer.filters import Filter
from indexer.hybrid import Ranking
from indexer.identify import identify
from indexer.model_ref import load_model
from indexer.search import QueryError, Searcher, SearchRequest, Target
from tests.support import make_settings, real_corpus_deb
from vita.settings import Settings
from workers.indexing import IndexOptions, run_index

pytestmark = pytest.mark.slow  # the real corpus indexed with the field preset once per module


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Catalog, Settings, Path]]:
    root = tmp_path_factory.mktemp("real")
    build(root / "corpus", real_corpus_deb())
    settings = make_settings(root)
    cat = settings.open_catalog()
    assert cat.ingest(FolderSource(root / "corpus")).failed == 0
    assert run_index(cat, settings.index_config(), "preset:field", IndexOptions(eager=True, batch_size=16)).failed == 0
    yield cat, settings, root / "corpus" / "media"
    cat.close()


def test_birdnet_hears_the_chickens_per_window_and_overall(real: tuple[Catalog, Settings, Path]) -> None:
    cat, _, media = real
    clip = media / "explore_farm_animals-chickens.ogg"
    result = identify(cat, clip, model=load_model("preset:field"))
    assert result.head == "birdnet"
    assert result.modality == "audio"
    assert len(result.windows) == math.ceil(sf.info(clip).duration / 3.0 - 1e-6)
    top5 = [g.name for g in result.overall]
    assert "Gallus gallus" in top5, top5
    chicken = next(g for g in result.overall if g.name == "Gallus gallus")
    assert chicken.in_catalog
    assert chicken.lineage["family"] == "Phasianidae"
    assert chicken.common_name
    # overall = the best window's confidence for each species
    from catalog.decode import load_audio
    from encoders.audio import sliding_windows

    model = load_model("preset:field")
    wave, _ = load_audio(clip, 48000)
    probs = model.audio_head([w.samples for w in sliding_windows(wave, 48000, 3.0, 3.0)])
    index = [lab.scientific for lab in model.audio_labels].index("Gallus gallus")
    assert chicken.score == pytest.approx(float(probs[:, index].max()), abs=1e-4)
    assert all(g.name not in ("Engine", "Noise", "Dog", "Human vocal") for g in result.overall)


def test_the_range_model_narrows_birdnet(real: tuple[Catalog, Settings, Path]) -> None:
    cat, _, media = real
    import datetime as dt

    from encoders.towers.birdnet import RangeModel, week_of

    clip = media / "explore_farm_animals-duck.ogg"
    model = load_model("preset:field")
    anywhere = identify(cat, clip, model=model, k=20)
    place = identify(cat, clip, model=model, lat=-75.0, lon=0.0, date=dt.date(2024, 7, 1), k=20)  # Antarctica in July
    assert place.range_filter == "-75.000, 0.000, week 25"
    allowed = RangeModel().allowed(-75.0, 0.0, week_of(dt.date(2024, 7, 1)))
    labels = {lab.scientific: i for i, lab in enumerate(model.audio_labels)}
    assert all(allowed[labels[g.name]] for g in place.overall)
    assert {g.name for g in place.overall} != {g.name for g in anywhere.overall}
    with pytest.raises(QueryError, match="lat"):
        identify(cat, clip, model=model, lat=10.0)


def test_photos_through_imagenet_and_the_index(real: tuple[Catalog, Settings, Path]) -> None:
    cat, settings, media = real
    with Searcher(cat, settings.store_config(), settings.corpus) as searcher:
        result = identify(cat, media / "explore_world_animals-panda.webp", searcher=searcher)
    assert result.head == "imagenet"
    assert result.overall[0].name == "Ailuropoda melanoleuca"
    assert result.overall[0].in_catalog
    # the photo is itself indexed: its own species is the nearest, at similarity ~1
    assert result.nearest[0].name == "Ailuropoda melanoleuca"
    assert result.nearest[0].score > 0.99
    assert [g.score for g in result.nearest] == sorted((g.score for g in result.nearest), reverse=True)


def test_cli_identify(real: tuple[Catalog, Settings, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from vita.cli import app

    _, settings, media = real
    monkeypatch.setenv("VITA_DATA_DIR", str(settings.data_dir))
    runner = CliRunner()
    out = runner.invoke(app, ["identify", str(media / "explore_world_animals-koala.webp"), "--json", "-k", "3"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["overall"][0]["name"] == "Phascolarctos cinereus"
    assert len(data["nearest"]) == 3
    table = runner.invoke(app, ["identify", str(media / "explore_farm_animals-chickens.ogg")])
    assert table.exit_code == 0
    assert "per window" in table.output
    assert "Gallus gallus" in table.output
    assert runner.invoke(app, ["identify", str(media / "explore_farm_animals-cow.ogg"), "--date", "July"]).exit_code == 2
    assert runner.invoke(app, ["identify", "/nonexistent.ogg"]).exit_code == 2


def _media_id(cat: Catalog, name: str) -> int:
    from sqlalchemy import select

    from catalog.tables import Media

    with cat.sessions() as s:
        found = s.scalar(select(Media.id).where(Media.path.endswith(name)))
    assert found is not None, name
    return int(found)


def _explanations_hold(results: list[Any], common: dict[str, str]) -> None:
    """Each result's `why` is present and true of it."""
    for r in results:
        assert r.why, r
        if r.why.startswith("same species as the identified "):
            assert r.species
            assert r.why.startswith(f"same species as the identified {common.get(r.species, r.species)} ")
        elif r.why.startswith("same "):
            rank, name = r.why.split()[1], r.why.split()[6]
            assert r.lineage.get(rank) == name, (r.why, r.lineage)
        else:
            assert r.why == "nearest in the shared space"


@pytest.mark.parametrize(("query", "target", "species"), [
    ("explore_farm_animals-chicken.webp", Target.AUDIO, "Gallus gallus"),  # the rooster photo -> its sound
    ("explore_farm_animals-dog.webp", Target.AUDIO, "Canis familiaris"),
    ("explore_farm_animals-dog.ogg", Target.IMAGE, "Canis familiaris"),  # BirdNET hears a wolf: the genus Canis
])
def test_hybrid_ranking_lifts_the_identified_species(real: tuple[Catalog, Settings, Path], query: str,
                                                     target: Target, species: str) -> None:
    cat, settings, media = real
    held_out = Filter(exclude={"media_id": [str(_media_id(cat, query))]})  # the query is not its own evidence
    sound = query.endswith(".ogg")
    req = SearchRequest(audio=media / query if sound else None, image=None if sound else media / query,
                        target=target, k=5, filters=held_out)
    with Searcher(cat, settings.store_config(), settings.corpus) as searcher:
        hybrid = searcher.search(req)
        embedding = searcher.search(replace(req, rank=Ranking.EMBEDDING))
        common = cat.names().common_names()
    assert hybrid.ranking is Ranking.HYBRID
    assert hybrid.evidence[0] in ("BirdNET", "ImageNet")
    assert hybrid.results[0].species == species, [(r.species, r.why) for r in hybrid.results]
    assert hybrid.results[0].why.startswith("same ")
    ranks = [next((i for i, r in enumerate(resp.results) if r.species == species), 99) for resp in (hybrid, embedding)]
    assert ranks[0] <= ranks[1]
    assert all(r.why == "nearest in the shared space" for r in embedding.results)
    _explanations_hold(hybrid.results, common)


def test_merged_imagenet_classes_do_not_outweigh_the_rest(real: tuple[Catalog, Settings, Path]) -> None:
    from PIL import Image

    from encoders.towers.imagenet_species import DOGS

    cat, _, media = real
    model = load_model("preset:field")
    photos = sorted(media.glob("*.webp"))
    with_dog = 0
    for photo in photos:
        result = identify(cat, photo, model=model, k=5)
        dog = next((g for g in result.overall if g.name == "Canis familiaris"), None)
        if dog is not None:
            with_dog += 1
            probs = model.image_head([Image.open(photo).convert("RGB")])[0]
            assert dog.score == pytest.approx(max(float(probs[i]) for i in DOGS), abs=1e-3)  # the best breed, not the sum
    assert with_dog <= len(photos) // 3, with_dog  # the sum put "Dog" in the top 5 of every photo
    first = identify(cat, media / "explore_farm_animals-dog.webp", model=model, k=5).overall[0]
    assert first.name == "Canis familiaris"
