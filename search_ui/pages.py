"""The five pages. Each one reads widgets, calls the search module, and draws what it returns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from catalog.annotations import add
from catalog.facade import Catalog
from catalog.queries import SpeciesNotFound
from catalog.tables import AnnotationSource
from catalog.traits import CATEGORIES
from indexer.filters import Filter
from indexer.hybrid import Ranking
from indexer.identify import identify
from indexer.search import GroupBy, QueryError, Result, Searcher, SearchRequest, Target
from indexer.search.browse import Order
from indexer.traitlookup import TraitReport, predict_traits, species_traits
from search_ui.links import Value, copy_link, publish, restore
from search_ui.render import card, md
from search_ui.state import resources
from search_ui.widgets import AUDIO_TYPES, IMAGE_TYPES, filter_params, shown, sidebar_filters, taxon_picker, upload

AUTOMATIC = "Automatic"
TARGETS = {"Sounds": Target.AUDIO, "Photos": Target.IMAGE, "Species": Target.TEXT, "Any": Target.ANY}
GROUPS = {"One per species": GroupBy.SPECIES, "One per recording": GroupBy.RECORDING, "All hits": GroupBy.NONE}
RANKINGS = {"Hybrid": Ranking.HYBRID, "Embedding": Ranking.EMBEDDING}
K = 12  # results per search unless the page says otherwise


def _grid(results: list, key: str, on_more: object | None = None, columns: int = 3) -> None:
    """Cards row by row (the page reads left to right, then down, in the results' order)."""
    for row in range(0, len(results), columns):
        for col, (i, r) in zip(st.columns(columns), enumerate(results[row:row + columns], start=row)):
            with col:
                card(r, f"{key}-{i}", on_more, _label_card)


def _label_field() -> None:
    """The label the cards' thumbs give, typed once per session (empty: no thumbs)."""
    st.sidebar.text_input("Label with 👍 / 👎 on cards", key="annotate_label",
                          help="A species, a call type, anything: each thumb stores a yes or no for that "
                               "card's window (`vita annotate list`, `vita classify train LABEL`).")


def _label_card(r: Result, positive: bool) -> None:
    cat, _ = resources()
    label = st.session_state.get("annotate_label", "").strip()
    with cat.sessions() as s:
        add(s, int(r.media_id or 0), label, positive, float(r.offset_s or 0.0), r.duration_s, AnnotationSource.UI)
        s.commit()
    st.toast(f"{'yes' if positive else 'no'}: {label} on media {r.media_id} at {float(r.offset_s or 0):.0f} s")


def _more_like_this(media_id: int) -> None:
    st.session_state["more_like"] = media_id
    st.session_state["ignored"] = []
    st.rerun()  # the page above the cards already ran: draw it again for the new query


def search_page() -> None:
    cat, searcher = resources()
    st.title("Search")
    flt = sidebar_filters(searcher, "search")
    _label_field()
    restore("q", "q")
    text = st.text_input("Describe what you are looking for", key="q",
                         placeholder="nocturnal Hylidae calls · Strigidae photos · Gray Treefrog")
    with st.expander("... or search with a sound or a photo"):
        audio = upload("A sound", AUDIO_TYPES, "up-audio")
        image = upload("A photo", IMAGE_TYPES, "up-image")
    c1, c2, c3, c4 = st.columns([2, 2, 1, 1])
    for key, options, parse in (("target", [AUTOMATIC, *TARGETS], str), ("group", list(GROUPS), str),
                                ("k", range(1, 101), int), ("rank", list(RANKINGS), str)):
        restore(key, key, options, parse)
    st.session_state.setdefault("k", K)
    target_label = c1.radio("Find", [AUTOMATIC, *TARGETS], horizontal=True, key="target",
                            help="Automatic: sounds for a photo, photos for a sound, what the words ask for "
                                 "(\"owl photos\"), else anything.")
    group_label = c2.radio("Show", list(GROUPS), horizontal=True, key="group")
    k = c3.number_input("How many", 1, 100, key="k")
    rank_label = c4.radio("Rank sounds and photos", list(RANKINGS), key="rank",
                          help="Hybrid: what the model's own classifier and the labelled neighbours say the query "
                               "is, fused with similarity. Embedding: similarity alone.")
    if "more_like" not in st.session_state and st.query_params.get("more", "").isdigit():
        st.session_state["more_like"] = int(st.query_params["more"])
    more = st.session_state.get("more_like")
    restore("search-sort", "sort", SORTS)  # drawn with the results; seeded now so that the address keeps it
    sort = st.session_state.get("search-sort", SORTS[0])
    state: dict[str, Value] = {  # what differs from the defaults
        "q": text.strip(), "target": None if target_label == AUTOMATIC else target_label,
        "group": None if group_label == next(iter(GROUPS)) else group_label, "k": None if int(k) == K else int(k),
        "rank": None if rank_label == next(iter(RANKINGS)) else rank_label, "more": more,
        "sort": None if sort == SORTS[0] else sort, **filter_params(flt)}
    publish(state)
    if more is not None:
        st.info(f"More like media {more}")
        if st.button("Back to my query"):
            st.session_state["more_like"] = None
            st.rerun()
    req = SearchRequest(k=int(k), group_by=GROUPS[group_label], filters=flt, rank=RANKINGS[rank_label],
                        target=TARGETS.get(target_label), ignore=list(st.session_state.get("ignored", [])))
    if more is not None:
        req.media_ids = [int(more)]
    elif audio is not None:
        req.audio = audio
    elif image is not None:
        req.image = image
    elif text.strip():
        req.text = text
    else:
        st.caption("Type a query, drop in a sound or a photo, or browse by family or habitat.")
        return
    with st.spinner("Searching ..."):
        try:
            resp = searcher.search(req)
        except QueryError as exc:
            st.error(shown(exc))
            return
    if resp.interpretation is not None:
        _chips(resp)
        for c in resp.interpretation.choices:
            st.info(f"“{c.phrase}” could be: {' | '.join(c.options)}. "
                    + (f"Showing {c.chosen}." if c.chosen else "None was picked: choose one in the filters."))
    if resp.notice:
        st.warning(resp.notice)
    if resp.identified:
        st.caption("Identified as " + ", ".join(f"{r} {md(n)} {p:.2f}" for r, n, p in resp.identified[:4])
                   + f" (from {', '.join(resp.evidence)}); results ranked by that and by similarity.")
    upload_path = req.audio or req.image
    if upload_path is not None:
        _what_is_this(cat, searcher, upload_path)
    st.subheader(f"{len(resp.results)} results · {resp.target.value}")
    if not resp.results:
        st.warning("Nothing matches these filters. Remove a filter chip or a sidebar filter.")
        return
    order = st.radio("Sort by", SORTS, horizontal=True, key="search-sort")
    query = publish({**state, "sort": None if order == SORTS[0] else order})
    if upload_path is None:
        with st.popover("Copy link"):
            copy_link("search", query)
    else:
        st.caption("A search with an uploaded file cannot be linked: the link keeps the words and filters only.")
    results = sort_results(resp.results, order)
    _grid(results, "s", _more_like_this)
    _map(results)


SORTS = ("score", "date", "species")


def sort_results(results: list[Result], order: str) -> list[Result]:
    """The results in the order picked: by score (as ranked), newest first, or species A-Z."""
    if order == "date":
        return sorted(results, key=lambda r: r.observed_on or "", reverse=True)
    if order == "species":
        return sorted(results, key=lambda r: (r.species or r.name or "~").lower())
    return results


def _map(results: list[Result]) -> None:
    """Where the results were recorded, for those with coordinates (below the cards: the cards come
    first; the base map's tiles need the internet, the points do not)."""
    located = [r for r in results if r.lat is not None and r.lon is not None]
    if not located:
        return
    with st.expander(f"Map ({len(located)} of {len(results)} with coordinates)", expanded=True):
        st.map([{"lat": r.lat, "lon": r.lon} for r in located], size=40, height=300)


def _what_is_this(cat: Catalog, searcher: Searcher, path: Path) -> None:
    """The identify panel over an uploaded sound or photo: the query itself (its photo, or a
    player), the model's own head (field: BirdNET, ImageNet) and the nearest indexed species."""
    with st.expander("What is this?", expanded=True), st.spinner("Identifying ..."):
        query, answers = st.columns([1, 4])
        with query:
            st.caption(md(path.name))
            if path.suffix.lower().lstrip(".") in AUDIO_TYPES:
                st.audio(str(path))
            else:
                st.image(str(path), width="stretch")
        with answers:
            _answers(cat, searcher, path)


def _answers(cat: Catalog, searcher: Searcher, path: Path) -> None:
    try:
        result = identify(cat, path, searcher=searcher)
    except QueryError as exc:
        st.error(shown(exc))
        return
    for title, guesses in ((result.head, result.overall), ("nearest indexed species", result.nearest)):
        if title and guesses:  # a model with no classifier has no table: its note below says so
            st.caption(md(title))
            st.table(guess_rows(guesses))
    for note in result.notes:
        st.caption(md(note))


def guess_rows(guesses: list) -> list[dict[str, str]]:
    """An identify table as text (laid out by the page: no column is clipped), scores to two places."""
    return [{"species": g.name, "common name": g.common_name or "", "family": g.lineage.get("family", ""),
             "score": f"{g.score:.2f}"} for g in guesses]


def _chips(resp: object) -> None:
    """The parsed filters as removable chips: a click drops that reading of the words."""
    interp = resp.interpretation  # type: ignore[attr-defined]  # resp comes from session state, typed object
    if not interp.matches and not resp.embedded_text:  # type: ignore[attr-defined]  # resp comes from session state, typed object
        return
    st.caption("Understood as (click to remove):")
    cols = st.columns(max(1, len(interp.matches)) + 1)
    for i, m in enumerate(interp.matches):
        if cols[i].button(f"{m.field}: {m.value} ✕", key=f"chip-{m.field}-{m.value}"):
            st.session_state.setdefault("ignored", []).append((m.field, m.value))
            st.rerun()
    if resp.embedded_text:  # type: ignore[attr-defined]  # resp comes from session state, typed object
        cols[-1].caption(f"embedded: {md(resp.embedded_text)}")  # type: ignore[attr-defined]  # resp comes from session state, typed object


FACETS = ["family", "genus", "class", "modality", "license", *(f"trait: {c.key}" for c in CATEGORIES)]


def browse_page() -> None:
    _, searcher = resources()
    st.title("Browse")
    flt = sidebar_filters(searcher, "browse")
    _label_field()
    restore("facet", "count", FACETS)
    facet_by = st.selectbox("Count by", FACETS, key="facet")
    key = "traits" if facet_by.startswith("trait") else facet_by
    with st.spinner("Counting ..."):  # facets over the whole collection take a moment: say so
        counts = searcher.facets(key, flt)
        total = searcher.count(flt)
    if key == "traits":
        prefix = facet_by.split(": ")[1] + "="
        counts = {v.removeprefix(prefix): n for v, n in counts.items() if v.startswith(prefix)}
    st.altair_chart(facet_chart(counts, facet_by), width="stretch")
    per_page = 12
    pages = max(1, -(-total // per_page))
    left, right = st.columns([1, 2])
    restore("page", "page", range(1, pages + 1), int)
    page = left.number_input(f"Page (of {pages}; {total} items)", 1, pages, key="page") - 1
    orders = [o.value for o in Order]
    restore("browse-sort", "sort", orders)
    order = Order(right.radio("Sort by", orders, horizontal=True, key="browse-sort"))
    query = publish({"count": None if facet_by == FACETS[0] else facet_by, "page": page + 1 if page else None,
                     "sort": None if order is Order.STORE else order.value, **filter_params(flt)})
    with st.spinner("Loading ..."):
        results, total = searcher.browse(flt, int(page), per_page, order)
    with st.popover("Copy link"):
        copy_link("browse", query)
    _grid(results, "b")
    _map(results)


BAR_PX = 22  # height per bar: every value's name has room on the axis


def facet_chart(counts: dict[str, int], title: str) -> Any:
    """Counts as horizontal bars, most first, every value named on the axis (a height-capped chart
    let Vega-Lite drop the labels that would overlap: 16 of 33 families showed)."""
    import altair as alt
    import pandas as pd

    data = pd.DataFrame({"value": list(counts), "items": list(counts.values())})
    return alt.Chart(data).mark_bar().encode(
        y=alt.Y("value:N", sort="-x", title=title, axis=alt.Axis(labelOverlap=False, labelLimit=280)),
        x=alt.X("items:Q", title="items"),
        tooltip=["value", "items"],
    ).properties(height=BAR_PX * max(3, len(counts)))  # one or two bars still get a readable axis


def trait_rows(report: TraitReport) -> list[dict[str, str]]:
    """One row per trait category; the probes' and the vote's columns only where the report has them
    (a species looked up by name has neither), and only answers that round above 0.00."""
    def answers(pairs: list[tuple[str, float]]) -> str:
        return ", ".join(f"{lab} {p:.2f}" for lab, p in pairs[:2] if round(p, 2) > 0)

    columns = {"probes": report.probes, "nearest species vote": report.neighbours}
    shown_columns = {name: by for name, by in columns.items() if any(answers(v) for v in by.values())}
    rows = []
    for c in CATEGORIES:  # an unknown value is "-", never a blank cell (a blank row reads as a bug)
        row = {"trait": c.title, "known": ", ".join(report.known.get(c.key, [])) or "-"}
        row.update({name: answers(by.get(c.key, [])) or "-" for name, by in shown_columns.items()})
        rows.append(row)
    return rows


def _trait_table(report: TraitReport) -> None:
    st.dataframe(trait_rows(report), hide_index=True, width="stretch")


def traits_page() -> None:
    cat, searcher = resources()
    st.title("Trait lookup")
    picked = taxon_picker(cat, searcher, "A species", "trait-species", ranks=("species",),
                          default=st.query_params.get("species"))
    species = picked[1] if picked else "(none)"
    publish({"species": picked[1] if picked else None})
    audio = upload("... or predict from a sound", AUDIO_TYPES, "trait-audio")
    image = upload("... or from a photo", IMAGE_TYPES, "trait-image")
    try:
        with st.spinner("Looking up traits ..."):
            if audio is not None or image is not None:
                report = predict_traits(searcher, audio=audio, image=image)
                if report.nearest_species:  # known traits of the closest species, beside the predictions
                    report.known = species_traits(searcher, report.nearest_species[0][0]).known
                    st.caption(f"known traits shown are those of the nearest species, "
                               f"{md(report.nearest_species[0][0])}")
            elif species != "(none)":
                report = species_traits(searcher, species)
            else:
                st.caption("Pick a species, or drop in a sound or photo.")
                return
    except (QueryError, SpeciesNotFound) as exc:
        st.error(shown(exc))
        return
    st.subheader(md(Path(report.query).name if audio is not None or image is not None else report.query))
    _trait_table(report)
    if report.nearest_species:
        st.text("nearest species: " + ", ".join(f"{sp} ({s:.3f})" for sp, s in report.nearest_species[:5]))
    for note in report.notes:
        st.caption(md(note))


def species_page() -> None:
    cat, searcher = resources()
    st.title("Species")
    picked = taxon_picker(cat, searcher, "Species or group", "sp", default=st.query_params.get("species"))
    if picked is None:
        return
    rank, name = picked
    query = publish({"species": name})
    try:
        info = cat.species(name, media_limit=24)
    except SpeciesNotFound as exc:
        st.error(shown(exc))
        return
    title = info.name + (f" · {info.common_name}" if info.common_name else "")
    st.header(title + ("" if rank == "species" else f" ({rank})"))
    st.text(" > ".join(f"{r} {n}" for r, n in info.lineage.items()) + (f"  ({info.split_role} species)"
                                                                          if info.split_role else ""))
    st.dataframe([{"trait": k, "values": ", ".join(v[0] for v in vals), "source": vals[0][1]}
                  for k, vals in info.traits.items()], hide_index=True)
    with st.popover("Copy link"):
        copy_link("species", query)
    results, total = searcher.browse(Filter({rank: [name]}), 0, 12)
    st.subheader(f"Media ({total})")
    _grid(results, "sp")
    if rank != "species":
        return
    st.subheader("Nearest species")
    with st.spinner("Finding neighbours ..."):
        near = searcher.nearest_species(name)
    st.dataframe([{"species": r.species, "common name": r.common_name, "family": r.lineage.get("family"),
                   "score": r.score} for r in near], hide_index=True)


def status_page() -> None:
    cat, searcher = resources()
    st.title("Index status")
    o = searcher.overview()
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Points", o["points"])
    c2.metric("Taxa points", o["taxa_points"])
    c3.metric("Media indexed", f"{o['indexed']} / {o['catalog_media']}")
    c4.metric("Failed", o["failed"])
    st.progress(min(1.0, o["indexed"] / max(1, o["catalog_media"])), text="indexing progress of the current model")
    st.subheader("Media per modality and per split")
    left, right = st.columns(2)  # two tables: one list of both would leave every other cell empty
    left.dataframe([{"modality": k, "media": v} for k, v in o["by_modality"].items()], hide_index=True)
    right.dataframe([{"split": k, "media": v} for k, v in o["by_split"].items()], hide_index=True)
    st.subheader("Collections")
    st.dataframe(o["collections"], hide_index=True)
    st.subheader("Recorded failures")
    rows = [{"source": f.source, "file / item": f.item, "stage": f.stage, "reason": f.reason}
            for f in cat.failures(limit=200)]
    if rows:
        st.dataframe(rows, hide_index=True)
    else:
        st.caption("none")
