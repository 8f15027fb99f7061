"""`vita traits`: a species' known traits, or traits predicted for a sound, a photo or indexed media."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from vita.cli.common import JsonOpt, console, emit_json, fail, open_catalog, settings


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


def register(app: typer.Typer) -> None:
    app.command("traits")(traits_cmd)
