"""Indexing the small demo world and searching it: every query kind, filter, grouping, the
free-text parser, trait lookup, bad files at index time, and the CLI. A random-weight tiny model
is enough here: these tests are about the machinery (self-retrieval and filters), not accuracy."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from typer.testing import CliRunner

from catalog.facade import Catalog
from catalog.tables import IndexEntry, Media, Taxon, TraitValue
from indexer.filters import BBox, Filter
from indexer.hybrid import Ranking
from indexer.model_ref import describe_model
from indexer.search import GroupBy, QueryError, Result, Searcher, SearchRequest, Target
from indexer.search.browse import Order
from indexer.store import open_store
from indexer.traitlookup import VOTE_SPECIES, VOTE_TEMPERATURE, predict_traits, species_traits
from tests.support import small_world
from training.probes import TraitProbes
from vita.settings import Settings
from workers.indexing import IndexOptions, plan, run_index

pytestmark = pytest.mark.slow  # a small world indexed once per module


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Catalog, Settings, Path]]:
    root = tmp_path_factory.mktemp("index")
    cat, settings, model_dir = small_world(root)
    # one long recording of a known species: several windows, for grouping by recording
    long_dir = root / "long"
    long_dir.mkdir()
    with cat.sessions() as s:
        wave, sr = sf.read(s.scalar(select(Media.path).where(Media.kind == "audio").order_by(Media.id)))
    period = np.zeros(5 * sr)  # 5 s periodic: the windows at 0, 5 and 10 s are the same sound
    period[: min(len(wave), 5 * sr)] = wave[: 5 * sr]
    long = np.tile(period, 5)[: 24 * sr]
    sf.write(long_dir / "long.wav", long, sr)
    sf.write(root / "first-window.wav", long[: 10 * sr], sr)
    (long_dir / "metadata.csv").write_text("file,scientificName,license,rightsHolder\n"
                                           "long.wav,Hyla versicolor,cc-by,A. Recordist\n")
    from catalog.sources.folder import FolderSource

    assert cat.ingest(FolderSource(long_dir)).added == 1
    report = run_index(cat, settings.index_config(), str(model_dir), IndexOptions(eager=True, batch_size=64))
    assert report.failed == 0
    yield cat, settings, model_dir
    cat.close()


@pytest.fixture
def searcher(world: tuple[Catalog, Settings, Path]) -> Iterator[Searcher]:
    cat, settings, _ = world
    with Searcher(cat, settings.store_config(), settings.corpus) as s:
        yield s


def _media(cat: Catalog, **where: object) -> list[Media]:
    with cat.sessions() as s:
        q = select(Media).join(Taxon, Media.taxon_id == Taxon.id).options(selectinload(Media.taxon))
        for k, v in where.items():
            q = q.where(getattr(Taxon if k.endswith("_name") else Media, k) == v)
        return list(s.scalars(q))


def test_index_is_complete_and_a_rerun_adds_nothing(world: tuple[Catalog, Settings, Path],
                                                    searcher: Searcher) -> None:
    cat, settings, model_dir = world
    with cat.sessions() as s:
        entries = list(s.scalars(select(IndexEntry).where(IndexEntry.collection == searcher.media_c)))
        n_media = len(list(s.scalars(select(Media.id))))
    assert len(entries) == n_media
    assert all(e.status == "indexed" for e in entries)
    assert searcher.store.count(searcher.media_c) == sum(e.points for e in entries)
    long = _media(cat, source="folder")[0]
    assert [e.points for e in entries if e.media_id == long.id] == [4]  # 24 s: windows at 0, 5, 10, 14 s
    n_points, n_taxa = searcher.store.count(searcher.media_c), searcher.store.count(searcher.taxa_c)
    with cat.sessions() as s:
        assert n_taxa == len(list(s.scalars(select(Taxon.id).where(Taxon.rank.in_(["species", "genus", "family"])))))
    searcher.close()  # the embedded store has one owner: hand it to the indexing run
    again = run_index(cat, settings.index_config(), str(model_dir), IndexOptions(eager=True))
    assert (again.planned, again.points, again.taxa_points) == (0, 0, 0)
    with open_store(settings.store_config()) as store:
        assert store.count(searcher.media_c) == n_points
        assert store.count(searcher.taxa_c) == n_taxa


def test_free_text_nocturnal_hylidae_calls_returns_only_their_audio(world: tuple[Catalog, Settings, Path],
                                                                    searcher: Searcher) -> None:
    cat = world[0]
    resp = searcher.search(SearchRequest(text="nocturnal Hylidae calls", k=500))
    assert resp.target is Target.AUDIO
    assert resp.filters.keywords == {"family": ["Hylidae"]}
    assert resp.filters.traits == {"activity": ["activity=nocturnal"]}
    assert resp.embedded_text == "Amphibia Anura Hylidae"
    with cat.sessions() as s:
        nocturnal = set(s.scalars(select(Taxon.name).join(TraitValue, TraitValue.taxon_id == Taxon.id).where(
            Taxon.family_name == "Hylidae", TraitValue.category == "activity", TraitValue.label == "nocturnal",
            TraitValue.present.is_(True))))
    expected = {m.id for m in _media(cat, kind="audio") if m.taxon.name in nocturnal}
    assert expected
    assert {r.media_id for r in resp.results} == expected
    assert all(r.modality == "audio" and r.lineage["family"] == "Hylidae" for r in resp.results)
    assert all(r.path and r.license and r.offset_s is not None for r in resp.results)


def test_parser_reads_common_names_ranks_traits_and_keeps_the_rest(searcher: Searcher) -> None:
    interp = searcher.vocabulary.parse("Gray Treefrog songs in wetlands at dusk")
    assert interp.filters() == {"species": ["Hyla versicolor"], "traits": ["habitat=wetland"]}
    assert interp.target == "audio"
    assert interp.remainder == "dusk"
    assert searcher.vocabulary.prompt_for(searcher.vocabulary.parse("Gray Treefrog songs")) == \
        "Amphibia Anura Hylidae Hyla versicolor"  # the Tax template the model was trained on
    assert searcher.vocabulary.parse("photos of Strigidae").filters() == {"family": ["Strigidae"]}
    owls = searcher.vocabulary.parse("owl pictures")  # a group's common name (WordNet): the order
    assert owls.filters() == {"order": ["Strigiformes"]}
    assert owls.target == "image"
    assert owls.remainder == ""


def test_audio_image_and_media_queries_find_themselves(world: tuple[Catalog, Settings, Path],
                                                       searcher: Searcher) -> None:
    cat = world[0]
    clip = _media(cat, kind="audio")[5]
    photo = _media(cat, kind="image")[7]
    top = searcher.search(SearchRequest(audio=Path(clip.path), target=Target.AUDIO, k=3)).results[0]
    assert top.media_id == clip.id
    assert top.score == pytest.approx(1.0, abs=1e-3)  # hybrid: the same file, indexed
    top = searcher.search(SearchRequest(image=Path(photo.path), target=Target.IMAGE, k=3)).results[0]
    assert top.media_id == photo.id
    assert top.score == pytest.approx(1.0, abs=1e-3)
    more = searcher.search(SearchRequest(media_ids=[clip.id], target=Target.AUDIO, k=5))
    assert len(more.results) == 5
    assert clip.id not in {r.media_id for r in more.results}
    taxa = searcher.search(SearchRequest(text="Hyla versicolor", target=Target.TEXT, parse=False, k=3))
    assert len(taxa.results) == 3
    assert all(r.rank in ("species", "genus", "family") and r.media_id is None for r in taxa.results)
    both = searcher.search(SearchRequest(audio=Path(clip.path), target=Target.ANY, k=3000, rank=Ranking.EMBEDDING))
    assert {r.modality for r in both.results} == {"audio", "image", "text"}
    assert [r.score for r in both.results] == sorted((r.score for r in both.results), reverse=True)
    # with no target asked for, a sound finds photos and a photo sounds (the same in the UI, the API, the CLI)
    heard = searcher.search(SearchRequest(audio=Path(clip.path), k=5))
    assert heard.target is Target.IMAGE
    assert {r.modality for r in heard.results} == {"image"}
    seen = searcher.search(SearchRequest(image=Path(photo.path), k=5))
    assert seen.target is Target.AUDIO
    assert {r.modality for r in seen.results} == {"audio"}


def test_bad_queries_are_clear_errors(searcher: Searcher, tmp_path: Path) -> None:
    (tmp_path / "notes.wav").write_text("not a sound")
    with pytest.raises(QueryError, match="notes.wav"):
        searcher.search(SearchRequest(audio=tmp_path / "notes.wav"))
    with pytest.raises(QueryError, match="missing.png: file: file not found"):
        searcher.search(SearchRequest(image=tmp_path / "missing.png"))
    with pytest.raises(QueryError, match="not in the index"):
        searcher.search(SearchRequest(media_ids=[10**9]))
    with pytest.raises(QueryError, match="exactly one"):
        searcher.search(SearchRequest(text="x", audio=tmp_path / "notes.wav"))


@pytest.mark.parametrize("key, field", [("class", "class_name"), ("order", "order_name"), ("genus", "genus_name"),
                                        ("species", "name")])
def test_lineage_filters(world: tuple[Catalog, Settings, Path], searcher: Searcher, key: str, field: str) -> None:
    cat = world[0]
    some = _media(cat, kind="image")[11].taxon
    value = getattr(some, field)
    resp = searcher.search(SearchRequest(text="x", parse=False, target=Target.IMAGE, k=500,
                                         filters=Filter({key: [value]})))
    expected = {m.id for m in _media(cat, kind="image") if getattr(m.taxon, field) == value}
    assert {r.media_id for r in resp.results} == expected


def test_trait_licence_source_date_and_place_filters(world: tuple[Catalog, Settings, Path],
                                                     searcher: Searcher) -> None:
    cat = world[0]
    audio = _media(cat, kind="audio")

    def ids(flt: Filter) -> set[int]:
        return {r.media_id for r in searcher.search(SearchRequest(text="x", parse=False, target=Target.AUDIO,
                                                                  k=1000, filters=flt)).results}

    with cat.sessions() as s:
        wetland = set(s.scalars(select(TraitValue.taxon_id).where(
            TraitValue.category == "habitat", TraitValue.label == "wetland", TraitValue.present.is_(True))))
    assert ids(Filter({"traits": ["habitat=wetland"]})) == {m.id for m in audio if m.taxon_id in wetland}
    assert ids(Filter({"license": ["cc0", "cc-by"]})) == {m.id for m in audio if m.license in ("cc0", "cc-by")}
    assert ids(Filter({"source": ["folder"]})) == {m.id for m in audio if m.source == "folder"}
    lo, hi = dt.date(2018, 1, 1), dt.date(2019, 12, 31)
    assert ids(Filter(date_from=lo, date_to=hi)) == {m.id for m in audio if m.observed_on and lo <= m.observed_on <= hi}
    box = BBox(south=-10, west=-30, north=40, east=60)
    assert ids(Filter(bbox=box)) == {m.id for m in audio if m.lat is not None and -10 <= m.lat <= 40
                                     and -30 <= m.lon <= 60}


def test_grouping_by_recording_and_species(world: tuple[Catalog, Settings, Path], searcher: Searcher) -> None:
    long = _media(world[0], source="folder")[0]
    query = world[2].parent / "first-window.wav"
    windows = searcher.search(SearchRequest(audio=query, target=Target.AUDIO, k=10, group_by=GroupBy.NONE,
                                            rank=Ranking.EMBEDDING))  # the similarity order itself
    assert [r.media_id for r in windows.results][:3] == [long.id] * 3  # its windows fill the page
    assert sorted(r.offset_s for r in windows.results[:3]) == [0.0, 5.0, 10.0]
    grouped = searcher.search(SearchRequest(audio=query, target=Target.AUDIO, k=10,
                                            group_by=GroupBy.RECORDING, rank=Ranking.EMBEDDING))
    ids = [r.media_id for r in grouped.results]
    assert len(ids) == len(set(ids)) == 10
    assert ids[0] == long.id
    by_species = searcher.search(SearchRequest(audio=query, target=Target.AUDIO, k=8, group_by=GroupBy.SPECIES,
                                               rank=Ranking.EMBEDDING))
    species = [r.species for r in by_species.results]
    assert len(species) == len(set(species)) == 8
    assert species[0] == "Hyla versicolor"


def test_trait_lookup_known_and_predicted(world: tuple[Catalog, Settings, Path], searcher: Searcher) -> None:
    from training.probe_run import train_trait_probes

    cat, _, model_dir = world
    known = species_traits(searcher, "Gray Treefrog")
    assert known.species == "Hyla versicolor"
    assert known.known["activity"] == ["nocturnal"]
    clip = _media(cat, kind="audio", taxon_id=_media(cat, kind="audio")[0].taxon_id)[0]
    bare = predict_traits(searcher, audio=Path(clip.path))
    assert not bare.probes
    assert any("train-traits" in n for n in bare.notes)
    train_trait_probes(cat, model_dir, "audio")
    report = predict_traits(searcher, media_ids=[clip.id])
    assert report.species == clip.taxon.name
    assert report.known
    for preds in (report.probes, report.neighbours):
        activity = preds["activity"]
        assert {lab for lab, _ in activity} == {"diurnal", "nocturnal", "crepuscular", "cathemeral"}
        assert sum(p for _, p in activity) == pytest.approx(1.0, abs=1e-3)
        assert all(0 <= p <= 1 for cat_preds in preds.values() for _, p in cat_preds)
    # the probes saw the clip's own stored vector
    probes = TraitProbes.load(model_dir / "probes-audio")
    assert report.probes == probes.predict(searcher.media_vector([clip.id])[None, :])[0]
    # the neighbour vote is the similarity-weighted vote of the listed species' known activity
    names = [sp for sp, _ in report.nearest_species]
    scores = [score for _, score in report.nearest_species]
    assert 1 <= len(names) == len(set(names)) <= VOTE_SPECIES
    assert set(names) <= _species_names(cat)
    assert scores == sorted(scores, reverse=True)
    assert all(-1.0001 <= x <= 1.0001 for x in scores)
    weights = {sp: np.exp((score - scores[0]) / VOTE_TEMPERATURE) for sp, score in report.nearest_species}
    acts = {sp: species_traits(searcher, sp).known.get("activity", []) for sp in names}
    total = sum(w for sp, w in weights.items() if acts[sp])
    for label, p in report.neighbours["activity"]:
        expected = sum(w for sp, w in weights.items() if label in acts[sp]) / total
        assert p == pytest.approx(expected, abs=5e-3), label


def _species_names(cat: Catalog) -> set[str]:
    return {m.taxon.name for m in _media(cat)}


def test_a_file_broken_after_ingest_is_recorded_and_the_batch_goes_on(world: tuple[Catalog, Settings, Path],
                                                                      tmp_path: Path) -> None:
    cat, settings, model_dir = world
    other = settings.model_copy(update={"corpus": "broken"})
    victim = min(_media(cat, kind="audio"), key=lambda m: m.id)  # among the first 12 planned
    backup = tmp_path / "backup"
    shutil.copy(victim.path, backup)
    Path(victim.path).write_bytes(b"RIFF" + b"\0" * 10)
    try:
        report = run_index(cat, other.index_config(), str(model_dir), IndexOptions(eager=True, limit=12, batch_size=12))
        assert report.indexed == 11
        assert report.failed == 1
        assert report.failures[0][0] == victim.path
        assert report.failures[0][2]
        listed = cat.failures(source="index")
        assert [f.item for f in listed] == [victim.path]
        assert listed[0].reason
        spec = describe_model(model_dir)
        assert victim.id not in plan(cat, spec, report.media_collection)  # a re-run skips it
        assert plan(cat, spec, report.media_collection, retry_failed=True)[0] == victim.id
    finally:
        shutil.copy(backup, victim.path)
    fixed = run_index(cat, other.index_config(), str(model_dir), IndexOptions(eager=True, retry_failed=True, limit=1))
    assert fixed.indexed == 1
    assert fixed.failed == 0
    assert cat.failures(source="index") == []


def test_cli_index_search_and_traits(world: tuple[Catalog, Settings, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from vita.cli import app

    cat, settings, model_dir = world
    runner = CliRunner()
    monkeypatch.setenv("VITA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("VITA_REQUESTS_PER_SECOND", "1000")
    assert runner.invoke(app, ["index", "--model", str(model_dir), "--eager"]).exit_code == 0
    out = runner.invoke(app, ["search", "nocturnal Hylidae calls", "-k", "5", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["target"] == "audio"
    assert len(data["results"]) == 5
    assert all(r["lineage"]["family"] == "Hylidae" and "activity=nocturnal" in r["traits"] for r in data["results"])
    clip = _media(cat, kind="audio")[0]
    out = runner.invoke(app, ["search", "--audio", clip.path, "--target", "image", "--family", "Hylidae",
                              "--group-by", "species", "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)["results"]
    assert rows
    assert all(r["modality"] == "image" and r["lineage"]["family"] == "Hylidae" for r in rows)
    assert len({r["species"] for r in rows}) == len(rows)
    traits = runner.invoke(app, ["traits", "--audio", clip.path, "--json"])
    assert traits.exit_code == 0, traits.output
    nearest = json.loads(traits.stdout)["nearest_species"]
    assert nearest
    assert {name for name, _ in nearest} <= _species_names(cat)
    assert runner.invoke(app, ["search", "x", "--trait", "activity=sleepy"]).exit_code == 2
    assert runner.invoke(app, ["search", "--audio", "/nonexistent.wav"]).exit_code == 2
    assert runner.invoke(app, ["traits"]).exit_code == 2
    heading = runner.invoke(app, ["traits", "--species", "Gray Treefrog"]).output.splitlines()[0]
    assert heading.count("Hyla versicolor") == 1, heading  # "species Hyla versicolor", not said twice


def test_a_batch_embeds_across_media_as_each_item_alone(world: tuple[Catalog, Settings, Path]) -> None:
    """All windows of a batch go through the model together; each vector is what the item gets alone,
    and the points survive the trip over the wire (one float32 matrix)."""
    from catalog.decode import load_audio, load_image
    from encoders.audio import sliding_windows
    from indexer.build import embed_media
    from indexer.model_ref import load_model
    from workers.wire import BatchReply

    cat, _, model_dir = world
    model = load_model(str(model_dir))
    long = _media(cat, source="folder")[0]
    picked = [long, *sorted(_media(cat, kind="audio"), key=lambda m: m.id)[:3],
              *sorted(_media(cat, kind="image"), key=lambda m: m.id)[:3]]
    with cat.sessions() as s:
        result = embed_media(s, model, "k", [m.id for m in picked])
    assert all(o.ok for o in result.outcomes)
    assert len(result.points) == 4 + 3 + 3
    by_media: dict[int, list[np.ndarray]] = {}
    for p in result.points:
        by_media.setdefault(p.payload["media_id"], []).append(np.asarray(p.vector))
    cfg = model.cfg.audio
    assert cfg is not None
    for m in picked:
        if m.kind == "audio":
            wave, sr = load_audio(Path(m.path), cfg.sample_rate)
            alone = model.embed_audio([w.samples for w in sliding_windows(wave, sr, cfg.window_s, cfg.hop_s)],
                                      crop="start")
        else:
            alone = model.embed_image([load_image(Path(m.path))])
        np.testing.assert_allclose(np.stack(by_media[m.id]), alone, atol=1e-5)
    reply = BatchReply.from_wire(json.loads(json.dumps(BatchReply.to_store(result).to_wire())))
    assert reply.result is not None
    back = reply.result
    assert [p.id for p in back.points] == [p.id for p in result.points]
    assert [p.payload for p in back.points] == [p.payload for p in result.points]
    np.testing.assert_array_equal(np.stack([p.vector for p in back.points]),
                                  np.stack([np.asarray(p.vector, np.float32) for p in result.points]))


def test_one_input_the_model_refuses_costs_only_its_item(world: tuple[Catalog, Settings, Path],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from catalog.decode import load_image
    from indexer.build import embed_media
    from indexer.model_ref import load_model

    cat, _, model_dir = world
    model = load_model(str(model_dir))
    photos = sorted(_media(cat, kind="image"), key=lambda m: m.id)[:4]
    bad = np.asarray(load_image(Path(photos[2].path)))
    real = model.embed_image

    def picky(images: list[Image.Image]) -> np.ndarray:
        if len(images) == 1 and np.array_equal(np.asarray(images[0]), bad):
            raise RuntimeError("this one")
        if len(images) > 1:
            raise RuntimeError("the whole batch")
        return real(images)

    monkeypatch.setattr(model, "embed_image", picky)
    with cat.sessions() as s:
        result = embed_media(s, model, "k", [m.id for m in photos])
    failed = [o for o in result.outcomes if not o.ok]
    assert [o.media_id for o in failed] == [photos[2].id]
    assert "this one" in (failed[0].reason or "")
    assert len(result.points) == 3


def test_an_index_run_reports_start_up_steady_state_and_optimize(world: tuple[Catalog, Settings, Path]) -> None:
    cat, settings, model_dir = world
    other = settings.model_copy(update={"corpus": "timed"})
    report = run_index(cat, other.index_config(), str(model_dir), IndexOptions(eager=True, limit=12, batch_size=4))
    assert report.indexed == 12
    assert report.steady_items == 8  # the two batches after the first
    assert 0 < report.startup_s < report.seconds
    assert report.steady_s > 0
    assert report.optimize_s >= 0
    assert report.steady_per_s == pytest.approx(8 / report.steady_s)


def test_browse_pages_cost_one_page_each(searcher: Searcher, monkeypatch: pytest.MonkeyPatch) -> None:
    """Paging on from page n costs one store page (the store's cursor), not a scroll from the start;
    the pages are the full scroll cut in pieces."""
    flt = Filter({"class": ["Aves"]})
    every = [h.payload["media_id"] for h in searcher.store.scroll(searcher.media_c, flt.merged(Filter({"window": ["0"]})))]
    calls: list[object] = []
    real = searcher.store.scroll_page

    def counted(*a: object, **kw: object) -> object:
        calls.append(a)
        return real(*a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(searcher.store, "scroll_page", counted)
    got = []
    for page in range(4):
        before = len(calls)
        results, total = searcher.browse(flt, page, 12)
        assert len(calls) - before == 1
        assert total == len(every)
        got += [r.media_id for r in results]
    assert got == every[:48]
    calls.clear()
    assert [r.media_id for r in searcher.browse(flt, 2, 12)[0]] == every[24:36]
    assert len(calls) == 1  # back: known


@pytest.mark.parametrize("order", [Order.NEWEST, Order.OLDEST, Order.SPECIES])
def test_browse_sorted_pages_are_the_whole_sorted_set_cut_in_pieces(searcher: Searcher, order: Order) -> None:
    """Each sorted page continues the last, the pages hold every item once, and the sort holds
    across page boundaries (items without the field last)."""
    flt = Filter({"class": ["Amphibia"]})
    total = searcher.count(flt)
    seen: list[Result] = []
    for page in range(-(-total // 7)):
        results, n = searcher.browse(flt, page, 7, order)
        assert n == total
        seen += results
    assert len({r.media_id for r in seen}) == len(seen) == total
    if order is Order.SPECIES:
        keys = [(r.species or "~").lower() for r in seen]
        assert keys == sorted(keys)
    else:
        dated = [r.observed_on for r in seen if r.observed_on]
        assert dated == sorted(dated, reverse=order is Order.NEWEST)
        assert len(set(dated)) > 1  # the demo world's dates differ: the test can fail
        assert all(r.observed_on for r in seen[:len(dated)])  # undated ones come last


def test_results_carry_where_and_when(world: tuple[Catalog, Settings, Path], searcher: Searcher) -> None:
    """Coordinates and the date from the catalog, on every result whose media has them."""
    cat = world[0]
    results, _ = searcher.browse(Filter({"class": ["Aves"]}), 0, 12)
    with cat.sessions() as s:
        rows = {m.id: m for m in s.scalars(select(Media).where(Media.id.in_([r.media_id for r in results])))}
    located = [r for r in results if rows[int(r.media_id or 0)].lat is not None]
    assert located
    for r in located:
        m = rows[int(r.media_id or 0)]
        assert (r.lat, r.lon) == (m.lat, m.lon)
        assert r.observed_on == (m.observed_on.isoformat() if m.observed_on else None)


def test_a_query_file_is_decoded_once(world: tuple[Catalog, Settings, Path], searcher: Searcher,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Checked like ingest input and embedded from the same decode (it was decoded twice)."""
    import catalog.decode as decode

    cat, _, _ = world
    sound = min(_media(cat, kind="audio"), key=lambda m: m.id).path
    photo = min(_media(cat, kind="image"), key=lambda m: m.id).path
    decodes: list[str] = []
    real_blocks, real_image = decode._iter_blocks, decode.load_image
    monkeypatch.setattr(decode, "_iter_blocks", lambda p, *a: decodes.append(str(p)) or real_blocks(p, *a))
    monkeypatch.setattr(decode, "load_image", lambda p, *a: decodes.append(str(p)) or real_image(p, *a))
    assert searcher.search(SearchRequest(audio=sound, k=3)).results
    assert searcher.search(SearchRequest(image=photo, k=3)).results
    assert decodes == [sound, photo]
