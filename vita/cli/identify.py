"""`vita identify FILE`: what is this sound or photo? (`indexer.identify.identify`)"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from catalog.errors import VitaError
from indexer.identify import Guess, Identification
from vita.cli.common import JsonOpt, console, default_model, emit_json, fail, open_catalog, settings


def _guesses(title: str, guesses: list[Guess]) -> Table:
    t = Table("species / label", "common name", "score", "family", "known traits", title=title)
    for g in guesses:
        traits = "; ".join(f"{k}={','.join(v)}" for k, v in list(g.traits.items())[:3])
        name = g.name + ("" if g.rank == "species" else f" ({g.rank})")
        t.add_row(name, g.common_name or "", f"{g.score:.3f}", g.lineage.get("family", "" if g.in_catalog else "(not in catalog)"),
                  traits)
    return t


def show(result: Identification) -> None:
    console.print(f"[bold]{result.query}[/bold] ({result.modality})"
                  + (f"  range filter: {result.range_filter}" if result.range_filter else ""))
    if result.head:
        console.print(_guesses(f"{result.head}: the whole file", result.overall))
    if len(result.windows) > 1:
        t = Table("window (s)", "top guesses", title=f"{result.head}: per window")
        for w in result.windows:
            t.add_row(f"{w.offset_s:.1f}-{w.offset_s + w.duration_s:.1f}",
                      ", ".join(f"{g.common_name or g.name} {g.score:.2f}" for g in w.guesses[:3]))
        console.print(t)
    if result.nearest:
        console.print(_guesses("nearest indexed species", result.nearest))
    for note in result.notes:
        console.print(f"[dim]{note}[/dim]")


def identify_cmd(
    file: Annotated[Path, typer.Argument(help="A sound or a photo.")],
    model: Annotated[str | None, typer.Option(help="Model whose head answers (default: the index's model, "
                                                   "else <data>/models/field or preset:field).")] = None,
    lat: Annotated[float | None, typer.Option(help="Latitude: narrow BirdNET's answer to species of the place.")] = None,
    lon: Annotated[float | None, typer.Option(help="Longitude (with --lat).")] = None,
    date: Annotated[str | None, typer.Option(help="Date of the recording, YYYY-MM-DD (with --lat/--lon: the week).")] = None,
    k: Annotated[int, typer.Option("-k", "--k", help="Guesses per answer.")] = 5,
    as_json: JsonOpt = False,
) -> None:
    """What is this? The model's own classifier (field: BirdNET, ImageNet) beside the nearest indexed species."""
    from vita.cli.remote import identify as remote_identify
    from vita.cli.remote import running_api

    when = None
    if date:
        try:
            when = dt.date.fromisoformat(date)
        except ValueError:
            raise fail(f"--date {date!r}: want YYYY-MM-DD") from None
    s = settings()
    url = None if model else running_api(s.data_dir)
    if url is not None:  # a running `vita api` on this data: its model is loaded already
        result = remote_identify(url, file, s.api_key.get_secret_value() if s.api_key else None,
                                 lat=lat, lon=lon, date=date, k=k)
        emit_json(asdict(result)) if as_json else show(result)
        return
    from indexer.identify import identify
    from indexer.model_ref import load_model
    from indexer.search import Searcher

    with open_catalog() as cat:
        searcher: Any = None
        try:
            searcher = Searcher(cat, s.store_config(), s.corpus)
        except VitaError:
            searcher = None  # nothing indexed yet: the head answers alone
        try:
            head = load_model(model) if model else (searcher.model if searcher is not None
                                                    else load_model(default_model(None, "field")))
            if not as_json:
                console.print("[dim]loading the model and identifying ...[/dim]")
            result = identify(cat, file, model=head, searcher=searcher, lat=lat, lon=lon, date=when, k=k)
        finally:
            if searcher is not None:
                searcher.close()
    if as_json:
        emit_json(asdict(result))
    else:
        show(result)


def register(app: typer.Typer) -> None:
    app.command("identify")(identify_cmd)
