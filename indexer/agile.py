"""Agile classifiers (perch-hoplite's loop): label a few windows, fit a linear classifier on their
stored vectors, score the whole collection, review the top and the uncertain, label again.

- train: logistic regression, class-balanced, on the labelled windows' vectors from the store,
  plus random unlabelled windows as weak negatives (hoplite's practice: most of an archive is not
  the target); held-out precision and recall by k-fold cross-validation on the labelled windows,
  with counts and intervals, and the share of held-out random windows it would detect;
- score: every window of the collection, streamed page by page with the store's cursor (memory
  stays flat), scores at or above a threshold stored as detections;
- review: unlabelled windows to label next, the top scores and those nearest the boundary.
A classifier is saved as JSON (weights, bias, label, model key, collection) under a directory the
caller names (the CLI: `<data>/classifiers/`).
"""

from __future__ import annotations

import datetime as dt
import heapq
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, select

from catalog.errors import ConfigError, NotFoundError
from catalog.facade import Catalog
from catalog.tables import Annotation, IndexCollection, Media
from catalog.tables import Detection as DetectionRow
from indexer.schema import point_id
from indexer.store import VectorStore, vector_pages

WEAK_NEGATIVES = 64
PAGE = 512


@dataclass
class Classifier:
    label: str
    collection: str
    model_key: str
    weights: list[float]
    bias: float
    positives: int
    negatives: int
    weak_negatives: int
    heldout: dict[str, float] = field(default_factory=dict)  # precision, recall, folds
    trained_at: str = ""

    def score(self, vectors: np.ndarray) -> np.ndarray:
        """Probability of the label per row."""
        z = np.asarray(vectors, np.float32) @ np.asarray(self.weights, np.float32) + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{_slug(self.label)}.json"
        path.write_text(json.dumps(asdict(self)))
        return path

    @classmethod
    def load(cls, directory: Path, label: str) -> Classifier:
        path = directory / f"{_slug(label)}.json"
        if not path.is_file():
            raise NotFoundError(f"no classifier for {label!r} in {directory}; run `vita classify train {label!r}`")
        return cls(**json.loads(path.read_text()))


def classifiers_dir(data_dir: Path, collection: str) -> Path:
    """Where a collection's classifiers live: `<data>/classifiers/<collection>/` (the CLI and the UI)."""
    return data_dir / "classifiers" / collection


def saved_labels(directory: Path) -> list[str]:
    """Labels of the classifiers saved in `directory`."""
    return sorted(json.loads(p.read_text())["label"] for p in directory.glob("*.json")) if directory.is_dir() else []


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_") or "label"


def _model_key(catalog: Catalog, collection: str) -> str:
    with catalog.sessions() as s:
        row = s.scalar(select(IndexCollection).where(IndexCollection.name == collection))
    if row is None:
        raise NotFoundError(f"collection {collection} is not in this catalog")
    return row.model_key


def labelled(catalog: Catalog, store: VectorStore, collection: str, label: str) -> tuple[np.ndarray, np.ndarray, set[str]]:
    """(vectors, 1/0 answers, point ids) of the annotated windows the collection holds."""
    key = _model_key(catalog, collection)
    with catalog.sessions() as s:
        rows = s.execute(select(Annotation.positive, Annotation.offset_s, Media.sha256)
                         .join(Media, Media.id == Annotation.media_id).where(Annotation.label == label)).all()
    want = {point_id(sha, off, key): pos for pos, off, sha in rows}
    hits = [h for i in range(0, len(want), 256) for h in store.retrieve(collection, list(want)[i:i + 256], with_vector=True)]
    hits = [h for h in hits if h.vector is not None]
    if not hits:  # nothing labelled (or nothing of it indexed in this collection)
        return np.zeros((0, 0), np.float32), np.zeros(0, np.float32), set()
    x = np.stack([np.asarray(h.vector, np.float32) for h in hits])
    y = np.array([1.0 if want[h.id] else 0.0 for h in hits], np.float32)
    return x, y, {h.id for h in hits}


def _weak(store: VectorStore, collection: str, exclude: set[str], n: int, seed: int) -> np.ndarray:
    """n random windows of the collection not labelled (a reservoir over one streamed pass)."""
    rng = np.random.default_rng(seed)
    keep: list[np.ndarray] = []
    seen = 0
    for h in store.scroll(collection, batch=PAGE, with_vector=True):
        if h.id in exclude or h.vector is None:
            continue
        seen += 1
        if len(keep) < n:
            keep.append(h.vector)
        elif (j := int(rng.integers(seen))) < n:
            keep[j] = h.vector
    return np.array(keep, np.float32)


def _fit(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=1.0, max_iter=2000)
    clf.fit(x, y, sample_weight=w)
    return clf.coef_[0].astype(np.float32), float(clf.intercept_[0])


def _balanced(y: np.ndarray, weak: int) -> np.ndarray:
    """Class-balanced sample weights; weak negatives count half of a labelled negative."""
    w = np.ones(len(y), np.float32)
    w[len(y) - weak:] = 0.5
    for c in (0.0, 1.0):
        m = y == c
        if m.any():
            w[m] *= len(y) / (2 * w[m].sum())
    return w


def train(catalog: Catalog, store: VectorStore, collection: str, label: str, weak_negatives: int = WEAK_NEGATIVES,
          seed: int = 0, folds: int = 5) -> Classifier:
    x, y, ids = labelled(catalog, store, collection, label)
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    if pos < 1 or neg + weak_negatives < 1:
        raise ConfigError(f"{label!r}: need at least one positive and one negative window in {collection} "
                          f"(have {pos} positive, {neg} negative; `vita annotate add`)")
    weak = _weak(store, collection, ids, weak_negatives, seed)
    xa = np.concatenate([x, weak]) if len(weak) else x
    ya = np.concatenate([y, np.zeros(len(weak), np.float32)])
    coef, bias = _fit(xa, ya, _balanced(ya, len(weak)))
    heldout = _cross_validate(x, y, weak, folds, seed)
    return Classifier(label, collection, _model_key(catalog, collection), coef.tolist(), bias, pos, neg, len(weak),
                      heldout, dt.datetime.now(dt.UTC).isoformat())


MIN_PER_CLASS = 10  # below this many labelled windows of either answer, held-out figures are too wide to trust


def _cross_validate(x: np.ndarray, y: np.ndarray, weak: np.ndarray, folds: int, seed: int) -> dict[str, float]:
    """Held out fold by fold, stratified: the labelled windows (precision and recall at 0.5, with
    their counts) and the weak negatives too, whose flagged share estimates how often a random
    archive window would be detected (labelled negatives are hand-picked and rarely show that)."""
    k = min(folds, int(y.sum()), int(len(y) - y.sum()))
    if k < 2:
        return {}
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), int)
    for c in (0.0, 1.0):  # stratified
        idx = rng.permutation(np.flatnonzero(y == c))
        fold[idx] = np.arange(len(idx)) % k
    weak_fold = rng.permutation(len(weak)) % k
    tp = fp = fn = flagged = 0
    for f in range(k):
        tr, te = fold != f, fold == f
        wtr = weak[weak_fold != f]
        xa = np.concatenate([x[tr], wtr]) if len(wtr) else x[tr]
        ya = np.concatenate([y[tr], np.zeros(len(wtr), np.float32)])
        coef, bias = _fit(xa, ya, _balanced(ya, len(wtr)))
        pred = (x[te] @ coef + bias) > 0
        tp += int((pred & (y[te] == 1)).sum())
        fp += int((pred & (y[te] == 0)).sum())
        fn += int((~pred & (y[te] == 1)).sum())
        if len(weak):
            flagged += int(((weak[weak_fold == f] @ coef + bias) > 0).sum())
    out = {"folds": float(k), "positives": float(y.sum()), "negatives": float(len(y) - y.sum()),
           "tp": float(tp), "fp": float(fp), "fn": float(fn),
           "precision": tp / max(1, tp + fp), "recall": tp / max(1, tp + fn),
           "weak_tested": float(len(weak)), "weak_flagged": float(flagged)}
    for name, hits, n in (("precision", tp, tp + fp), ("recall", tp, tp + fn), ("weak_rate", flagged, len(weak))):
        out[f"{name}_low"], out[f"{name}_high"] = wilson(hits, n)
    return out


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (honest at the small counts a few labels give)."""
    if n == 0:
        return 0.0, 1.0
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def heldout_report(clf: Classifier) -> list[str]:
    """The held-out figures as a user should read them: with counts, intervals, the random-window
    false-alarm estimate, and a warning when the labels are too few to trust them."""
    h = clf.heldout
    if not h:
        return [f"held out: too few labels for cross-validation (want 2 of each; have {clf.positives} yes, "
                f"{clf.negatives} no)", f"warning: fewer than {MIN_PER_CLASS} labelled windows of each answer"]
    if "tp" not in h:  # saved before counts were kept
        return [f"held out ({int(h['folds'])}-fold): precision {h['precision']:.2f}, recall {h['recall']:.2f} "
                "(retrain for counts and intervals)"]
    tp, fp, fn = int(h["tp"]), int(h["fp"]), int(h["fn"])
    lines = [f"held out ({int(h['folds'])}-fold over {int(h['positives'])} yes, {int(h['negatives'])} no): "
             f"precision {h['precision']:.2f} ({tp} of {tp + fp} flagged; 95% CI {h['precision_low']:.2f}-"
             f"{h['precision_high']:.2f}), recall {h['recall']:.2f} ({tp} of {tp + fn} found; 95% CI "
             f"{h['recall_low']:.2f}-{h['recall_high']:.2f})"]
    if h.get("weak_tested"):
        lines.append(f"random archive windows flagged: {int(h['weak_flagged'])} of {int(h['weak_tested'])} "
                     f"({h['weak_flagged'] / h['weak_tested']:.0%}; 95% CI {h['weak_rate_low']:.0%}-"
                     f"{h['weak_rate_high']:.0%}): the share of the archive a score of 0.5 would detect, "
                     "true calls included")
    if min(clf.positives, clf.negatives) < MIN_PER_CLASS:
        lines.append(f"warning: fewer than {MIN_PER_CLASS} labelled windows of each answer "
                     f"({clf.positives} yes, {clf.negatives} no): these figures are not to be trusted; label more")
    return lines


def scored(store: VectorStore, collection: str, clf: Classifier, page: int = PAGE) -> Iterator[tuple[dict[str, Any], float]]:
    """(payload, score) for every window, a page of the store at a time."""
    for payloads, matrix in vector_pages(store, collection, None, page):
        yield from zip(payloads, clf.score(matrix).tolist())


def score(catalog: Catalog, store: VectorStore, clf: Classifier, threshold: float = 0.5) -> int:
    """Score the whole collection and store the windows at or above `threshold` as this label's
    classifier detections (replacing the last run's); returns how many."""
    if clf.model_key != _model_key(catalog, clf.collection):
        raise ConfigError(f"classifier {clf.label!r} was trained on another model's vectors")
    with catalog.sessions() as s:
        s.execute(delete(DetectionRow).where(DetectionRow.label == clf.label, DetectionRow.source == "classifier"))
        n = 0
        for payload, p in scored(store, clf.collection, clf):
            if p >= threshold:
                s.add(DetectionRow(media_id=int(payload["media_id"]), offset_s=float(payload.get("offset_s", 0.0)),
                                   duration_s=payload.get("duration_s"), label=clf.label, score=float(p),
                                   source="classifier"))
                n += 1
                if n % 1000 == 0:
                    s.flush()
        s.commit()
    return n


def review(catalog: Catalog, store: VectorStore, clf: Classifier, n: int = 10) -> dict[str, list[tuple[dict[str, Any], float]]]:
    """Unlabelled windows to label next: the `n` top scores and the `n` nearest 0.5."""
    _, _, labelled_ids = labelled(catalog, store, clf.collection, clf.label)
    key = clf.model_key
    top: list[tuple[float, int, dict[str, Any]]] = []  # bounded heaps: one pass, memory of 2n windows
    unsure: list[tuple[float, int, float, dict[str, Any]]] = []
    with catalog.sessions() as s:
        sha = dict(s.execute(select(Media.id, Media.sha256)).all())
    for i, (payload, p) in enumerate(scored(store, clf.collection, clf)):
        if point_id(sha.get(int(payload["media_id"]), ""), float(payload.get("offset_s", 0.0)), key) in labelled_ids:
            continue
        push = heapq.heappush if len(top) < n else heapq.heappushpop
        push(top, (p, i, payload))
        push_u = heapq.heappush if len(unsure) < n else heapq.heappushpop
        push_u(unsure, (-abs(p - 0.5), i, p, payload))
    return {"top": [(pl, round(p, 4)) for p, _, pl in sorted(top, reverse=True)],
            "uncertain": [(pl, round(p, 4)) for _, _, p, pl in sorted(unsure, reverse=True)]}
