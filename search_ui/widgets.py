"""Sidebar filters shared by the search and browse pages: cascading lineage, traits, licence,
source, date. Their options are facets of the index, so only values that exist are offered."""

from __future__ import annotations

import atexit
import datetime as dt
import re
import shutil
import tempfile
import uuid
from pathlib import Path

import streamlit as st

from catalog.decode import safe_name
from catalog.errors import VitaError
from catalog.facade import Catalog
from catalog.taxonomy import RANKS
from indexer.filters import BBox, Filter
from indexer.search import Searcher
from search_ui.links import Value, restore
from search_ui.state import MAX_UPLOAD_MB

AUDIO_TYPES = ["wav", "flac", "ogg", "mp3", "m4a"]
IMAGE_TYPES = ["jpg", "jpeg", "png", "webp"]


def sidebar_filters(searcher: Searcher, key: str) -> Filter:
    """The sidebar's filters, each seeded from the address (`?family=Hylidae&traits=activity=nocturnal`)."""
    flt = Filter()
    st.sidebar.header("Filters")
    for rank in RANKS:  # each rank's options depend on the choices above it
        counts = searcher.facets(rank, flt, limit=100_000)
        options: list[str] = sorted(counts)
        restore(f"{key}-{rank}", rank, options)
        pick = st.sidebar.selectbox(rank.capitalize(), ["(any)", *options], key=f"{key}-{rank}",  # type: ignore[list-item]  # streamlit types options loosely
                                    format_func=lambda v, c=counts: str(v) if v == "(any)" else f"{v} ({c[v]})")  # type: ignore[misc]  # the lambda binds the counts of this rank
        if pick and pick != "(any)":
            flt.add(rank, pick)
    traits = searcher.facets("traits", flt)
    restore(f"{key}-traits", "traits", traits, many=True)
    chosen = st.sidebar.multiselect("Traits", sorted(traits), key=f"{key}-traits",
                                    format_func=lambda v: f"{v.replace('=', ': ')} ({traits.get(v, 0)})")
    flt.add("traits", *chosen)  # one category's values are alternatives; categories must all hold
    for field, label in (("license", "Licence"), ("source", "Source")):
        present = searcher.facets(field, flt)
        restore(f"{key}-{field}", field, present, many=True)
        values = st.sidebar.multiselect(label, sorted(present), key=f"{key}-{field}")
        if values:
            flt.add(field, *values)
    for name, label in (("from", "Observed from"), ("to", "Observed until")):
        restore(f"{key}-{name}", name, parse=dt.date.fromisoformat)
        st.sidebar.date_input(label, value=None, key=f"{key}-{name}", min_value=dt.date(1900, 1, 1))
    flt.date_from = st.session_state.get(f"{key}-from") or None
    flt.date_to = st.session_state.get(f"{key}-to") or None
    flt.bbox = _bbox_input(key)
    return flt


def _bbox_input(key: str) -> BBox | None:
    """Where: a box typed as south,west,north,east in degrees (the map shows the results inside it)."""
    restore(f"{key}-bbox", "bbox")
    text = st.sidebar.text_input("Where (south, west, north, east)", key=f"{key}-bbox",
                                 placeholder="40.5, -74.3, 41.0, -73.7",
                                 help="Only records with coordinates inside this box, in degrees.")
    if not text.strip():
        return None
    try:
        return BBox.parse(text.replace(" ", ""))
    except VitaError as exc:
        st.sidebar.error(str(exc))
        return None


def filter_params(flt: Filter) -> dict[str, Value]:
    """A filter as the query parameters `sidebar_filters` reads back."""
    out: dict[str, Value] = {name: list(values) for name, values in flt.keywords.items()}
    out["traits"] = [v for vs in flt.traits.values() for v in vs]
    out["from"] = flt.date_from.isoformat() if flt.date_from else None
    out["to"] = flt.date_to.isoformat() if flt.date_to else None
    out["bbox"] = (",".join(f"{v:g}" for v in (flt.bbox.south, flt.bbox.west, flt.bbox.north, flt.bbox.east))
                   if flt.bbox else None)
    return out


def taxon_picker(catalog: Catalog, searcher: Searcher, label: str, key: str,
                 ranks: tuple[str, ...] = RANKS, default: str | None = None) -> tuple[str, str] | None:
    """Type-ahead on any name, scientific or common, any rank, singular or plural ("Gray Treefrog",
    "tawny", "owl"), over the taxa that have indexed media; (rank, name) of the pick.
    With nothing typed it lists every indexed species."""
    typed = st.text_input(f"{label}: type a name", key=f"{key}-find",
                          placeholder="Gray Treefrog · tawny · owl · Hylidae")
    counts = {rank: searcher.facets(rank, limit=100_000) for rank in ranks}
    if typed.strip():
        refs = [t for t in catalog.names().suggest(typed, limit=200, ranks=ranks) if counts[t.rank].get(t.name)]
        choices = {t.name: (t.rank, t.common_name) for t in refs}
        if not choices:
            st.caption(f"No indexed taxon is named {typed!r}.")
            return None
    else:
        common = catalog.names().common_names()
        choices = {n: ("species", common.get(n)) for n in sorted(counts.get("species", {}))}
    options = list(choices)
    pick = st.selectbox(label, options, key=key, index=options.index(default) if default in options else 0,
                        format_func=lambda n: " · ".join(x for x in (n, choices[n][1]) if x) + (
                            "" if choices[n][0] == "species" else f" ({choices[n][0]})"))
    return (choices[pick][0], pick) if pick else None


def upload(label: str, types: list[str], key: str) -> Path | None:
    """An uploaded file, bounded in size and type, saved where the searcher can check and decode it
    (one file per widget and browser session: a new upload replaces the last)."""
    f = st.file_uploader(label, type=types, key=key, help=f"at most {MAX_UPLOAD_MB} MB")
    if f is None:
        return None
    if f.size > MAX_UPLOAD_MB * 1024 * 1024:
        st.error(f"{f.name}: larger than {MAX_UPLOAD_MB} MB")
        return None
    session = st.session_state.setdefault("_uploads_session", uuid.uuid4().hex)
    return save_upload(f.name, bytes(f.getbuffer()), f"{session}-{key}")


_UPLOADS: list[Path] = []  # this process's scratch directory, made on first use


def uploads_dir() -> Path:
    """One scratch directory per UI process, removed when the process exits."""
    if not _UPLOADS or not _UPLOADS[0].is_dir():
        _UPLOADS[:] = [Path(tempfile.mkdtemp(prefix="vita-uploads-"))]
        atexit.register(shutil.rmtree, _UPLOADS[0], True)
    return _UPLOADS[0]


def save_upload(name: str, data: bytes, slot: str = "upload") -> Path:
    """The upload under its own name (made safe), so that what the pages show about it ("frog.wav")
    is the name the user knows, not 'upload.wav'; in `slot`'s folder, whose last upload it replaces."""
    folder = uploads_dir() / safe_name(slot)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    path = folder / safe_name(name)
    path.write_bytes(data)
    return path


def shown(exc: Exception) -> str:
    """An error as the user may read it: an upload named by its file name, never by where the server keeps it."""
    return re.sub(re.escape(str(uploads_dir())) + r"/(?:[^/\s]+/)*", "", str(exc))
