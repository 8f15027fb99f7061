"""VITA Search UI: `vita serve` runs `streamlit run search_ui/app.py` on 127.0.0.1:8501."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project, when streamlit runs this file

import streamlit as st

from search_ui import pages, review

st.set_page_config(page_title="VITA Search", page_icon="🐸", layout="wide")


def search_at_its_address() -> None:
    """The search page at /search too: Streamlit serves the default page at / only."""
    pages.search_page()


nav = st.navigation([
    st.Page(pages.search_page, title="Search", default=True),
    st.Page(search_at_its_address, title="Search", url_path="search", visibility="hidden"),
    st.Page(pages.browse_page, title="Browse", url_path="browse"),
    st.Page(pages.traits_page, title="Trait lookup", url_path="traits"),
    st.Page(pages.species_page, title="Species", url_path="species"),
    st.Page(review.review_page, title="Review", url_path="review"),
    st.Page(pages.status_page, title="Index status", url_path="status"),
])
nav.run()
