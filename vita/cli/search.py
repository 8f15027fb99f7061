"""`vita search`: sounds, photos and taxa by text, a sound, a photo or indexed media (through a
running `vita api` on the same data when there is one)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from catalog.errors import ConfigError
from indexer.filters import BBox, Filter
from indexer.hybrid import Ranking
from indexer.search import GroupBy, SearchRequest, SearchResponse, Target
from vita.cli.common import (
    JsonOpt,
    console,
    emit_json,
    open_catalog,
    settings,
)

ListOpt = list[str] | None


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


def register(app: typer.Typer) -> None:
    app.command("search")(search_cmd)
