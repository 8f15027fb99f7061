"""`vita classify train|score|review` (agile classifiers, `indexer.agile`) and `vita detect run|export`
(detections from a sound, a text or a classifier, `indexer.detect`; to Raven selection tables or CSV,
`indexer.raven`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from vita.cli.common import console, open_catalog, settings, typer_app

app = typer_app("Agile classifiers on the stored vectors: train from annotations, score the archive, review.")
detect_app = typer_app("Detections (query or classifier scores over a threshold): find them, export to Raven or CSV.")
LabelArg = Annotated[str, typer.Argument(help="The label (as annotated with `vita annotate add`).")]


def _dir(collection: str) -> Path:
    from indexer.agile import classifiers_dir

    return classifiers_dir(settings().data_dir, collection)


@app.command("train")
def train_cmd(label: LabelArg,
              weak: Annotated[int, typer.Option(help="Random unlabelled windows added as weak negatives.")] = 64,
              seed: Annotated[int, typer.Option(help="Random seed.")] = 0) -> None:
    """Fit a class-balanced logistic regression on the labelled windows' stored vectors."""
    from indexer.agile import heldout_report, train
    from indexer.search import Searcher

    s = settings()
    with open_catalog() as cat, Searcher(cat, s.store_config(), s.corpus) as searcher:
        clf = train(cat, searcher.store, searcher.media_c, label, weak, seed)
    path = clf.save(_dir(clf.collection))
    console.print(f"classifier {label!r}: {clf.positives} positive, {clf.negatives} negative, "
                  f"{clf.weak_negatives} weak negative windows -> {path}")
    for line in heldout_report(clf):
        console.print(line, markup=False)


@app.command("score")
def score_cmd(label: LabelArg,
              threshold: Annotated[float, typer.Option(help="Keep windows scoring at least this.")] = 0.5) -> None:
    """Score every window of the collection; those over the threshold become detections."""
    from indexer.agile import Classifier, score
    from indexer.search import Searcher

    s = settings()
    with open_catalog() as cat, Searcher(cat, s.store_config(), s.corpus) as searcher:
        n = score(cat, searcher.store, Classifier.load(_dir(searcher.media_c), label), threshold)
    console.print(f"{n} detection(s) of {label!r} at >= {threshold} (`vita detect export`)")


@app.command("review")
def review_cmd(label: LabelArg, n: Annotated[int, typer.Option("-n", help="Windows per list.")] = 10) -> None:
    """Windows to label next: the top scores and the most uncertain, with the file and offset to play."""
    from indexer.agile import Classifier, review
    from indexer.search import Searcher

    s = settings()
    with open_catalog() as cat, Searcher(cat, s.store_config(), s.corpus) as searcher:
        lists = review(cat, searcher.store, Classifier.load(_dir(searcher.media_c), label), n)
    for name, rows in lists.items():
        t = Table("score", "media", "offset s", "species", "modality", title=f"{name} ({label})")
        for payload, p in rows:
            t.add_row(f"{p:.3f}", str(payload.get("media_id")), f"{payload.get('offset_s', 0):g}",
                      str(payload.get("species", "")), str(payload.get("modality", "")))
        console.print(t)
    console.print("label them: vita annotate add MEDIA --label ... [--no] --offset S")


@detect_app.command("run")
def run_cmd(label: Annotated[str, typer.Argument(help="The label the detections get (and replace).")],
            text: Annotated[str | None, typer.Option(help="A text query (a taxon's name gives its prompt).")] = None,
            audio: Annotated[Path | None, typer.Option(help="An example sound (checked like ingest input).")] = None,
            classifier: Annotated[bool, typer.Option(help="Score with `vita classify train LABEL`'s classifier.")] = False,
            media: Annotated[list[int] | None, typer.Option(help="Only these recordings (media ids; repeat).")] = None,
            threshold: Annotated[float | None, typer.Option(
                help="Keep windows scoring at least this: a classifier's probability (default 0.5), or a query's "
                     "cosine (required: it depends on the model; the shipped tiny separates calls from "
                     "background near 0.1).")] = None,
            out: Annotated[Path | None, typer.Option(help="Also export them here (see --format).")] = None,
            fmt: Annotated[str, typer.Option("--format", help="raven | raven-combined | csv")] = "raven") -> None:
    """Find the windows of the indexed recordings that a sound, a text or a classifier scores at or over
    a threshold, store them as detections of LABEL, and optionally export them."""
    from indexer.detect import detect
    from indexer.filters import Filter
    from indexer.search import Searcher, SearchRequest

    if sum((text is not None, audio is not None, classifier)) != 1:
        raise typer.BadParameter("give exactly one of --text, --audio, --classifier")
    _check_format(fmt)
    if threshold is None and not classifier:
        raise typer.BadParameter("give --threshold: a query's cosine threshold depends on the model")
    threshold = 0.5 if threshold is None else threshold
    s = settings()
    flt = Filter({"media_id": [str(m) for m in media]}) if media else None
    with open_catalog() as cat, Searcher(cat, s.store_config(), s.corpus) as searcher:
        if classifier:
            from indexer.agile import Classifier, score

            if media:
                raise typer.BadParameter("--media applies to --text and --audio (a classifier scores the whole archive)")
            n = score(cat, searcher.store, Classifier.load(_dir(searcher.media_c), label), threshold)
        else:
            console.print("loading the model ...")
            vector = (searcher.audio_vector(audio) if audio is not None
                      else searcher.query.encode(SearchRequest(text=text)).vector)
            n = detect(cat, searcher.store, searcher.media_c, vector, label, threshold, flt)
    console.print(f"{n} detection(s) of {label!r} at >= {threshold}")
    if out is not None:
        _export(out, label, fmt)


def _check_format(fmt: str) -> None:
    if fmt not in ("raven", "raven-combined", "csv"):
        raise typer.BadParameter("--format is raven, raven-combined or csv")


def _export(out: Path, label: str | None, fmt: str) -> None:
    from indexer.detect import for_export
    from indexer.raven import write_csv, write_raven

    with open_catalog() as cat:
        dets = for_export(cat, label)
    written = (write_csv(dets, out),) if fmt == "csv" else write_raven(dets, out, combined=fmt == "raven-combined")
    console.print(f"{len(dets)} detection(s) -> {', '.join(str(p) for p in written[:3])}"
                  + (f" (+{len(written) - 3})" if len(written) > 3 else ""))


@detect_app.command("export")
def export_cmd(out: Annotated[Path, typer.Argument(help="A directory (Raven, one table per recording) or a file.")],
               label: Annotated[str | None, typer.Option(help="Only this label.")] = None,
               fmt: Annotated[str, typer.Option("--format", help="raven | raven-combined | csv")] = "raven") -> None:
    """Write the stored detections as Raven Pro selection tables or CSV (file,start,end,label,score); each
    box's low and high frequency is its window's spectrogram band."""
    _check_format(fmt)
    _export(out, label, fmt)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="classify")
    root.add_typer(detect_app, name="detect")
