"""Resources the UI holds for its whole life: the catalog and one Searcher (the store's owner).

This is the UI's start-up edge: the settings are read here (from the `VITA_*` variables that
`vita serve` passes), once per data directory, and handed down.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from catalog.api import Catalog
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


def resources() -> tuple[Catalog, Searcher]:
    """The catalog and searcher; stops the page with an explanation when there is no index."""
    try:
        return _open(str(Settings().data_dir.resolve()))
    except StoreError as exc:
        st.error(f"No index to search: {exc}")
        st.info("Build one with `vita index` (after `vita ingest` and `vita train`), then reload.")
        st.stop()
        raise  # unreachable: st.stop() ends the script
