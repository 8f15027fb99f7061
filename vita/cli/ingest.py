"""`vita ingest demo|folder|inat|xc`: sources into the catalog (`catalog.facade.Catalog.ingest`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from catalog.ingest import IngestReport
from catalog.sources.base import MediaRecord, Source
from catalog.sources.demo import DemoSize
from catalog.tables import MediaKind
from vita.cli.common import fail, open_catalog, print_failures, settings, summary, typer_app
from vita.cli.common import progress_bars as _bars

app = typer_app("Add taxa, traits and media to the catalog.")


def ingest(source: Source, expected: int | None = None) -> IngestReport:
    """Run one ingest with a progress bar and print its summary; every source goes through here."""
    counts = {"added": 0, "skipped": 0, "duplicate": 0, "failed": 0}
    with open_catalog() as cat, _bars() as update:
        seen = 0

        def progress(outcome: str, record: MediaRecord | None) -> None:
            nonlocal seen
            if outcome in counts:
                counts[outcome] += 1
            if record is not None or outcome == "failed":
                seen += 1
                update(f"ingest {source.name}", seen, expected,
                       " ".join(f"{k} {v}" for k, v in counts.items() if v))

        report = cat.ingest(source, progress)
    print_report(report)
    return report


def print_report(r: IngestReport) -> None:
    summary(f"ingest {r.source} (run {r.run_id})",
            [(k, getattr(r, k)) for k in ("taxa", "traits", "added", "skipped", "duplicates", "failed")])
    if r.failures:
        print_failures(r.failures, r.failed, "vita catalog failures")


def exit_for(report: IngestReport) -> None:
    if not report.ok:
        raise typer.Exit(1)


def demo_source(size: str = "small", seed: int = 0) -> tuple[Source, int]:
    """The demo world source and how many media it will yield."""
    from catalog.sources.demo import DemoWorldSource, select_species

    src = DemoWorldSource(settings().media_dir, size, seed)
    p = src.preset
    return src, len(select_species(p)) * (p.audio_per_species + p.images_per_species)


@app.command("demo")
def ingest_demo(
    size: Annotated[DemoSize, typer.Option(help="small: tests, < 30 s; default: the demo, < 3 min; "
                                                "large: 30,400 clips, for speed benchmarks.")] = DemoSize.SMALL,
    seed: Annotated[int, typer.Option(help="World seed; same seed, same files.")] = 0,
) -> None:
    """Build the demo world: real taxonomy and traits, SYNTHETIC sounds and photos."""
    exit_for(ingest(*demo_source(size.value, seed)))


@app.command("folder")
def ingest_folder(
    root: Annotated[Path, typer.Argument(help="Folder of media.")],
    csv: Annotated[Path | None, typer.Option(help="Darwin Core CSV (default: ROOT/metadata.csv).")] = None,
    traits: Annotated[Path | None, typer.Option(help="Optional traits CSV.")] = None,
    name: Annotated[str, typer.Option(help="Source name stored on each media row.")] = "folder",
) -> None:
    """Ingest a folder of sounds and photos described by a Darwin Core CSV."""
    from catalog.sources.folder import FolderSource

    exit_for(ingest(FolderSource(root, csv, traits, source_name=name)))


@app.command("inat")
def ingest_inat(
    taxon: Annotated[str | None, typer.Option(help="Taxon name or iNaturalist taxon id.")] = None,
    place: Annotated[int | None, typer.Option(help="iNaturalist place id.")] = None,
    sounds: Annotated[bool, typer.Option(help="Take sounds.")] = True,
    photos: Annotated[bool, typer.Option(help="Take photos.")] = True,
    max_observations: Annotated[int | None, typer.Option("--max", help="Stop after this many observations.")] = None,
    photo_size: Annotated[str, typer.Option(help="square|small|medium|large|original")] = "medium",
) -> None:
    """Ingest research-grade iNaturalist observations (CC licences only, by default)."""
    from catalog.sources.inat import INatSource

    kinds = [k for k, on in ((MediaKind.AUDIO, sounds), (MediaKind.IMAGE, photos)) if on]
    if not kinds:
        raise fail("nothing to take: both --no-sounds and --no-photos")
    exit_for(ingest(INatSource(settings().fetch_config(), taxon=taxon, place_id=place, kinds=kinds,
                               max_observations=max_observations, photo_size=photo_size)))


@app.command("xc")
def ingest_xc(
    query: Annotated[str | None, typer.Argument(help="Xeno-canto v3 query, e.g. 'gen:Hyla cnt:\"United States\"'.")] = None,
    species: Annotated[str | None, typer.Option(help="Shortcut for sp:\"Genus epithet\".")] = None,
    max_recordings: Annotated[int | None, typer.Option("--max", help="Stop after this many recordings.")] = None,
    resolve: Annotated[bool, typer.Option(help="Look up class..family on iNaturalist.")] = True,
) -> None:
    """Ingest Xeno-canto recordings (key in VITA_XC_KEY); recordist, licence and XC number are kept."""
    from catalog.sources.inat import INatTaxonomy, api_session
    from catalog.sources.xenocanto import XenoCantoSource, species_query

    if not query and not species:
        raise fail("give a query or --species")
    fetch = settings().fetch_config()
    resolver = INatTaxonomy(api_session(fetch.cache_dir, fetch.requests_per_second)) if resolve else None
    exit_for(ingest(XenoCantoSource(fetch, settings().xc_api_key(), query or species_query(species or ""),
                                    max_recordings=max_recordings, resolver=resolver)))


__all__ = ["app", "demo_source", "exit_for", "ingest"]
