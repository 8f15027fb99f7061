"""Resources the UI holds for its whole life: the catalog and one Searcher (the store's owner).

This is the UI's start-up edge: the settings are read here (from the `VITA_*` variables that
`vita serve` passes), once per data directory, and handed down.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from catalog.facade import Catalog
from indexer.search import Searcher
from indexer.store import StoreError
from vita.settings import Settings

MAX_UPLOAD_MB = 50  # also passed to `streamlit run` as server.maxUploadSize
OPENED: list[Searcher] = []  # what this process holds open (tests hand the store back through it)


@st.cache_resource(show_spinner="Opening the index ...")
def _open(data_dir: str) -> tuple[Catalog, Searcher]:
    """Cached per data directory; a failure is not cached, so a reload after `vita index` works."""
    settings = Settings(data_dir=Path(data_dir))
    cat = settings.open_catalog()
    try:
        searcher = Searcher(cat, settings.store_config(), settings.corpus)
        OPENED.append(searcher)
        return cat, searcher
    except StoreError:
        cat.close()
        raise


def data_dir() -> Path:
    """The data directory this UI serves (classifiers live under it)."""
    return Settings().data_dir.resolve()


def resources() -> tuple[Catalog, Searcher]:
    """The catalog and searcher; stops the page with an explanation when there is no index (and, on
    the embedded store, a button that builds it with the default model)."""
    settings = Settings()
    try:
        return _open(str(settings.data_dir.resolve()))
    except StoreError as exc:
        st.error(f"No index to search: {exc}")
        st.info("Build one with `vita index` (after `vita ingest`), then reload.")
        if not settings.qdrant_url:
            _index_button(settings)
        st.stop()
        raise  # unreachable: st.stop() ends the script


def _index_button(settings: Settings) -> None:
    """Index the catalog here, in this process (the embedded store has one owner: this UI), with
    `<data>/models/tiny`, or the tiny checkpoint that ships with VITA when there is none."""
    from encoders.pretrained import install
    from workers.indexing import IndexOptions, run_index

    with settings.open_catalog() as cat:
        media = cat.stats().media
    if not media:
        st.info("The catalog is empty: `vita ingest demo` or `vita ingest folder DIR` first.")
        return
    model = settings.models_dir / "tiny"
    if not st.button(f"Index the catalog now ({media} media, model {model.name})", key="index-now"):
        return
    if not (model / "vita_config.json").is_file() and install("tiny", settings.models_dir) is None:
        st.error(f"no model at {model}: `vita train` first")
        return
    bar = st.progress(0.0, text="indexing ...")

    def progress(done: int, total: int) -> None:
        bar.progress(done / max(1, total), text=f"indexing: {done} of {total} media")

    with settings.open_catalog() as cat:
        report = run_index(cat, settings.index_config(), str(model), IndexOptions(eager=True), progress=progress)
    st.success(f"indexed {report.indexed} media ({report.failed} failed) in {report.seconds:.0f} s")
    st.rerun()
