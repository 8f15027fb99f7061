"""The agile loop's page: pick a label, train its classifier on the cards labelled so far, score the
archive, review the windows it is surest and least sure of (each card plays at its window), label
them with the thumbs, train again; download the detections as a Raven table or CSV."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st
from sqlalchemy import func, select

from catalog.errors import VitaError
from catalog.facade import Catalog
from catalog.tables import Annotation
from catalog.tables import Detection as DetectionRow
from indexer.agile import Classifier, classifiers_dir, heldout_report, review, saved_labels, score, train
from indexer.detect import for_export
from indexer.raven import write_csv, write_raven
from indexer.search.join import join
from indexer.store import Hit
from search_ui.pages import _grid
from search_ui.render import md
from search_ui.state import data_dir, resources


def _labels(cat: Catalog, directory: Path) -> dict[str, tuple[int, int]]:
    """Every label annotated or with a saved classifier -> (yes, no) counts."""
    with cat.sessions() as s:
        rows = s.execute(select(Annotation.label, Annotation.positive, func.count())
                         .group_by(Annotation.label, Annotation.positive)).all()
    counts: dict[str, list[int]] = {lab: [0, 0] for lab in saved_labels(directory)}
    for label, positive, n in rows:
        counts.setdefault(label, [0, 0])[0 if positive else 1] += n
    return {k: (v[0], v[1]) for k, v in sorted(counts.items())}


def review_page() -> None:
    cat, searcher = resources()
    st.title("Review: agile classifiers")
    directory = classifiers_dir(data_dir(), searcher.media_c)
    labels = _labels(cat, directory)
    if not labels:
        st.info("No labels yet. Type a label in the sidebar of Search or Browse and give cards a 👍 or 👎 "
                "(or `vita annotate add`); then train a classifier here.")
        return
    label = st.selectbox("Label", list(labels), format_func=lambda k: f"{k} ({labels[k][0]} yes, {labels[k][1]} no)",
                         key="review-label")
    st.session_state["annotate_label"] = label  # the thumbs on the cards below label this
    c1, c2, c3 = st.columns(3)
    if c1.button("Train classifier", key="review-train"):
        with st.spinner("Training on the labelled windows' stored vectors ..."):
            try:
                train(cat, searcher.store, searcher.media_c, label).save(directory)
            except VitaError as exc:
                st.error(str(exc))
    try:
        clf = Classifier.load(directory, label)
    except VitaError:
        st.caption("No classifier for this label yet: label a few yes and no cards, then train.")
        return
    st.caption(f"classifier: {clf.positives} yes, {clf.negatives} no, {clf.weak_negatives} weak negatives")
    for line in heldout_report(clf):
        (st.warning if line.startswith("warning") else st.caption)(md(line))
    threshold = c2.slider("Detection threshold", 0.0, 1.0, 0.5, 0.05, key="review-threshold")
    if c3.button("Score the archive", key="review-score"):
        with st.spinner("Scoring every window ..."):
            n = score(cat, searcher.store, clf, threshold)
        st.success(f"{n} detection(s) of {label} at >= {threshold}")
    _downloads(cat, label)
    with st.spinner("Finding windows to label next ..."):
        lists = review(cat, searcher.store, clf, 6)
    for title, key in (("Top scores", "top"), ("Least sure", "uncertain")):
        st.subheader(title)
        _review_cards(cat, lists[key], f"rv-{key}")


def _review_cards(cat: Catalog, rows: list, key: str) -> None:
    """Cards (player from the window's offset, spectrogram, thumbs for the page's label)."""
    results = join(cat, [Hit(str(i), p, payload) for i, (payload, p) in enumerate(rows)])
    if not results:
        st.caption("none left unlabelled")
        return
    _grid(results, key)


def _stamp(cat: Catalog, label: str) -> tuple[int, int]:
    """(how many, newest id) of a label's detections: changes whenever a scoring run replaces them."""
    with cat.sessions() as s:
        n, newest = s.execute(select(func.count(), func.max(DetectionRow.id)).where(DetectionRow.label == label)).one()
    return int(n or 0), int(newest or 0)


@st.cache_data(max_entries=16, show_spinner="Preparing the downloads ...")
def _exports(data_dir: str, label: str, stamp: tuple[int, int]) -> tuple[bytes, bytes]:
    """Raven (combined) and CSV bytes of a label's detections, built once per scoring run (each box's
    band is read from the audio, which costs a seek and an FFT per detection)."""
    cat, _ = resources()
    dets = for_export(cat, label)
    with tempfile.TemporaryDirectory() as tmp:
        raven = write_raven(dets, Path(tmp) / "selections.txt", combined=True)[0].read_bytes()
        csv = write_csv(dets, Path(tmp) / "detections.csv").read_bytes()
    return raven, csv


def _downloads(cat: Catalog, label: str) -> None:
    """Raven selection table (combined) and CSV of this label's stored detections."""
    stamp = _stamp(cat, label)
    if not stamp[0]:
        st.caption("No stored detections of this label yet: score the archive.")
        return
    raven, csv = _exports(str(data_dir()), label, stamp)
    st.caption(f"{stamp[0]} stored detection(s) of {md(label)}")
    a, b = st.columns(2)
    a.download_button("Raven selection table", raven, f"{label}.selections.txt", "text/tab-separated-values",
                      key="dl-raven")
    b.download_button("CSV", csv, f"{label}.detections.csv", "text/csv", key="dl-csv")
