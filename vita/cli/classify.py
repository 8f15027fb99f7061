"""`vita classify train|score|review` (agile classifiers, `indexer.agile`) and `vita detect export`
(detections to Raven selection tables or CSV, `indexer.raven`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from vita.cli.common import console, open_catalog, settings, typer_app

app = typer_app("Agile classifiers on the stored vectors: train from annotations, score the archive, review.")
detect_app = typer_app("Detections (classifier scores over a threshold): export to Raven or CSV.")
LabelArg = Annotated[str, typer.Argument(help="The label (as annotated with `vita annotate add`).")]


def _dir() -> Path:
    return settings().data_dir / "classifiers"


@app.command("train")
def train_cmd(label: LabelArg,
              weak: Annotated[int, typer.Option(help="Random unlabelled windows added as weak negatives.")] = 64,
              seed: Annotated[int, typer.Option(help="Random seed.")] = 0) -> None:
    """Fit a class-balanced logistic regression on the labelled windows' stored vectors."""
    from indexer.agile import train
    from indexer.search import Searcher

    s = settings()
    with open_catalog() as cat, Searcher(cat, s.store_config(), s.corpus) as searcher:
        clf = train(cat, searcher.store, searcher.media_c, label, weak, seed)
    path = clf.save(_dir() / clf.collection)
    h = clf.heldout
    console.print(f"classifier {label!r}: {clf.positives} positive, {clf.negatives} negative, "
                  f"{clf.weak_negatives} weak negative windows -> {path}")
    console.print(f"held out ({int(h['folds'])}-fold): precision {h['precision']:.2f}, recall {h['recall']:.2f}"
                  if h else "held out: too few labels for cross-validation (want 2 of each)")


@app.command("score")
def score_cmd(label: LabelArg,
              threshold: Annotated[float, typer.Option(help="Keep windows scoring at least this.")] = 0.5) -> None:
    """Score every window of the collection; those over the threshold become detections."""
    from indexer.agile import Classifier, score
    from indexer.search import Searcher

    s = settings()
    with open_catalog() as cat, Searcher(cat, s.store_config(), s.corpus) as searcher:
        n = score(cat, searcher.store, Classifier.load(_dir() / searcher.media_c, label), threshold)
    console.print(f"{n} detection(s) of {label!r} at >= {threshold} (`vita detect export`)")


@app.command("review")
def review_cmd(label: LabelArg, n: Annotated[int, typer.Option("-n", help="Windows per list.")] = 10) -> None:
    """Windows to label next: the top scores and the most uncertain, with the file and offset to play."""
    from indexer.agile import Classifier, review
    from indexer.search import Searcher

    s = settings()
    with open_catalog() as cat, Searcher(cat, s.store_config(), s.corpus) as searcher:
        lists = review(cat, searcher.store, Classifier.load(_dir() / searcher.media_c, label), n)
    for name, rows in lists.items():
        t = Table("score", "media", "offset s", "species", "modality", title=f"{name} ({label})")
        for payload, p in rows:
            t.add_row(f"{p:.3f}", str(payload.get("media_id")), f"{payload.get('offset_s', 0):g}",
                      str(payload.get("species", "")), str(payload.get("modality", "")))
        console.print(t)
    console.print("label them: vita annotate add MEDIA --label ... [--no] --offset S")


@detect_app.command("export")
def export_cmd(out: Annotated[Path, typer.Argument(help="A directory (Raven, one table per recording) or a file.")],
               label: Annotated[str | None, typer.Option(help="Only this label.")] = None,
               fmt: Annotated[str, typer.Option("--format", help="raven | raven-combined | csv")] = "raven") -> None:
    """Write the stored detections as Raven Pro selection tables or CSV (file,start,end,label,score)."""
    from sqlalchemy import select

    from catalog.models import Detection as Row
    from catalog.models import Media
    from indexer.raven import Detection, write_csv, write_raven

    if fmt not in ("raven", "raven-combined", "csv"):
        raise typer.BadParameter("--format is raven, raven-combined or csv")
    with open_catalog() as cat, cat.sessions() as s:
        q = select(Row, Media.path, Media.sample_rate).join(Media, Media.id == Row.media_id)
        if label:
            q = q.where(Row.label == label)
        dets = [Detection(path, r.offset_s, r.offset_s + (r.duration_s or 0.0), r.label, r.score, 0.0,
                          (sr or 16000) / 2) for r, path, sr in s.execute(q)]
    written = (write_csv(dets, out),) if fmt == "csv" else write_raven(dets, out, combined=fmt == "raven-combined")
    console.print(f"{len(dets)} detection(s) -> {', '.join(str(p) for p in written[:3])}"
                  + (f" (+{len(written) - 3})" if len(written) > 3 else ""))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="classify")
    root.add_typer(detect_app, name="detect")
