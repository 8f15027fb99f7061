"""The Streamlit UI: each page driven headless with AppTest, and one end-to-end run of
`streamlit run` in Debian's Chromium through Playwright, with screenshots in test-artifacts/."""

from __future__ import annotations

import hashlib
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from catalog.sources.folder import FolderSource
from catalog.tables import IndexEntry, Media
from tests.support import copy_data_dir, free_port, make_settings, serving, small_world
from workers.indexing import IndexOptions, run_index

pytestmark = pytest.mark.slow  # a small world, a model and an index per module

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
HOSTILE = "A. <b>Bold</b> [link](http://x) Recordist"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("ui")
    cat, settings, model = small_world(root)
    with cat:
        with cat.sessions() as s:
            src = Path(s.scalar(select(Media.path).where(Media.kind == "audio").order_by(Media.id)))
        folder = root / "mine"
        folder.mkdir()
        wave, sr = sf.read(src)
        sf.write(folder / "call.wav", 0.8 * wave, sr)  # a new file (not a duplicate by sha256)
        (folder / "metadata.csv").write_text(f"file,scientificName,license,rightsHolder\n"
                                             f"call.wav,Hyla versicolor,cc-by,\"{HOSTILE}\"\n")
        assert cat.ingest(FolderSource(folder)).added == 1
        assert run_index(cat, settings.index_config(), str(model), IndexOptions(eager=True, batch_size=64)).failed == 0
    yield settings.data_dir


@pytest.fixture
def app_env(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("VITA_DATA_DIR", str(data_dir))
    yield


@pytest.fixture(scope="module", autouse=True)
def _release_store() -> Iterator[None]:
    """AppTest runs pages in this process: hand the index back when the module is done, and put
    back the `__main__` module AppTest replaced (spawned process pools re-import `__main__`)."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main
    _close_opened()


def _close_opened() -> None:
    """Close the stores the pages opened in this process and forget them (the next page reopens)."""
    import streamlit as st

    from search_ui import state

    while state.OPENED:
        state.OPENED.pop().close()
    st.cache_resource.clear()


def page(name: str) -> AppTest:
    script = f"if __name__ == '__main__':\n    from search_ui import pages\n    pages.{name}()\n"
    at = AppTest.from_string(script, default_timeout=180)
    return at.run()


def test_search_page_text_query_chips_and_more_like_this(app_env: None) -> None:
    at = page("search_page")
    at.text_input(key="q").input("nocturnal Hylidae calls").run()
    assert not at.exception
    assert not at.error
    chips = [b.label for b in at.button if b.label.endswith("✕")]
    assert chips == ["traits: activity=nocturnal ✕", "family: Hylidae ✕", "target: audio ✕"]
    cards = [m.value for m in at.markdown if m.value.startswith("**")]
    assert cards
    assert len(at.get("audio")) == len(cards)
    assert len(at.image) == len(cards)  # player + spectrogram
    lineages = [c.value for c in at.caption if "\\>" in c.value]
    assert len(lineages) == len(cards)
    assert all("Hylidae" in v for v in lineages)
    next(b for b in at.button if b.label == "family: Hylidae ✕").click().run()
    assert "family: Hylidae ✕" not in [b.label for b in at.button]
    assert any("Hylidae" not in c.value for c in at.caption if "\\>" in c.value)  # the family filter is gone
    more = next(b for b in at.button if b.label == "More like this")
    more.click().run()
    assert any("More like media" in i.value for i in at.info)
    assert not at.exception


def test_a_thumb_on_a_card_stores_its_label_in_the_catalog(app_env: None, data_dir: Path) -> None:
    from catalog.annotations import listed
    from vita.settings import Settings

    at = page("search_page")
    at.text_input(key="q").input("nocturnal Hylidae calls").run()
    assert not [b for b in at.button if b.label.startswith("👍")]  # no label typed: no thumbs
    at.text_input(key="annotate_label").input("Hylidae call").run()
    thumbs_up = [b for b in at.button if b.label == "👍 Hylidae call"]
    thumbs_down = [b for b in at.button if b.label == "👎 Hylidae call"]
    cards = _media_ids(at)
    assert len(thumbs_up) == len(thumbs_down) == len(cards) > 1
    first = next(b for b in thumbs_up if (b.key or "").startswith("yes-s-0-"))
    first.click().run()
    second = next(b for b in at.button if (b.key or "").startswith("no-s-1-"))
    second.click().run()
    assert not at.exception
    media = [int((b.key or "").split("-")[3]) for b in (first, second)]  # yes-s-<card>-<media id>-<offset>
    assert set(media) <= set(cards)
    with Settings(data_dir=data_dir).open_catalog() as cat, cat.sessions() as s:
        got = [(a.media_id, a.positive, a.source) for a in listed(s, "Hylidae call")]
    assert got == [(media[0], True, "ui"), (media[1], False, "ui")]


def test_search_page_sidebar_filters_cascade(app_env: None) -> None:
    at = page("search_page")
    at.selectbox(key="search-class").select("Aves").run()
    families = at.selectbox(key="search-family").options
    assert "Strigidae" in " ".join(families)
    assert "Hylidae" not in " ".join(families)
    at.radio(key="target").set_value("Photos").run()
    at.text_input(key="q").input("a bird").run()
    lineages = [c.value for c in at.caption if "\\>" in c.value]
    assert lineages
    assert all(v.startswith("Aves") for v in lineages)
    assert len(at.get("audio")) == 0


def test_names_and_attribution_are_text_never_html(app_env: None) -> None:
    at = page("search_page")
    at.text_input(key="q").input("Gray Treefrog calls").run()
    at.radio(key="group").set_value("All hits").run()
    at.number_input(key="k").set_value(100).run()
    texts = [t.value for t in at.text]
    assert any(HOSTILE in t for t in texts)  # shown as typed, as plain text
    cards = [m.value for m in at.markdown if m.value.startswith("**")]
    assert cards
    assert not any("<b>" in m.value for m in at.markdown)


def _hylidae_media(data_dir: Path) -> int:
    from catalog.tables import Taxon

    with make_settings(data_dir.parent).open_catalog() as cat, cat.sessions() as s:
        return len(s.scalars(select(Media.id).join(Taxon, Media.taxon_id == Taxon.id)
                             .where(Taxon.family_name == "Hylidae")).all())


def _media_ids(at: AppTest) -> list[int]:
    """The media ids the cards on the page show ("... · media 12")."""
    return [int(m.group(1)) for t in at.text if (m := re.search(r"media (\d+)$", t.value))]


def test_browse_page_facets_and_pages(app_env: None, data_dir: Path) -> None:
    at = page("browse_page")
    assert not at.exception
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")
    at.selectbox(key="browse-family").set_value("Hylidae").run()
    first = [c.value for c in at.caption if "\\>" in c.value]
    assert first
    assert all("Hylidae" in v for v in first)
    assert len(first) <= 12
    first_ids = _media_ids(at)
    assert len(set(first_ids)) == len(first)
    total = _hylidae_media(data_dir)
    assert f"{total} items" in at.number_input(key="page").label
    at.number_input(key="page").set_value(2).run()
    assert not at.exception
    second = [c.value for c in at.caption if "\\>" in c.value]
    assert len(second) == min(12, total - 12)
    assert all("Hylidae" in v for v in second)
    assert set(_media_ids(at)).isdisjoint(first_ids)
    assert len(set(_media_ids(at))) == len(second)


def test_browse_says_it_is_counting_while_it_counts(app_env: None) -> None:
    """The facet counts take seconds on a large index: a spinner says so before the cards (the page
    showed only "Count by" for several seconds). A spinner is gone when the run ends, so the test
    records what the page asks `st.spinner` to say, and checks the counting happens inside it."""
    script = """if __name__ == '__main__':
    import contextlib
    import streamlit as st
    from search_ui import pages

    said, real = [], st.spinner

    @contextlib.contextmanager
    def spinner(text, **kw):
        with real(text, **kw):
            said.append(("enter", text))
            yield
            said.append(("exit", text))

    st.spinner = spinner
    searcher = pages.resources()[1]
    facets = searcher.facets
    searcher.facets = lambda *a, **k: (said.append(("facets", "")), facets(*a, **k))[1]
    try:
        pages.browse_page()
    finally:
        st.spinner, searcher.facets = real, facets
    st.session_state["said"] = said
"""
    at = AppTest.from_string(script, default_timeout=180).run()
    assert not at.exception
    said = at.session_state["said"]
    counting = said.index(("enter", "Counting ..."))
    first_count = next(i for i, x in enumerate(said) if x[0] == "facets" and i > counting)
    assert counting < first_count < said.index(("exit", "Counting ..."))  # the counts run inside the spinner


def test_trait_lookup_and_species_pages(app_env: None) -> None:
    at = page("traits_page")
    at.selectbox(key="trait-species").select("Hyla versicolor").run()
    table = at.dataframe[0].value
    known = dict(zip(table["trait"], table["known"]))
    assert known["Activity pattern"] == "nocturnal"
    assert known["Habitat"]
    assert all(str(v).strip() for col in table.columns for v in table[col])  # "-", never a blank cell
    sp = page("species_page")
    sp.selectbox(key="sp").select("Hyla versicolor").run()
    assert any("Hyla versicolor" in h.value for h in sp.header)
    near = sp.dataframe[-1].value
    assert len(near) > 0
    assert "Hyla versicolor" not in list(near["species"])


def test_pickers_find_taxa_by_any_name_and_nonsense_says_so(app_env: None) -> None:
    at = page("traits_page")
    at.text_input(key="trait-species-find").input("Gray Treefrog").run()
    assert at.selectbox(key="trait-species").value == "Hyla versicolor"
    assert any("nocturnal" in str(v) for v in at.dataframe[0].value["known"])
    at.text_input(key="trait-species-find").input("tawny").run()
    assert at.selectbox(key="trait-species").options == ["Strix aluco · Tawny Owl"]
    sp = page("species_page")
    sp.text_input(key="sp-find").input("owl").run()
    options = sp.selectbox(key="sp").options
    assert options[0] == "Strigiformes (order)"
    assert "Strix aluco · Tawny Owl" in options
    assert not any("fowleri" in o for o in options)
    assert any("Strigiformes" in h.value and "(order)" in h.value for h in sp.header)
    search = page("search_page")
    search.text_input(key="q").input("xyzzy").run()
    assert any("no good match" in w.value for w in search.warning)
    search.text_input(key="q").input("owls in forest").run()
    assert not any("no good match" in w.value for w in search.warning)


def test_index_status_page(app_env: None, data_dir: Path) -> None:
    at = page("status_page")
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    with make_settings(data_dir.parent).open_catalog() as cat:
        n = cat.stats().media
        with cat.sessions() as s:
            windows = sum(s.scalars(select(IndexEntry.points).where(IndexEntry.status == "indexed")))
    assert metrics["Media indexed"] == f"{n} / {n}"
    assert int(metrics["Points"]) == windows
    tables = {tuple(df.value.columns): df.value for df in at.dataframe}
    by_modality, by_split = tables[("modality", "media")], tables[("split", "media")]
    assert not by_modality.isna().any().any()
    assert not by_split.isna().any().any()
    assert set(by_modality["modality"]) == {"audio", "image"}
    assert len(by_split) >= 2


def _label_review_me(data_dir: Path) -> list[int]:
    """3 yes and 3 no for "review me" (a second answer replaces the first: calling it again adds none);
    returns the audio media ids."""
    from catalog.annotations import add
    from vita.settings import Settings

    with Settings(data_dir=data_dir).open_catalog() as cat, cat.sessions() as s:
        audio = list(s.scalars(select(Media.id).where(Media.kind == "audio").order_by(Media.id)))
        for m in audio[:3]:
            add(s, m, "review me", True)
        for m in audio[-3:]:
            add(s, m, "review me", False)
        s.commit()
    return audio


def test_review_page_trains_scores_lists_labels_and_downloads(app_env: None, data_dir: Path) -> None:
    """The agile loop in the UI: labels from the catalog, train, score, review cards that play at
    their window and take a thumb, and the detections as Raven and CSV downloads."""
    from catalog.annotations import listed
    from vita.settings import Settings

    audio = _label_review_me(data_dir)
    script = "if __name__ == '__main__':\n    from search_ui import review\n    review.review_page()\n"
    at = AppTest.from_string(script, default_timeout=180).run()
    assert not at.exception
    at.selectbox(key="review-label").select("review me").run()
    assert any("No classifier" in c.value for c in at.caption)
    at.button(key="review-train").click().run()
    assert not at.exception
    assert any("3 yes, 3 no" in c.value for c in at.caption)
    cards = _media_ids(at)  # top scores and least sure, none of them labelled already
    assert cards
    assert not set(cards) & (set(audio[:3]) | set(audio[-3:]))
    assert at.get("audio")  # each sound card has its player (started at the window's offset)
    at.slider(key="review-threshold").set_value(0.0).run()
    at.button(key="review-score").click().run()
    assert any("detection(s) of review me" in x.value for x in at.success)
    downloads = [d for d in at.get("download_button")]
    assert len(downloads) == 2, downloads
    up = next(b for b in at.button if b.label == "👍 review me")
    up.click().run()
    assert not at.exception
    with Settings(data_dir=data_dir).open_catalog() as cat, cat.sessions() as s:
        assert len(listed(s, "review me")) == 7


# ---------------------------------------------------------------- a real browser


@pytest.fixture(scope="module")
def server(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`vita serve` on a copy of the data dir (AppTest above holds the original index open)."""
    _label_review_me(data_dir)  # the review page lists them
    copy = tmp_path_factory.mktemp("serve") / "data"
    copy_data_dir(data_dir, copy)
    port = free_port()
    env = {**os.environ, "VITA_DATA_DIR": str(copy)}
    env.pop("VITA_DATABASE_URL", None)
    with serving(["serve", "--port", str(port)], env, f"http://127.0.0.1:{port}/_stcore/health", "streamlit"):
        yield f"http://127.0.0.1:{port}"


@pytest.mark.browser
def test_end_to_end_in_chromium(server: str, data_dir: Path) -> None:
    if not Path("/usr/bin/chromium").exists():
        if os.environ.get("VITA_REQUIRE_BROWSER"):
            pytest.fail("chromium is required (VITA_REQUIRE_BROWSER) but /usr/bin/chromium is missing")
        pytest.skip("no /usr/bin/chromium (make test installs Debian's chromium)")
    from search_ui.walkthrough import walk

    with make_settings(data_dir.parent).open_catalog() as cat, cat.sessions() as s:
        photo = Path(s.scalar(select(Media.path).where(Media.kind == "image").order_by(Media.id)))
    seen = walk(server, ARTIFACTS, photo, family="Hylidae")
    assert "Page not found" not in seen.direct_text
    assert "Describe what you are looking for" in seen.direct_text
    # every result the page counts has its player, and the first search found something
    assert seen.search_audio == _count(seen.search_text) >= 1
    assert "family: Hylidae" in seen.search_text
    assert "activity=nocturnal" in seen.search_text
    assert "Ranidae" not in seen.search_text  # only the filtered family's cards
    assert seen.photo_audio == _count(seen.photo_text) >= 1
    assert seen.photo_images == seen.photo_audio + 1  # the query's photo above, a spectrogram on every card
    # the identify panel over the uploaded photo: the tiny model has no classifier, so the nearest species answer
    assert "What is this?" in seen.photo_text
    assert "nearest indexed species" in seen.photo_text
    assert "has no image classifier" in seen.photo_text
    assert seen.browse_cards == min(12, _hylidae_media(data_dir))
    # the review page has its own address, and lists the labels given so far
    assert "Page not found" not in seen.review_text
    assert "Review: agile classifiers" in seen.review_text
    # labels, but no classifier in the served copy: the walk trains one with the button
    assert "Traceback" not in seen.review_text and "Least sure" in seen.review_text, seen.review_text[-1500:]
    assert re.search(r"classifier: [1-9]\d* yes, [1-9]\d* no", seen.review_text)
    # photos are as wide as spectrograms (they were thumbnails beside full-width spectrograms)
    assert len(seen.browse_widths) == seen.browse_cards
    assert min(seen.browse_widths) >= 0.9 * max(seen.browse_widths)
    assert "Hylidae" in seen.browse_text
    assert "Strigidae" not in seen.browse_text
    links = seen.links
    assert links is not None
    # a copied link reopens the same search in a fresh page, with its map
    assert "/search?" in links.copied
    assert "family=Hylidae" in links.copied
    assert "sort=species" in links.copied
    assert links.reopened_query == "calls"
    assert "Hylidae" in links.reopened_text
    assert "Ranidae" not in links.reopened_text
    assert links.maps == 1
    assert "with coordinates" in links.reopened_text
    # a typed box narrows Browse, lands in the address, and every card is inside it
    assert "bbox=0" in links.boxed_url
    boxed = int(re.search(r"(\d+) items", links.boxed_text).group(1))  # type: ignore[union-attr]
    assert 0 < boxed < _hylidae_media(data_dir)
    assert "°S" not in links.boxed_text
    assert "°N" in links.boxed_text
    # a card's species link opens that species' page
    assert "/species?species=" in links.species_url
    assert "Page not found" not in links.species_text
    assert "Media (" in links.species_text
    assert "Hylidae" in links.species_text
    # a photo card's download is the photo itself
    digest = hashlib.sha256(links.download.read_bytes()).hexdigest()
    with make_settings(data_dir.parent).open_catalog() as cat, cat.sessions() as s:
        photo_of = s.scalar(select(Media.path).where(Media.sha256 == digest, Media.kind == "image"))
    assert photo_of is not None
    assert Path(photo_of).name == links.download_name
    from PIL import Image

    for name in ("search", "photo-to-sounds", "browse", "shared-link"):
        with Image.open(ARTIFACTS / f"ui-{name}.png") as shot:
            lo, hi = shot.convert("L").getextrema()
            assert shot.width == 1400 and hi - lo > 100, name  # the viewport, not a blank page


def _count(page_text: str) -> int:
    """N in the page's "N results · audio" heading."""
    m = re.search(r"(\d+) results · audio", page_text)
    assert m, page_text[:500]
    return int(m.group(1))


def test_an_upload_keeps_its_name() -> None:
    """What the pages say about an uploaded file is the name the user gave it, made safe."""
    from search_ui.widgets import save_upload

    frog = save_upload("Gray treefrog (night).WAV", b"RIFF....")
    assert frog.name == "Gray_treefrog_night.wav"
    assert frog.read_bytes() == b"RIFF...."
    assert save_upload("../../etc/passwd.png", b"x").name == "passwd.png"
    assert save_upload("???.ogg", b"x").name == "upload.ogg"


def test_uploads_are_replaced_and_removed_with_the_process_and_errors_hide_where_they_are() -> None:
    import subprocess
    import sys

    from indexer.search import QueryError
    from search_ui.widgets import save_upload, shown, uploads_dir

    first = save_upload("frog.wav", b"RIFF1", "s1-up-audio")
    second = save_upload("owl.wav", b"RIFF2", "s1-up-audio")  # the same widget in the same session
    other = save_upload("frog.wav", b"RIFF3", "s2-up-audio")  # another browser session
    assert not first.exists()
    assert second.read_bytes() == b"RIFF2"
    assert other.read_bytes() == b"RIFF3"
    assert shown(QueryError(f"{second}: not a sound we can decode")) == "owl.wav: not a sound we can decode"
    assert str(uploads_dir()) not in shown(QueryError(f"{other} is too long"))
    code = "from search_ui.widgets import save_upload\nprint(save_upload('frog.wav', b'RIFF').parent.parent)\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    left = Path(done.stdout.strip().splitlines()[-1])
    assert left.name.startswith("vita-uploads-")
    assert not left.exists()  # gone with the process


def test_with_no_index_the_page_offers_to_build_it_and_then_searches(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """`vita serve` before `vita index`: the page says so and, on the embedded store, a button indexes
    the catalog with the tiny model (the shipped checkpoint when none was trained), then searches."""
    from catalog.sources.demo import DemoWorldSource
    from tests.support import make_settings

    settings = make_settings(tmp_path)
    with settings.open_catalog() as cat:
        assert cat.ingest(DemoWorldSource(settings.media_dir, "small")).failed == 0
    monkeypatch.setenv("VITA_DATA_DIR", str(settings.data_dir))
    _close_opened()
    at = page("search_page")
    assert any("No index to search" in e.value for e in at.error)
    button = next(b for b in at.button if b.key == "index-now")
    assert "1086 media" in button.label
    button.click().run(timeout=600)
    assert not at.exception
    assert (settings.models_dir / "tiny" / "model.safetensors").is_file()  # the shipped checkpoint, installed
    at = page("search_page")
    assert not at.error
    assert at.text_input(key="q") is not None
    at.text_input(key="q").input("nocturnal Hylidae calls").run()
    assert not at.exception
    assert [m for m in at.markdown if m.value.startswith("**")]
    _close_opened()  # the next test opens the module's index again


def test_the_pages_use_no_option_streamlit_has_deprecated() -> None:
    """Streamlit warns on every render that `use_container_width` goes after 2025-12-31 (`width` replaces it)."""
    import search_ui

    pages = sorted(Path(search_ui.__file__).parent.glob("*.py"))
    assert pages
    assert [p.name for p in pages if "use_container_width" in p.read_text()] == []


def test_the_facet_chart_names_every_value() -> None:
    """33 families: 33 bars, each with room for its name, and no label dropped for overlapping."""
    from search_ui.pages import BAR_PX, facet_chart

    counts = {f"Family{i:02d}idae": 100 - i for i in range(33)}
    spec = facet_chart(counts, "family").to_dict()
    assert len(spec["datasets"][next(iter(spec["datasets"]))]) == 33
    assert spec["height"] >= 33 * BAR_PX
    assert spec["encoding"]["y"]["axis"]["labelOverlap"] is False
    assert spec["encoding"]["y"]["sort"] == "-x"


def test_trait_rows_show_what_the_report_has_and_no_zero_answers() -> None:
    from indexer.traitlookup import TraitReport
    from search_ui.pages import trait_rows

    known = TraitReport("Strix aluco", "Strix aluco", known={"activity": ["nocturnal"]})
    rows = trait_rows(known)
    assert set(rows[0]) == {"trait", "known"}  # a lookup by name has no probes and no vote: no empty columns
    assert any(r["known"] == "nocturnal" for r in rows)
    heard = TraitReport("call.wav", neighbours={"trophic": [("predator", 0.0)], "activity": [("nocturnal", 0.8)]},
                        probes={"activity": [("nocturnal", 0.71), ("diurnal", 0.001)]})
    rows = trait_rows(heard)
    cells = [v for r in rows for v in r.values()]
    assert "nocturnal 0.80" in cells
    assert "nocturnal 0.71" in cells
    assert not [c for c in cells if "0.00" in c]  # "predator 0.00" is no answer


def test_a_search_is_restored_from_its_address_and_writes_it_back(app_env: None) -> None:
    """A shared link reopens the same words, filters, order and size; a change goes back to the address."""
    at = AppTest.from_string("if __name__ == '__main__':\n    from search_ui import pages\n    pages.search_page()\n",
                             default_timeout=180)
    at.query_params.update({"q": "calls", "family": "Hylidae", "sort": "species", "k": "5", "target": "Sounds"})
    at.run()
    assert not at.exception
    assert at.text_input(key="q").value == "calls"
    assert at.selectbox(key="search-family").value == "Hylidae"
    assert at.radio(key="search-sort").value == "species"
    assert at.radio(key="target").value == "Sounds"
    cards = [m.value for m in at.markdown if m.value.startswith("**")]
    assert 0 < len(cards) <= 5
    species = [re.search(r"\*([A-Z][a-z]+ [a-z]+)\*", c).group(1) for c in cards]  # type: ignore[union-attr]
    assert species == sorted(species)
    lineages = [c.value for c in at.caption if "\\>" in c.value]
    assert lineages
    assert all("Hylidae" in v for v in lineages)
    link = next(c.value for c in at.code if "?" in c.value)
    assert "/search?" in link
    assert "family=Hylidae" in link
    assert "q=calls" in link
    at.radio(key="group").set_value("All hits").run()
    assert at.query_params["group"] == "All hits"
    assert at.query_params["family"] == "Hylidae"


def test_browse_is_restored_from_its_address_in_the_order_it_names(app_env: None, data_dir: Path) -> None:
    at = AppTest.from_string("if __name__ == '__main__':\n    from search_ui import pages\n    pages.browse_page()\n",
                             default_timeout=180)
    at.query_params.update({"family": "Hylidae", "page": "2", "sort": "species A-Z"})
    at.run()
    assert not at.exception
    assert at.number_input(key="page").value == 2
    assert at.radio(key="browse-sort").value == "species A-Z"
    titles = [m.value for m in at.markdown if m.value.startswith("**")]
    assert len(titles) == min(12, _hylidae_media(data_dir) - 12)
    assert all("species page" in t for t in titles)  # every card links to its species' page
    assert any(m.value.startswith("**") and "/species?species=Hyla" in m.value for m in at.markdown)
    assert at.query_params["page"] == "2"
    # each card whose record has a date and coordinates says them, and every card its traits
    when_where = [t.value for t in at.text if re.match(r"\d{4}-\d\d-\d\d · .*°[NS] .*°[EW]$", t.value)]
    with make_settings(data_dir.parent).open_catalog() as cat, cat.sessions() as s:
        dated = s.scalar(select(func.count()).select_from(Media).where(
            Media.id.in_(_media_ids(at)), Media.observed_on.is_not(None), Media.lat.is_not(None)))
    assert dated
    assert len(when_where) == dated
    assert len([c for c in at.caption if c.value.startswith("traits: ")]) == len(titles)


def test_spectrograms_have_time_and_frequency_axes(data_dir: Path) -> None:
    """The card's picture is framed: kHz ticks on the left, seconds below, from the window's start."""
    import numpy as np

    from search_ui.render import spectrogram

    with make_settings(data_dir.parent).open_catalog() as cat, cat.sessions() as s:
        sound = s.scalar(select(Media.path).where(Media.kind == "audio").order_by(Media.id))
    img = np.asarray(spectrogram(sound, 0.0, 5.0).convert("L"))
    assert img.shape[1] > 320
    assert img.shape[0] > 120  # room for the axes around the 320x120 plot
    left, below = img[:, :30], img[-16:, 40:]
    assert (left < 200).sum() > 50  # tick labels drawn in the left margin
    assert (below < 200).sum() > 50  # and under the plot
    assert (left > 250).mean() > 0.5  # on a white margin, not spectrogram pixels


def test_the_identify_panel_shows_no_empty_table_and_scores_in_full(app_env: None) -> None:
    """A model with no classifier: no table for it, a note; the nearest-species table has every
    column and scores to two places (a text table: nothing is clipped by a grid's column width)."""
    script = """if __name__ == '__main__':
    from pathlib import Path
    from sqlalchemy import select
    from catalog.tables import Media
    from search_ui import pages
    cat, searcher = pages.resources()
    with cat.sessions() as s:
        photo = s.scalar(select(Media.path).where(Media.kind == "image").order_by(Media.id))
    pages._answers(cat, searcher, Path(photo))
"""
    at = AppTest.from_string(script, default_timeout=180).run()
    assert not at.exception
    assert not at.dataframe
    assert len(at.table) == 1  # the nearest species only: the tiny model has no head
    assert any("has no image classifier" in c.value for c in at.caption)
    table = at.table[0].value
    assert list(table.columns) == ["species", "common name", "family", "score"]
    assert all(re.fullmatch(r"-?\d\.\d\d", v) for v in table["score"])
    assert all(table["family"])
