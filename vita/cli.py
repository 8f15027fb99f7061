"""`vita`: the command line, a thin mirror of the Python API (`catalog.api.Catalog`, ...).

Exit status: 0 all good; 1 the run finished but some items failed (listed, and kept in
`vita catalog failures`); 2 the command could not run (bad arguments, missing key or folder).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import asdict
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from catalog.api import Catalog
from catalog.ingest import IngestReport
from catalog.models import MediaKind
from catalog.queries import CatalogStats, SpeciesNotFound
from catalog.sources.base import MediaRecord, Source
from vita import settings as settings_mod

app = typer.Typer(help="VITA Search: multimodal search for animal species.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
ingest_app = typer.Typer(help="Add taxa, traits and media to the catalog.", no_args_is_help=True)
catalog_app = typer.Typer(help="Look into the catalog.", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")
app.add_typer(catalog_app, name="catalog")
# Piped output is not cut at 80 columns (rich's default without a terminal): tables stay readable.
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)


class DemoSizeOpt(str, Enum):
    small = "small"
    default = "default"


@app.callback()
def main(
    data_dir: Annotated[Optional[Path], typer.Option(help="Data directory (env VITA_DATA_DIR).")] = None,
    database_url: Annotated[Optional[str], typer.Option(help="Catalog database URL (env VITA_DATABASE_URL).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every failure as it happens.")] = False,
) -> None:
    if data_dir is not None:
        os.environ["VITA_DATA_DIR"] = str(data_dir)
    if database_url is not None:
        os.environ["VITA_DATABASE_URL"] = database_url
    settings_mod.get_settings.cache_clear()
    logging.basicConfig(level=logging.WARNING if verbose else logging.ERROR, format="%(levelname)s %(message)s")


def _catalog() -> Catalog:
    return Catalog(settings_mod.get_settings())


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(2)


# ---------------------------------------------------------------- ingest


def run_ingest(source: Source, expected: int | None = None) -> IngestReport:
    """Run one ingest with a progress bar and print its summary; shared by every source."""
    with _catalog() as cat:
        counts = {"added": 0, "skipped": 0, "duplicate": 0, "failed": 0}
        columns = [SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[counts]}"), TimeElapsedColumn()]
        with Progress(*columns, console=err, transient=False) as bar:
            task = bar.add_task(f"ingest {source.name}", total=expected, counts="")

            def progress(outcome: str, record: MediaRecord | None) -> None:
                if outcome in counts:
                    counts[outcome] += 1
                if record is not None or outcome == "failed":
                    bar.update(task, advance=1, counts=" ".join(f"{k} {v}" for k, v in counts.items() if v))

            report = cat.ingest(source, progress)
    _print_report(report)
    return report


def _print_report(r: IngestReport) -> None:
    t = Table(title=f"ingest {r.source} (run {r.run_id})", show_header=False)
    for k in ("taxa", "traits", "added", "skipped", "duplicates", "failed"):
        t.add_row(k, str(getattr(r, k)))
    console.print(t)
    if r.failures:
        _print_failures(r.failures, r.failed, "vita catalog failures")


def _print_failures(failures: list[tuple[str, str, str]], total: int, command: str) -> None:
    """The first 20 (file, stage, reason) rows, and where to see them all."""
    ft = Table("file / item", "stage", "reason", title=f"{total} failed", title_style="red")
    for item, stage, reason in failures[:20]:
        ft.add_row(item, stage, reason)
    console.print(ft)
    if total > 20:
        console.print(f"... and {total - 20} more")
    console.print(f"All failures: [bold]{command}[/bold]")


def _exit_for(report: IngestReport) -> None:
    if not report.ok:
        raise typer.Exit(1)


@ingest_app.command("demo")
def ingest_demo(
    size: Annotated[DemoSizeOpt, typer.Option(help="small: tests, < 30 s; default: the demo, < 3 min.")] = DemoSizeOpt.small,
    seed: Annotated[int, typer.Option(help="World seed; same seed, same files.")] = 0,
) -> None:
    """Build the demo world: real taxonomy and traits, SYNTHETIC sounds and photos."""
    _exit_for(run_ingest(*_demo_source(size.value, seed)))


def _demo_source(size: str, seed: int) -> tuple[Source, int]:
    """The demo world source and how many media it will yield."""
    from catalog.sources.demo import DemoWorldSource, select_species

    src = DemoWorldSource(settings_mod.get_settings().media_dir, size, seed)
    p = src.preset
    return src, len(select_species(p)) * (p.audio_per_species + p.images_per_species)


@ingest_app.command("folder")
def ingest_folder(
    root: Annotated[Path, typer.Argument(help="Folder of media.")],
    csv: Annotated[Optional[Path], typer.Option(help="Darwin Core CSV (default: ROOT/metadata.csv).")] = None,
    traits: Annotated[Optional[Path], typer.Option(help="Optional traits CSV.")] = None,
    name: Annotated[str, typer.Option(help="Source name stored on each media row.")] = "folder",
) -> None:
    """Ingest a folder of sounds and photos described by a Darwin Core CSV."""
    from catalog.sources.folder import FolderError, FolderSource

    try:
        src = FolderSource(root, csv, traits, source_name=name)
    except FolderError as exc:
        raise _fail(str(exc)) from None
    _exit_for(run_ingest(src))


@ingest_app.command("inat")
def ingest_inat(
    taxon: Annotated[Optional[str], typer.Option(help="Taxon name or iNaturalist taxon id.")] = None,
    place: Annotated[Optional[int], typer.Option(help="iNaturalist place id.")] = None,
    sounds: Annotated[bool, typer.Option(help="Take sounds.")] = True,
    photos: Annotated[bool, typer.Option(help="Take photos.")] = True,
    max_observations: Annotated[Optional[int], typer.Option("--max", help="Stop after this many observations.")] = None,
    photo_size: Annotated[str, typer.Option(help="square|small|medium|large|original")] = "medium",
) -> None:
    """Ingest research-grade iNaturalist observations (CC licences only, by default)."""
    from catalog.sources.inat import INatSource

    kinds = [k for k, on in ((MediaKind.AUDIO, sounds), (MediaKind.IMAGE, photos)) if on]
    if not kinds:
        raise _fail("nothing to take: both --no-sounds and --no-photos")
    try:
        src = INatSource(settings_mod.get_settings(), taxon=taxon, place_id=place, kinds=kinds,
                         max_observations=max_observations, photo_size=photo_size)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    _exit_for(run_ingest(src))


@ingest_app.command("xc")
def ingest_xc(
    query: Annotated[Optional[str], typer.Argument(help="Xeno-canto v3 query, e.g. 'gen:Hyla cnt:\"United States\"'.")] = None,
    species: Annotated[Optional[str], typer.Option(help="Shortcut for sp:\"Genus epithet\".")] = None,
    max_recordings: Annotated[Optional[int], typer.Option("--max", help="Stop after this many recordings.")] = None,
    resolve: Annotated[bool, typer.Option(help="Look up class..family on iNaturalist.")] = True,
) -> None:
    """Ingest Xeno-canto recordings (key in VITA_XC_KEY); recordist, licence and XC number are kept."""
    from catalog.sources.inat import INatTaxonomy, api_session
    from catalog.sources.xenocanto import XenoCantoError, XenoCantoSource, species_query

    if not query and not species:
        raise _fail("give a query or --species")
    s = settings_mod.get_settings()
    resolver = INatTaxonomy(api_session(s.data_dir / "cache", s.requests_per_second)) if resolve else None
    try:
        src = XenoCantoSource(s, query or species_query(species or ""), max_recordings=max_recordings,
                              resolver=resolver)
    except XenoCantoError as exc:
        raise _fail(str(exc)) from None
    _exit_for(run_ingest(src))


# ---------------------------------------------------------------- catalog


def _json(obj: Any) -> None:
    console.print_json(json.dumps(obj, default=str))


@catalog_app.command("stats")
def catalog_stats(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Species (seen and unseen) and media per class, splits, licences, sources."""
    with _catalog() as cat:
        st = cat.stats()
    if as_json:
        _json({**asdict(st), "species": st.species, "media": st.media})
        return
    print_stats(st)


def print_stats(st: CatalogStats) -> None:
    t = Table("class", "orders", "families", "genera", "species", "seen", "unseen", "audio", "hours", "images",
              title="catalog")
    for c in st.classes:
        t.add_row(c.name, str(c.orders), str(c.families), str(c.genera), str(c.species), str(c.seen),
                  str(c.unseen), str(c.audio), f"{c.audio_hours:.2f}", str(c.images))
    console.print(t)
    s = Table("split", "audio", "image", title="splits")
    for split in ("train", "val", "test-seen", "test-unseen", "unassigned"):
        if split in st.splits:
            s.add_row(split, str(st.splits[split].get("audio", 0)), str(st.splits[split].get("image", 0)))
    console.print(s)
    console.print("licences: " + ", ".join(f"{k} {v}" for k, v in sorted(st.licenses.items())))
    console.print("sources: " + ", ".join(f"{k} {v}" for k, v in sorted(st.sources.items())))
    console.print(f"open failures: {st.open_failures}" + ("  (vita catalog failures)" if st.open_failures else ""))


@catalog_app.command("failures")
def catalog_failures(
    source: Annotated[Optional[str], typer.Option(help="Only this source.")] = None,
    include_resolved: Annotated[bool, typer.Option("--all", help="Include failures fixed by a later run.")] = False,
    limit: Annotated[Optional[int], typer.Option(help="At most this many rows.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every file or row that could not be ingested, with the stage and the reason."""
    with _catalog() as cat:
        rows = cat.failures(source, include_resolved, limit)
    if as_json:
        _json([asdict(r) for r in rows])
        return
    t = Table("source", "file / item", "stage", "reason", "run", title=f"{len(rows)} failures")
    for r in rows:
        t.add_row(r.source, r.item, r.stage, r.reason + (" [green](resolved)[/green]" if r.resolved else ""),
                  str(r.run_id or ""))
    console.print(t)


@catalog_app.command("species")
def catalog_species(
    name: Annotated[str, typer.Argument(help="Scientific or common name.")],
    media_limit: Annotated[Optional[int], typer.Option(help="Show at most this many media.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Lineage, traits and media (with licences) of one species."""
    try:
        with _catalog() as cat:
            card = cat.species(name, media_limit)
    except SpeciesNotFound as exc:
        raise _fail(str(exc)) from None
    if as_json:
        _json(asdict(card))
        return
    console.print(f"[bold]{card.name}[/bold]" + (f" ({card.common_name})" if card.common_name else "")
                  + (f"  [dim]{card.split_role} species[/dim]" if card.split_role else ""))
    console.print("  " + " > ".join(f"{r} {n}" for r, n in card.lineage.items()))
    t = Table("trait", "values", "source", title="traits")
    for cat_key, values in card.traits.items():
        t.add_row(cat_key, ", ".join(v[0] for v in values), ", ".join(sorted({v[1] for v in values})))
    console.print(t)
    m = Table("id", "kind", "split", "size", "licence", "rights holder", "source id", title=f"{len(card.media)} media")
    for row in card.media:
        m.add_row(str(row.id), row.kind, row.split or "", row.size, row.license or "?", row.rights_holder or "",
                  f"{row.source}:{row.source_id}")
    console.print(m)


@catalog_app.command("split")
def catalog_split(
    seed: Annotated[int, typer.Option()] = 0,
    unseen_fraction: Annotated[float, typer.Option()] = 0.15,
) -> None:
    """Assign splits to species and media that have none (assignments never move)."""
    from catalog.splits import SplitPolicy

    with _catalog() as cat:
        cat.assign_splits(SplitPolicy(seed=seed, unseen_fraction=unseen_fraction))
        print_stats(cat.stats())


# ---------------------------------------------------------------- train


@app.command("train")
def train_cmd(
    preset: Annotated[str, typer.Option(help="Encoder preset (tiny trains here on CPU; biovita wants a GPU).")] = "tiny",
    stage: Annotated[Optional[list[int]], typer.Option(help="Only these stages (0: image-text, tiny only; 1; 2).")] = None,
    name: Annotated[Optional[str], typer.Option(help="Run name; the model lands in <data>/models/<name>.")] = None,
    epochs: Annotated[int, typer.Option(help="Epochs per stage (0: the preset's recipe).")] = 0,
    init: Annotated[Optional[str], typer.Option(help="Start from this checkpoint (dir or hf-hub:).")] = None,
    template: Annotated[Optional[list[str]], typer.Option(help="Train with only these prompt templates.")] = None,
    random_order: Annotated[bool, typer.Option(help="Shuffle the taxonomic sequence (ablation).")] = False,
    max_steps: Annotated[Optional[int], typer.Option(help="At most this many steps per epoch (smoke runs).")] = None,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Train the encoders: (stage 0 ->) stage 1 ATC -> stage 2 ATC + lambda (AIC + ITC)."""
    from training.recipe import run_recipe
    from training.trainer import TrainConfig

    s = settings_mod.get_settings()
    base = TrainConfig(preset=preset, epochs=epochs, init=init, random_order=random_order, seed=seed,
                       max_steps_per_epoch=max_steps, **({"templates": template} if template else {}))
    columns = [SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn()]
    with _catalog() as cat, Progress(*columns, console=err) as bar:
        tasks: dict[str, Any] = {}

        def progress(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total)
            bar.update(tasks[label], completed=done)

        try:
            result = run_recipe(cat, base, s.data_dir / "runs", s.data_dir / "models", name or preset,
                                stage, progress)
        except ValueError as exc:
            raise _fail(str(exc)) from None
    t = Table("stage", "epochs", "loss", "val A2T top-1", "val A2T top-5", "seconds", title="training")
    for st, r in result.stages.items():
        h = r.history[-1] if r.history else {}
        t.add_row(str(st), str(len(r.history)), str(h.get("loss", "")), str(h.get("val_a2t_top1", "")),
                  str(h.get("val_a2t_top5", "")), str(round(sum(x["seconds"] for x in r.history))))
    console.print(t)
    console.print(f"model: [bold]{result.model_dir}[/bold]")


@app.command("train-traits")
def train_traits_cmd(
    model: Annotated[Optional[Path], typer.Option(help="Encoder checkpoint (default: <data>/models/tiny).")] = None,
    modality: Annotated[str, typer.Option(help="audio or image")] = "audio",
) -> None:
    """Fit linear trait probes on the frozen encoder's embeddings of the training media."""
    from training.probe_run import train_trait_probes

    s = settings_mod.get_settings()
    ckpt = model or s.data_dir / "models" / "tiny"
    if not ckpt.exists():
        raise _fail(f"no encoder at {ckpt}; run `vita train` first or pass --model")
    with _catalog() as cat:
        report = train_trait_probes(cat, ckpt, modality)
    t = Table("trait", "train accuracy / F1", title=f"trait probes ({modality}) -> {report['out']}")
    for k, v in report["train"].items():
        t.add_row(k, f"{v:.3f}")
    console.print(t)


@app.command("evaluate")
def evaluate_cmd(
    model: Annotated[Optional[Path], typer.Option(help="Encoder checkpoint (default: <data>/models/tiny).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Audio -> text over all species' prompts on the test splits (seen and unseen species)."""
    from training.evaluate import a2t_report

    ckpt = model or settings_mod.get_settings().data_dir / "models" / "tiny"
    if not ckpt.exists():
        raise _fail(f"no encoder at {ckpt}; run `vita train` first or pass --model")
    with _catalog() as cat:
        rows = a2t_report(cat, ckpt)
    if as_json:
        _json([asdict(r) for r in rows])
        return
    t = Table("split", "query", "n", "top-1", "top-5", "top-1 genus", "top-1 family", "chance top-1",
              title=f"A2T over all species ({ckpt})")
    for r in rows:
        t.add_row(r.split, r.template, str(r.n), f"{r.top1:.3f}", f"{r.top5:.3f}", f"{r.top1_genus:.3f}",
                  f"{r.top1_family:.3f}", f"{r.chance_top1:.4f}")
    console.print(t)


# ---------------------------------------------------------------- index and search


def _default_model() -> Path:
    return settings_mod.get_settings().data_dir / "models" / "tiny"


@app.command("index")
def index_cmd(
    model: Annotated[Optional[str], typer.Option(help="Checkpoint dir or hf-hub: id (default: <data>/models/tiny).")] = None,
    preset: Annotated[str, typer.Option(help="Preset of a released checkpoint (a `vita train` one knows its own).")] = "tiny",
    workers: Annotated[Optional[int], typer.Option(help="Worker processes to start (env VITA_WORKERS).")] = None,
    batch_size: Annotated[int, typer.Option(help="Media per task.")] = 16,
    start_workers: Annotated[bool, typer.Option(help="Start our own workers (--no-start-workers: use running ones).")] = True,
    eager: Annotated[bool, typer.Option(help="Embed in this process, no broker (debugging).")] = False,
    retry_failed: Annotated[bool, typer.Option(help="Try again the media that failed before.")] = False,
    limit: Annotated[Optional[int], typer.Option(help="At most this many media this run (a trial; the rest next run).")] = None,
) -> None:
    """Embed every media item not yet indexed for this model into the vector store (Celery workers)."""
    from indexer.store import StoreError
    from workers.indexing import run_index

    s = settings_mod.get_settings()
    ref = model or str(_default_model())
    columns = [SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn()]
    try:
        with _catalog() as cat, Progress(*columns, console=err) as bar:
            task = bar.add_task("index", total=None)
            report = run_index(cat, s, ref, preset=preset, batch_size=batch_size, workers=workers,
                               start_workers=start_workers, eager=eager, retry_failed=retry_failed, limit=limit,
                               progress=lambda done, total: bar.update(task, completed=done, total=total))
    except (FileNotFoundError, StoreError, ValueError, RuntimeError) as exc:
        raise _fail(str(exc)) from None
    t = Table(show_header=False, title=f"index {report.media_collection}")
    for k in ("planned", "indexed", "failed", "points", "taxa_points", "redispatched"):
        t.add_row(k, str(getattr(report, k)))
    t.add_row("seconds", f"{report.seconds:.1f}")
    console.print(t)
    if report.failures:
        _print_failures(report.failures, report.failed, "vita catalog failures --source index")
        raise typer.Exit(1)


def _filters(cls: list[str] | None, order: list[str] | None, family: list[str] | None, genus: list[str] | None,
             species: list[str] | None, trait: list[str] | None, license: list[str] | None,
             source: list[str] | None, date_from: Optional[str], date_to: Optional[str], bbox: Optional[str]) -> Any:
    import datetime as dt

    from catalog.traits import ALL_LABELS
    from indexer.filters import BBox, Filter

    flt = Filter()
    for key, values in (("class", cls), ("order", order), ("family", family), ("genus", genus),
                        ("species", species), ("license", license), ("source", source)):
        if values:
            flt.add(key, *values)
    for t in trait or []:
        cat_key, _, label = t.partition("=")
        if (cat_key, label) not in ALL_LABELS:
            raise _fail(f"--trait {t!r}: want category=label, e.g. activity=nocturnal or habitat=wetland")
        flt.add("traits", t)
    try:
        flt.date_from = dt.date.fromisoformat(date_from) if date_from else None
        flt.date_to = dt.date.fromisoformat(date_to) if date_to else None
        flt.bbox = BBox.parse(bbox) if bbox else None
    except ValueError as exc:
        raise _fail(str(exc)) from None
    return flt


def _searcher(cat: Catalog) -> Any:
    from indexer.search import Searcher
    from indexer.store import StoreError

    try:
        return Searcher(cat, settings_mod.get_settings())
    except StoreError as exc:
        raise _fail(str(exc)) from None


class TargetOpt(str, Enum):
    audio = "audio"
    image = "image"
    text = "text"
    any = "any"


class GroupOpt(str, Enum):
    none = "none"
    species = "species"
    recording = "recording"


@app.command("search")
def search_cmd(
    text: Annotated[Optional[str], typer.Argument(help="Free text, e.g. 'nocturnal Hylidae calls'.")] = None,
    audio: Annotated[Optional[Path], typer.Option(help="A sound to search with.")] = None,
    image: Annotated[Optional[Path], typer.Option(help="A photo to search with.")] = None,
    media_id: Annotated[Optional[list[int]], typer.Option(help="More like these indexed media.")] = None,
    target: Annotated[Optional[TargetOpt], typer.Option(help="What to find (default: from the text, else any).")] = None,
    cls: Annotated[Optional[list[str]], typer.Option("--class", help="Class (repeatable: any of).")] = None,
    order: Annotated[Optional[list[str]], typer.Option(help="Order.")] = None,
    family: Annotated[Optional[list[str]], typer.Option(help="Family.")] = None,
    genus: Annotated[Optional[list[str]], typer.Option(help="Genus.")] = None,
    species: Annotated[Optional[list[str]], typer.Option(help="Species (scientific name).")] = None,
    trait: Annotated[Optional[list[str]], typer.Option(help="category=label, e.g. habitat=wetland.")] = None,
    license: Annotated[Optional[list[str]], typer.Option(help="Licence code, e.g. cc-by.")] = None,
    source: Annotated[Optional[list[str]], typer.Option(help="Source: demo, folder, inat, xc.")] = None,
    date_from: Annotated[Optional[str], typer.Option(help="Observed on or after (YYYY-MM-DD).")] = None,
    date_to: Annotated[Optional[str], typer.Option(help="Observed on or before (YYYY-MM-DD).")] = None,
    bbox: Annotated[Optional[str], typer.Option(help="south,west,north,east in degrees.")] = None,
    k: Annotated[int, typer.Option("-k", "--top", help="How many results.")] = 10,
    group_by: Annotated[GroupOpt, typer.Option(help="One hit per species or per recording.")] = GroupOpt.none,
    literal: Annotated[bool, typer.Option(help="Embed the text as it is; read no filters from it.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Search sounds, photos and taxa with text, a sound, a photo or indexed media."""
    from indexer.search import GroupBy, QueryError, SearchRequest, Target

    flt = _filters(cls, order, family, genus, species, trait, license, source, date_from, date_to, bbox)
    req = SearchRequest(text=text, audio=audio, image=image, media_ids=media_id or [],
                        target=Target(target.value) if target else None, filters=flt, k=k,
                        group_by=GroupBy(group_by.value), parse=not literal)
    with _catalog() as cat:
        searcher = _searcher(cat)
        try:
            resp = searcher.search(req)
        except QueryError as exc:
            raise _fail(str(exc)) from None
        finally:
            searcher.close()
    if as_json:
        _json({"target": resp.target.value, "query_kind": resp.query_kind, "embedded_text": resp.embedded_text,
               "filters": asdict(resp.filters),
               "interpretation": asdict(resp.interpretation) if resp.interpretation else None,
               "results": [asdict(r) for r in resp.results]})
        return
    if resp.interpretation and resp.interpretation.matches:
        console.print("understood: " + ", ".join(f"[cyan]{m.field}[/cyan]={m.value}"
                                                for m in resp.interpretation.matches)
                      + (f"; embedded: {resp.embedded_text!r}" if resp.embedded_text else ""))
    t = Table("score", "kind", "species / taxon", "common name", "family", "at", "licence", "rights holder", "media",
              title=f"{len(resp.results)} results ({resp.target.value})")
    for r in resp.results:
        at = f"{r.offset_s:.0f} s" if r.offset_s is not None and r.modality == "audio" else ""
        t.add_row(f"{r.score:.3f}", r.modality if not r.rank else f"{r.rank}", r.species or r.name or "",
                  r.common_name or "", r.lineage.get("family", ""), at, r.license or "", r.rights_holder or "",
                  str(r.media_id or ""))
    console.print(t)


@app.command("traits")
def traits_cmd(
    species: Annotated[Optional[str], typer.Option(help="A species (scientific or common name).")] = None,
    audio: Annotated[Optional[Path], typer.Option(help="Predict from this sound.")] = None,
    image: Annotated[Optional[Path], typer.Option(help="Predict from this photo.")] = None,
    media_id: Annotated[Optional[list[int]], typer.Option(help="Predict for indexed media.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Known traits of a species, or traits predicted for a sound or photo (probes and nearest species)."""
    from indexer.search import QueryError
    from indexer.traitlookup import predict_traits, species_traits

    if sum(x is not None for x in (species, audio, image, media_id)) != 1:
        raise _fail("give exactly one of --species, --audio, --image, --media-id")
    with _catalog() as cat:
        searcher = _searcher(cat)
        try:
            report = (species_traits(searcher, species) if species else
                      predict_traits(searcher, audio=audio, image=image, media_ids=media_id))
        except (QueryError, SpeciesNotFound) as exc:
            raise _fail(str(exc)) from None
        finally:
            searcher.close()
    if as_json:
        _json(asdict(report))
        return
    console.print(f"[bold]{report.query}[/bold]" + (f"  species: {report.species}" if report.species else ""))
    if report.nearest_species:
        console.print("nearest species: " + ", ".join(f"{sp} ({s:.2f})" for sp, s in report.nearest_species[:5]))
    t = Table("trait", "known", "probes", "nearest species vote", title="traits")
    from catalog.traits import CATEGORIES

    def top(preds: dict[str, list[tuple[str, float]]], key: str) -> str:
        return ", ".join(f"{lab} {p:.2f}" for lab, p in preds.get(key, [])[:2])

    for c in CATEGORIES:
        t.add_row(c.key, ", ".join(report.known.get(c.key, [])), top(report.probes, c.key), top(report.neighbours, c.key))
    console.print(t)
    for note in report.notes:
        console.print(f"[dim]{note}[/dim]")


@app.command("serve")
def serve_cmd(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8501,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
) -> None:
    """The search UI (Streamlit). With the embedded store it owns the index while it runs."""
    from search_ui.state import MAX_UPLOAD_MB

    s = settings_mod.get_settings()
    if not (s.index_dir / "aliases.json").exists() and not s.qdrant_url:
        raise _fail(f"no index in {s.index_dir}; run `vita index` first")
    script = Path(__file__).resolve().parent.parent / "search_ui" / "app.py"
    env = {**os.environ, "VITA_DATA_DIR": str(s.data_dir.resolve()), "VITA_DATABASE_URL": s.resolved_database_url}
    console.print(f"VITA Search UI: [bold]http://{host}:{port}[/bold] (Ctrl-C stops it)")
    cmd = [sys.executable, "-m", "streamlit", "run", str(script), "--server.address", host, "--server.port",
           str(port), "--server.headless", "true", "--server.maxUploadSize", str(MAX_UPLOAD_MB),
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
           "--client.toolbarMode", "minimal"]
    sys.stdout.flush()
    os.execve(sys.executable, cmd, env)  # this process becomes the server: stopping it stops the UI


# ---------------------------------------------------------------- benchmarks


def _ints(text: str, what: str) -> list[int]:
    try:
        return [int(v.replace("_", "")) for v in text.split(",") if v.strip()]
    except ValueError:
        raise _fail(f"{what}: want comma-separated integers, got {text!r}") from None


def _variants(text: str) -> list[str]:
    """Ablation variant names; 'random' stands for 'all, random order' (a comma in a name)."""
    from bench.zeroshot import ABLATION

    names = ["all, random order" if v.strip() == "random" else v.strip() for v in text.split(",") if v.strip()]
    bad = [v for v in names if v not in ABLATION]
    if bad:
        raise _fail(f"--ablation-variants: unknown {', '.join(bad)}; known: com, sci, tax, sci+com, tax+com, all, random")
    return names


@app.command("bench")
def bench_cmd(
    suite: Annotated[str, typer.Argument(help="retrieval | zeroshot | traits | speed | all")],
    preset: Annotated[str, typer.Option(help="Encoder preset; the model defaults to <data>/models/<preset>.")] = "tiny",
    model: Annotated[Optional[Path], typer.Option(help="Encoder checkpoint directory.")] = None,
    run: Annotated[Optional[str], typer.Option(help="Run name (default: a timestamp).")] = None,
    out: Annotated[Path, typer.Option(help="Results root; the run lands in <out>/<run>/.")] = Path("bench/results"),
    seed: Annotated[int, typer.Option(help="Seed of the retrieval tasks and the ablation runs.")] = 0,
    ways: Annotated[int, typer.Option(help="Candidates per retrieval task (BioVITA: 100).")] = 100,
    max_tasks: Annotated[int, typer.Option(help="At most this many tasks per retrieval scenario.")] = 300,
    tasks: Annotated[Optional[Path], typer.Option(help="A saved task file (compare models on the same tasks).")] = None,
    prompt: Annotated[str, typer.Option(help="Text prompt of retrieval's text side: com sci tax sci+com tax+com.")] = "com",
    ablation: Annotated[bool, typer.Option(help="Train and compare the prompt-ablation models (zeroshot).")] = True,
    ablation_epochs: Annotated[int, typer.Option(help="Stage-1 epochs per ablation model.")] = 6,
    ablation_max_steps: Annotated[Optional[int], typer.Option(help="At most this many steps per ablation "
                                                                   "epoch (smoke runs).")] = None,
    ablation_seeds: Annotated[Optional[str], typer.Option(help="Train each ablation variant once per seed "
                                                                "(e.g. 0,1,2; default: --seed).")] = None,
    ablation_variants: Annotated[Optional[str], typer.Option(help="Only these variants, comma-separated "
                                                                   "(com sci tax sci+com tax+com all; 'all, random order' "
                                                                   "as random).")] = None,
    ablation_stage2_epochs: Annotated[int, typer.Option(help="Also run stage 2 for this many epochs after "
                                                             "each ablation model's stage 1 (the whole recipe).")] = 0,
    sizes: Annotated[str, typer.Option(help="Collection sizes for the query benchmark.")] = "10000,100000",
    queries: Annotated[int, typer.Option(help="Queries per size and filter.")] = 200,
    index_clips: Annotated[int, typer.Option(help="Clips for the indexing benchmark.")] = 240,
    index_workers: Annotated[str, typer.Option(help="Worker counts for the indexing benchmark.")] = "1,2",
) -> None:
    """Benchmarks: BioVITA Bench retrieval, AnimalCLAP zero-shot and ablation, traits, speed.

    Writes <suite>.json, <suite>.md and PNG plots under <out>/<run>/ (and points <out>/latest at it).
    """
    from bench import Suite
    from bench.results import BenchRun
    from bench.run import BenchConfig, run_retrieval, run_speed, run_traits, run_zeroshot
    from training.prompts import Template

    try:
        chosen = Suite(suite)
        tpl = Template(prompt)
    except ValueError as exc:
        raise _fail(f"{exc}; suites: {', '.join(s.value for s in Suite)}; prompts: "
                    f"{', '.join(t.value for t in Template)}") from None
    s = settings_mod.get_settings()
    ckpt = model or s.data_dir / "models" / preset
    if not ckpt.exists():
        raise _fail(f"no encoder at {ckpt}; run `vita train --preset {preset}` (or `make demo`) first, or pass --model")
    cfg = BenchConfig(model=ckpt, data_dir=s.data_dir, seed=seed, ways=ways, max_tasks=max_tasks, tasks=tasks,
                      prompt=tpl, ablation_epochs=ablation_epochs, ablation=ablation,
                      ablation_max_steps=ablation_max_steps,
                      ablation_seeds=_ints(ablation_seeds, "--ablation-seeds") if ablation_seeds else None,
                      ablation_variants=_variants(ablation_variants) if ablation_variants else None,
                      ablation_stage2_epochs=ablation_stage2_epochs, sizes=_ints(sizes, "--sizes"), queries=queries,
                      index_clips=index_clips, index_workers=_ints(index_workers, "--index-workers"))
    bench_run = BenchRun(out, run) if run else BenchRun(out)
    suites = [x for x in Suite if x is not Suite.ALL] if chosen is Suite.ALL else [chosen]
    columns = [SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn()]
    with _catalog() as cat, Progress(*columns, console=err, transient=True) as bar:
        bars: dict[str, Any] = {}

        def progress(label: str, done: int, total: int) -> None:
            if label not in bars:
                bars[label] = bar.add_task(label, total=total)
            bar.update(bars[label], completed=done)

        def log(msg: str) -> None:
            bar.console.print(msg)

        for one in suites:
            log(f"[bold]bench {one.value}[/bold] -> {bench_run.dir}")
            try:
                if one is Suite.RETRIEVAL:
                    run_retrieval(cat, cfg, bench_run, log)
                elif one is Suite.ZEROSHOT:
                    run_zeroshot(cat, cfg, bench_run, log, progress)
                elif one is Suite.TRAITS:
                    run_traits(cat, cfg, bench_run, log)
                else:
                    run_speed(cat, cfg, bench_run, s, log)
            except (FileNotFoundError, ValueError) as exc:
                raise _fail(f"bench {one.value}: {exc}") from None
    for one in suites:
        md = bench_run.dir / f"{one.value}.md"
        if md.is_file():
            console.rule(f"{one.value}: {md}")
            console.print(md.read_text(), markup=False, highlight=False)


# ---------------------------------------------------------------- demo


@app.command("demo")
def demo(
    size: Annotated[DemoSizeOpt, typer.Option(help="Demo world size.")] = DemoSizeOpt.default,
    train: Annotated[bool, typer.Option(help="Train the tiny model if <data>/models/tiny is missing.")] = True,
    serve: Annotated[bool, typer.Option(help="End by serving the search UI on 127.0.0.1:8501.")] = True,
) -> None:
    """The main job on the embedded default: build the demo world, train the tiny model once, index it."""
    console.rule("VITA demo world (real taxonomy, SYNTHETIC media)")
    report = run_ingest(*_demo_source(size.value, 0))
    with _catalog() as cat:
        print_stats(cat.stats())
    model_dir = settings_mod.get_settings().data_dir / "models" / "tiny"
    if train and not (model_dir / "vita_config.json").is_file():
        console.rule("training the tiny model (about 12 minutes on 2 CPU cores; once)")
        train_cmd(preset="tiny", stage=None, name="tiny", epochs=0, init=None, template=None, random_order=False,
                  max_steps=None, seed=0)
    elif train:
        console.print(f"tiny model: {model_dir} (delete it to retrain)")
    if train and (model_dir / "vita_config.json").is_file():
        console.rule("indexing into the embedded vector store (Celery workers, no server)")
        index_cmd(model=str(model_dir), preset="tiny", workers=None, batch_size=16, start_workers=True,
                  eager=False, retry_failed=False, limit=None)
        console.rule('vita search "nocturnal Hylidae calls" -k 5')
        search_cmd(text="nocturnal Hylidae calls", audio=None, image=None, media_id=None, target=None, cls=None,
                   order=None, family=None, genus=None, species=None, trait=None, license=None, source=None,
                   date_from=None, date_to=None, bbox=None, k=5, group_by=GroupOpt.species, literal=False,
                   as_json=False)
    console.print("Try: [bold]vita search \"Strigidae photos\"[/bold], [bold]vita search --audio FILE "
                  "--target image[/bold], [bold]vita traits --species \"Hyla versicolor\"[/bold]")
    if serve and train and (model_dir / "vita_config.json").is_file():
        console.rule("the search UI")
        serve_cmd(port=8501, host="127.0.0.1")
    _exit_for(report)


if __name__ == "__main__":
    app()
