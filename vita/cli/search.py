"""`vita index`, `vita search`, `vita traits`, `vita serve`: fill the vector store and query it."""

from __future__ import annotations

import datetime as dt
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from catalog.errors import ConfigError
from encoders.config import DEFAULT_PRESET
from indexer.filters import BBox, Filter
from indexer.hybrid import Ranking
from indexer.search import GroupBy, SearchRequest, SearchResponse, Target
from vita.cli.common import (
    JsonOpt,
    PresetOpt,
    console,
    default_model,
    emit_json,
    err,
    fail,
    open_catalog,
    print_failures,
    progress_bars,
    settings,
    summary,
)

if TYPE_CHECKING:
    from workers.indexing import IndexOptions, IndexReport

ListOpt = list[str] | None


def index(model: str | None = None, options: IndexOptions | None = None) -> IndexReport:
    """`run_index` with a progress bar and the summary table; exit 1 when some media failed."""
    from workers.indexing import IndexOptions, run_index

    o = options or IndexOptions()
    s = settings()
    with open_catalog() as cat, progress_bars() as update:
        report = run_index(cat, s.index_config(o.workers), default_model(model, o.preset), o,
                           progress=lambda done, total: update("index", done, total),
                           notice=lambda line: console.print(f"[yellow]{line}[/yellow]"))
    summary(f"index {report.media_collection}",
            [*((k, getattr(report, k)) for k in ("planned", "indexed", "failed", "points", "taxa_points", "redispatched")),
             ("seconds", f"{report.seconds:.1f}"),
             *((("start-up s (workers, model, first batch)", f"{report.startup_s:.1f}"),
                ("steady media/s", f"{report.steady_per_s:.1f}"),
                ("optimize s", f"{report.optimize_s:.1f}")) if report.steady_per_s else ())])
    if report.failures:
        print_failures(report.failures, report.failed, "vita catalog failures --source index")
    return report


def index_cmd(
    model: Annotated[str | None, typer.Option(help="Checkpoint dir, hf-hub: id or preset:field (default: "
                                                   "<data>/models/<preset>; for field, its untrained adapters).")] = None,
    preset: PresetOpt = DEFAULT_PRESET,
    workers: Annotated[int | None, typer.Option(help="Worker processes to start (env VITA_WORKERS).")] = None,
    batch_size: Annotated[int, typer.Option(help="Media per task (64: best for tiny on CPU, bench/results/index-speed).")] = 64,
    start_workers: Annotated[bool, typer.Option(help="Start our own workers (--no-start-workers: use running ones).")] = True,
    eager: Annotated[bool, typer.Option(help="Embed in this process, no broker (debugging).")] = False,
    retry_failed: Annotated[bool, typer.Option(help="Try again the media that failed before.")] = False,
    limit: Annotated[int | None, typer.Option(help="At most this many media this run (a trial; the rest next run).")] = None,
    check: Annotated[bool, typer.Option("--check", help="Index nothing: compare the catalog's entries with the "
                                                        "store's points, and repair what disagrees.")] = False,
) -> None:
    """Embed every media item not yet indexed for this model into the vector store (Celery workers)."""
    if check:
        check_index()
        return
    from workers.indexing import IndexOptions

    report = index(model, IndexOptions(preset=preset, workers=workers, batch_size=batch_size,
                                       start_workers=start_workers, eager=eager, retry_failed=retry_failed,
                                       limit=limit))
    if report.failures:
        raise typer.Exit(1)


def check_index() -> None:
    """`vita index --check`: every media collection against the catalog; disagreements repaired
    (their points and entries dropped) so that the next `vita index` redoes exactly those media."""
    from indexer.store import open_store
    from workers.check import check, media_collections

    s = settings()
    with open_catalog() as cat, open_store(s.store_config()) as store:
        names = media_collections(cat, store)
        if not names:
            console.print("nothing indexed yet: `vita index`")
        for name in names:
            r = check(cat, store, name)
            summary(f"check {name}", [("media indexed (catalog)", r.entries), ("points (store)", r.points),
                                      ("media that agree", r.agree),
                                      ("points of media the catalog does not list", sum(r.unknown_points.values())),
                                      ("media with missing or extra points", len(r.short))])
            if r.repaired:
                console.print(f"[yellow]repaired {r.disagreements} media (their points and entries dropped): "
                              f"run `vita index` to index them again[/yellow]")
            else:
                console.print("[green]catalog and store agree[/green]")


def filters(cls: ListOpt = None, order: ListOpt = None, family: ListOpt = None, genus: ListOpt = None,
            species: ListOpt = None, trait: ListOpt = None, license: ListOpt = None, source: ListOpt = None,
            date_from: str | None = None, date_to: str | None = None, bbox: str | None = None) -> Filter:
    """The search filter from the command line's options; a bad value is a `VitaError`."""
    from catalog.traits import keyword, split_keyword

    flt = Filter()
    for key, values in (("class", cls), ("order", order), ("family", family), ("genus", genus),
                        ("species", species), ("license", license), ("source", source)):
        if values:
            flt.add(key, *values)
    for t in trait or []:
        flt.add("traits", keyword(*split_keyword(t)))
    try:
        flt.date_from = dt.date.fromisoformat(date_from) if date_from else None
        flt.date_to = dt.date.fromisoformat(date_to) if date_to else None
    except ValueError as exc:
        raise ConfigError(f"date: {exc}") from None
    flt.bbox = BBox.parse(bbox) if bbox else None
    return flt


def search(req: SearchRequest) -> SearchResponse:
    """Through a running `vita api` on this data directory when there is one (its model is warm),
    else here."""
    from vita.cli.remote import running_api
    from vita.cli.remote import search as remote_search

    s = settings()
    url = running_api(s.data_dir)
    if url is not None:
        return remote_search(url, req, s.api_key.get_secret_value() if s.api_key else None)
    from indexer.search.facade import Searcher

    with open_catalog() as cat, Searcher(cat, s.store_config(), s.corpus) as searcher:
        return searcher.search(req)


def print_response(resp: SearchResponse) -> None:
    interp = resp.interpretation
    if interp and interp.matches:
        console.print("understood: " + ", ".join(f"[cyan]{m.field}[/cyan]={m.value}" for m in interp.matches)
                      + (f"; embedded: {resp.embedded_text!r}" if resp.embedded_text else ""))
    for c in interp.choices if interp else []:
        taken = f"; took {c.chosen}" if c.chosen else "; took none (give one as a filter)"
        console.print(f"{c.phrase!r} could be: {' | '.join(c.options)}{taken}", markup=False)
    if resp.notice:
        console.print(f"[bold yellow]{escape(resp.notice)}[/bold yellow]")
    if resp.identified:
        console.print("identified: " + ", ".join(f"{r} {n} {p:.2f}" for r, n, p in resp.identified[:4])
                      + f" (from {', '.join(resp.evidence)})", markup=False)
    t = Table("score", "kind", "species / taxon", "common name", "family", "at", "licence", "rights holder", "media", "why",
              title=f"{len(resp.results)} results ({resp.target.value})")
    t.columns[6].no_wrap = True  # the licence whole
    for r in resp.results:
        at = f"{r.offset_s:.0f} s" if r.offset_s is not None and r.modality == "audio" else ""
        taxon = r.species or (f"{r.name} ({r.identified_to})" if r.identified_to else r.name or "")
        t.add_row(f"{r.score:.3f}", r.modality if not r.rank else f"{r.rank}", taxon,
                  r.common_name or "", r.lineage.get("family", ""), at, r.license or "", r.rights_holder or "",
                  str(r.media_id or ""), r.why or "")
    console.print(t)


def search_cmd(
    text: Annotated[str | None, typer.Argument(help="Free text, e.g. 'nocturnal Hylidae calls'.")] = None,
    audio: Annotated[Path | None, typer.Option(help="A sound to search with.")] = None,
    image: Annotated[Path | None, typer.Option(help="A photo to search with.")] = None,
    media_id: Annotated[list[int] | None, typer.Option(help="More like these indexed media.")] = None,
    target: Annotated[Target | None, typer.Option(help="What to find (default: from the text, else any).")] = None,
    cls: Annotated[ListOpt, typer.Option("--class", help="Class (repeatable: any of).")] = None,
    order: Annotated[ListOpt, typer.Option(help="Order.")] = None,
    family: Annotated[ListOpt, typer.Option(help="Family.")] = None,
    genus: Annotated[ListOpt, typer.Option(help="Genus.")] = None,
    species: Annotated[ListOpt, typer.Option(help="Species (scientific name).")] = None,
    trait: Annotated[ListOpt, typer.Option(help="category=label, e.g. habitat=wetland.")] = None,
    license: Annotated[ListOpt, typer.Option(help="Licence code, e.g. cc-by.")] = None,
    source: Annotated[ListOpt, typer.Option(help="Source: demo, folder, inat, xc.")] = None,
    date_from: Annotated[str | None, typer.Option(help="Observed on or after (YYYY-MM-DD).")] = None,
    date_to: Annotated[str | None, typer.Option(help="Observed on or before (YYYY-MM-DD).")] = None,
    bbox: Annotated[str | None, typer.Option(help="south,west,north,east in degrees.")] = None,
    k: Annotated[int, typer.Option("-k", "--top", help="How many results.")] = 10,
    group_by: Annotated[GroupBy, typer.Option(help="One hit per species or per recording.")] = GroupBy.NONE,
    literal: Annotated[bool, typer.Option(help="Embed the text as it is; read no filters from it.")] = False,
    rank: Annotated[Ranking, typer.Option(help="Sound, photo and media queries: hybrid (what the model's heads and "
                                                "the labelled neighbours say the query is, fused with similarity) "
                                                "or embedding (similarity alone).")] = Ranking.HYBRID,
    as_json: JsonOpt = False,
) -> None:
    """Search sounds, photos and taxa with text, a sound, a photo or indexed media."""
    flt = filters(cls, order, family, genus, species, trait, license, source, date_from, date_to, bbox)
    resp = search(SearchRequest(text=text, audio=audio, image=image, media_ids=media_id or [], target=target,
                                filters=flt, k=k, group_by=group_by, parse=not literal, rank=rank))
    if as_json:
        emit_json({"target": resp.target.value, "query_kind": resp.query_kind, "embedded_text": resp.embedded_text,
                   "filters": asdict(resp.filters), "no_good_match": resp.no_good_match, "notice": resp.notice,
                   "ranking": resp.ranking.value, "evidence": resp.evidence, "identified": resp.identified,
                   "interpretation": asdict(resp.interpretation) if resp.interpretation else None,
                   "results": [asdict(r) for r in resp.results]})
        return
    print_response(resp)


def traits_cmd(
    species: Annotated[str | None, typer.Option(help="A species (scientific or common name).")] = None,
    audio: Annotated[Path | None, typer.Option(help="Predict from this sound.")] = None,
    image: Annotated[Path | None, typer.Option(help="Predict from this photo.")] = None,
    media_id: Annotated[list[int] | None, typer.Option(help="Predict for indexed media.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Known traits of a species, or traits predicted for a sound or photo (probes and nearest species)."""
    from catalog.traits import CATEGORIES
    from indexer.traitlookup import predict_traits, species_traits

    if sum(x is not None for x in (species, audio, image, media_id)) != 1:
        raise fail("give exactly one of --species, --audio, --image, --media-id")
    s = settings()
    from indexer.search.facade import Searcher

    with open_catalog() as cat, Searcher(cat, s.store_config(), s.corpus) as searcher:
        report = (species_traits(searcher, species) if species else
                  predict_traits(searcher, audio=audio, image=image, media_ids=media_id))
    if as_json:
        emit_json(asdict(report))
        return
    named = report.species and report.species not in report.query  # "species Hyla versicolor" names it already
    console.print(f"[bold]{report.query}[/bold]" + (f"  species: {report.species}" if named else ""))
    if report.nearest_species:
        console.print("nearest species: " + ", ".join(f"{sp} ({s:.2f})" for sp, s in report.nearest_species[:5]))
    t = Table("trait", "known", "probes", "nearest species vote", title="traits")

    def top(preds: dict[str, list[tuple[str, float]]], key: str) -> str:
        return ", ".join(f"{lab} {p:.2f}" for lab, p in preds.get(key, [])[:2])

    for c in CATEGORIES:
        t.add_row(c.key, ", ".join(report.known.get(c.key, [])), top(report.probes, c.key), top(report.neighbours, c.key))
    console.print(t)
    for note in report.notes:
        console.print(f"[dim]{note}[/dim]")


def serve_cmd(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8501,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
) -> None:
    """The search UI (Streamlit). With the embedded store it owns the index while it runs."""
    from search_ui.state import MAX_UPLOAD_MB

    s = settings()
    if not (s.index_dir / "aliases.json").exists() and not s.qdrant_url:  # start anyway: the pages say what to do
        err.print(f"[yellow]nothing indexed yet in {s.index_dir}[/yellow]: the UI opens and shows how to build "
                  "the index (`vita index`); reload it afterwards")
    script = Path(__file__).resolve().parents[2] / "search_ui" / "app.py"
    console.print(f"VITA Search UI: [bold]http://{host}:{port}[/bold] (Ctrl-C stops it)")
    cmd = [sys.executable, "-m", "streamlit", "run", str(script), "--server.address", host, "--server.port",
           str(port), "--server.headless", "true", "--server.maxUploadSize", str(MAX_UPLOAD_MB),
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
           "--client.toolbarMode", "minimal"]
    sys.stdout.flush()
    os.execve(sys.executable, cmd, {**os.environ, **s.to_env()})  # this process becomes the server


def register(app: typer.Typer) -> None:
    app.command("index")(index_cmd)
    app.command("search")(search_cmd)
    app.command("traits")(traits_cmd)
    app.command("serve")(serve_cmd)
