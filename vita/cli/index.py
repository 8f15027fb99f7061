"""`vita index`: fill the vector store with the catalog's media (Celery workers), or check it
against the catalog (`--check`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from encoders.config import DEFAULT_PRESET
from vita.cli.common import (
    PresetOpt,
    console,
    default_model,
    open_catalog,
    print_failures,
    progress_bars,
    settings,
    summary,
)

if TYPE_CHECKING:
    from workers.indexing import IndexOptions, IndexReport


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


def register(app: typer.Typer) -> None:
    app.command("index")(index_cmd)
