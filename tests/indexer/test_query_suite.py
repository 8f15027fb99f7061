"""Queries in people's words (tests/fixtures/query_suite.yaml) on the small demo world and on the
real GCompris corpus; records identified above species indexed and found by their group's name;
"no good match" in the searcher, the CLI and the API. A random-weight tiny model indexes both:
what is tested is how the words are read and what the filters keep, not the model's ranking."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from catalog.facade import Catalog
from catalog.sources.folder import FolderSource
from catalog.sources.packaged.gcompris import build
from encoders.factory import create_encoder, save_vita
from indexer.search import Searcher, SearchRequest
from tests.support import copy_data_dir, make_settings, real_corpus_deb, row, small_world, write_audio, write_csv
from vita.settings import Settings
from workers.indexing import IndexOptions, run_index

pytestmark = pytest.mark.slow
SUITE: dict[str, list[dict[str, Any]]] = yaml.safe_load(
    (Path(__file__).parents[1] / "fixtures" / "query_suite.yaml").read_text())
HERON = ["Aves", "Pelecaniformes", "Ardeidae", ""]  # a family the demo world does not hold


@pytest.fixture(autouse=True)
def _wordnet(wordnet: object) -> None:
    """Every reading here needs WordNet's group names."""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Catalog, Settings]]:
    """The small demo world plus a curator's folder of records identified above species."""
    root = tmp_path_factory.mktemp("suite")
    cat, settings, model_dir = small_world(root)
    folder = root / "field"
    folder.mkdir()
    write_audio(folder / "heron.wav", 1.5, freq=1200.0)
    write_audio(folder / "owl.wav", 1.5, freq=400.0)
    write_audio(folder / "frog.wav", 1.5, freq=900.0)
    rows = [row("F-1", "heron.wav", "Ardeidae", HERON, taxonRank="family", common="heron"),
            row("F-2", "owl.wav", "Strigidae", taxonRank="family"),  # the catalog knows the family
            row("F-3", "frog.wav", "", ["Amphibia", "Anura", "", ""])]  # lineage columns alone: order Anura
    write_csv(folder / "metadata.csv", rows, [*rows[0]])
    report = cat.ingest(FolderSource(folder))
    assert (report.added, report.failed) == (3, 0), report.failures
    assert run_index(cat, settings.index_config(), str(model_dir), IndexOptions(eager=True)).failed == 0
    yield cat, settings
    cat.close()


@pytest.fixture(scope="module")
def searcher(demo: tuple[Catalog, Settings]) -> Iterator[Searcher]:
    cat, settings = demo
    with Searcher(cat, settings.store_config(), settings.corpus) as s:
        yield s


def _check_reading(searcher: Searcher, case: dict[str, Any]) -> None:
    interp = searcher.vocabulary.parse(case["text"])
    got = {k: sorted(v) for k, v in interp.filters().items()}
    assert got == {k: sorted(v) for k, v in case["filters"].items()}, (case["text"], interp)
    assert interp.target == case.get("target"), (case["text"], interp.target)
    if "rest" in case:
        assert interp.remainder == case["rest"], (case["text"], interp.remainder)
    assert [c.phrase for c in interp.choices] == case.get("choices", []), (case["text"], interp.choices)
    assert len(interp.notes) == case.get("notes", 0), (case["text"], interp.notes)


@pytest.mark.parametrize("case", SUITE["demo"], ids=[c["text"] for c in SUITE["demo"]])
def test_demo_world_phrases_are_read_as_people_mean_them(searcher: Searcher, case: dict[str, Any]) -> None:
    _check_reading(searcher, case)
    resp = searcher.search(SearchRequest(text=case["text"], k=8))
    if "no_good_match" in case:
        assert resp.no_good_match is case["no_good_match"], (case["text"], resp.results[:1])
    elif case["filters"]:
        assert not resp.no_good_match, case["text"]  # a known name or trait is never "no good match"
    for r in resp.results:  # every result is of the taxa and traits the words named
        for rank, values in case["filters"].items():
            if rank == "traits":
                assert set(values) <= set(r.traits), (case["text"], r)
            elif r.rank is None or r.lineage.get(rank):
                assert r.lineage.get(rank) in values, (case["text"], r.lineage)


def test_the_suite_is_large_enough() -> None:
    assert len(SUITE["demo"]) >= 40
    assert len(SUITE["real"]) >= 8


def test_records_above_species_are_searchable_by_their_group(demo: tuple[Catalog, Settings],
                                                              searcher: Searcher) -> None:
    herons = searcher.search(SearchRequest(text="herons", k=5))
    assert herons.interpretation
    assert herons.interpretation.filters() == {"family": ["Ardeidae"]}
    found = [(r.name, r.identified_to, r.species) for r in herons.results if r.media_id is not None]
    assert found == [("Ardeidae", "family", None)]
    owls = searcher.search(SearchRequest(text="owl calls", k=200))
    assert "family" in {r.identified_to for r in owls.results}  # the family-level owl among the owls
    assert all(r.lineage["order"] == "Strigiformes" for r in owls.results)
    frogs = searcher.search(SearchRequest(text="frogs calling", k=200))
    assert any(r.identified_to == "order" and r.name == "Anura" for r in frogs.results)
    card = demo[0].species("herons")
    assert card.rank == "family"
    assert card.lineage == {"class": "Aves", "order": "Pelecaniformes", "family": "Ardeidae"}
    assert len(card.media) == 1
    from indexer.identify import identify  # "what is this?" answers with the item's own rank, too

    nearest = identify(demo[0], Path(card.media[0].path), searcher=searcher).nearest
    heron = next(g for g in nearest if g.name == "Ardeidae")
    assert heron.rank == "family"
    assert heron.score == pytest.approx(1.0, abs=1e-3)
    assert heron.lineage["order"] == "Pelecaniformes"


def test_unknown_taxa_and_nonsense_in_the_api_and_the_cli(demo: tuple[Catalog, Settings], searcher: Searcher,
                                                          monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from vita.api.app import make_app
    from vita.cli import app as cli

    cat, settings = demo
    with TestClient(make_app(settings, searcher)) as client:
        r = client.post("/search", json={"text": "xyzzy", "k": 3})
        assert r.status_code == 200
        assert r.json()["no_good_match"] is True
        assert "no good match" in r.json()["notice"]
        r = client.post("/search", json={"text": "owls", "k": 3})
        assert r.json()["no_good_match"] is False
        assert r.json()["results"]
        bad = client.post("/search", json={"text": "calls", "filters": {"family": ["Nonexistidae"]}})
        assert bad.status_code == 422
        assert "Nonexistidae" in bad.json()["error"]
        lower = client.post("/search", json={"text": "calls", "filters": {"family": ["hylidae"]}, "k": 3})
        assert lower.status_code == 200
        assert {x["lineage"]["family"] for x in lower.json()["results"]} == {"Hylidae"}
        owl = client.get("/species", params={"q": "owl"}).json()["species"]
        assert owl[0] == {"name": "Strigiformes", "rank": "order", "common_name": None, "media": owl[0]["media"]}
        assert not any("fowleri" in s["name"] for s in owl)
        assert any(s["name"] == "Strix aluco" for s in owl)
        assert [s["name"] for s in client.get("/species", params={"q": "tawny"}).json()["species"]] == ["Strix aluco"]
        assert client.get("/species", params={"q": "Gray Treefrog"}).json()["species"][0]["name"] == "Hyla versicolor"
    runner = CliRunner()
    monkeypatch.setenv("VITA_DATA_DIR", str(copy_data_dir(settings.data_dir, tmp_path / "data")))  # ours is open
    out = runner.invoke(cli, ["search", "xyzzy", "-k", "3"])
    assert out.exit_code == 0 and "no good match" in out.output, out.output
    out = runner.invoke(cli, ["search", "xyzzy", "-k", "3", "--json"])
    assert json.loads(out.output)["no_good_match"] is True
    out = runner.invoke(cli, ["search", "calls", "--family", "Nonexistidae"])
    assert out.exit_code == 2
    assert "Nonexistidae" in out.output
    out = runner.invoke(cli, ["catalog", "species", "tawny owls"])
    assert out.exit_code == 0
    assert "Strix aluco" in out.output
    out = runner.invoke(cli, ["traits", "--species", "owls"])
    assert out.exit_code == 2
    assert "not a species" in out.output
    assert "Strix aluco" in out.output


def test_the_calibration_is_stored_with_the_index(demo: tuple[Catalog, Settings], searcher: Searcher) -> None:
    from sqlalchemy import select

    from catalog.tables import IndexCollection

    searcher.search(SearchRequest(text="xyzzy", k=1))
    with demo[0].sessions() as s:
        stored = s.scalar(select(IndexCollection.calibration).where(IndexCollection.name == searcher.media_c))
    assert stored
    assert stored["points"] == searcher.count()
    assert set(stored["ceilings"]) >= {"audio", "image", "any"}
    named = searcher.search(SearchRequest(text="Gray Treefrog", k=1))  # a name is never "no good match"
    assert not named.no_good_match


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Searcher]:
    deb = real_corpus_deb()
    root = tmp_path_factory.mktemp("real")
    settings = make_settings(root)
    cat = settings.open_catalog()
    build(root / "corpus", deb)
    assert cat.ingest(FolderSource(root / "corpus")).failed == 0
    save_vita(create_encoder("tiny", pretrained=False), root / "model")
    assert run_index(cat, settings.index_config(), str(root / "model"), IndexOptions(eager=True)).failed == 0
    with Searcher(cat, settings.store_config(), settings.corpus) as s:
        yield s
    cat.close()


@pytest.mark.parametrize("case", SUITE["real"], ids=[c["text"] for c in SUITE["real"]])
def test_real_corpus_phrases_find_their_taxa(real: Searcher, case: dict[str, Any]) -> None:
    _check_reading(real, case)
    resp = real.search(SearchRequest(text=case["text"], k=40))  # taxa points come too: room for media
    media = [r for r in resp.results if r.media_id is not None]
    assert media, (case["text"], "no media found")
    for r in media:
        assert all(r.lineage.get(rank) == name for rank, name in case["taxa"]), (case["text"], r.lineage)
