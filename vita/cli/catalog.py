"""`vita catalog stats|failures|species|split`: look into the catalog (`catalog.facade.Catalog`)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table

from catalog.queries import CatalogStats
from vita.cli.common import JsonOpt, SeedOpt, console, emit_json, open_catalog, typer_app

app = typer_app("Look into the catalog.")


@app.command("stats")
def catalog_stats(as_json: JsonOpt = False) -> None:
    """Species (seen and unseen) and media per class, splits, licences, sources."""
    with open_catalog() as cat:
        st = cat.stats()
    if as_json:
        emit_json({**asdict(st), "species": st.species, "media": st.media})
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


@app.command("failures")
def catalog_failures(
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    include_resolved: Annotated[bool, typer.Option("--all", help="Include failures fixed by a later run.")] = False,
    limit: Annotated[int | None, typer.Option(help="At most this many rows.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every file or row that could not be ingested, with the stage and the reason."""
    with open_catalog() as cat:
        rows = cat.failures(source, include_resolved, limit)
    if as_json:
        emit_json([asdict(r) for r in rows])
        return
    t = Table("source", "file / item", "stage", "reason", "run", title=f"{len(rows)} failures")
    for r in rows:
        t.add_row(r.source, r.item, r.stage, r.reason + (" [green](resolved)[/green]" if r.resolved else ""),
                  str(r.run_id or ""))
    console.print(t)


@app.command("species")
def catalog_species(
    name: Annotated[str, typer.Argument(help="Scientific or common name.")],
    media_limit: Annotated[int | None, typer.Option(help="Show at most this many media.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Lineage, traits and media (with licences) of one species."""
    with open_catalog() as cat:
        card = cat.species(name, media_limit)
    if as_json:
        emit_json(asdict(card))
        return
    console.print(f"[bold]{card.name}[/bold]" + (f" ({card.common_name})" if card.common_name else "")
                  + (f"  [dim]{card.split_role} species[/dim]" if card.split_role else ""))
    console.print("  " + " > ".join(f"{r} {n}" for r, n in card.lineage.items()))
    t = Table("trait", "values", "source", title="traits")
    for cat_key, values in card.traits.items():
        t.add_row(cat_key, ", ".join(v[0] for v in values), ", ".join(sorted({v[1] for v in values})))
    console.print(t)
    m = Table("id", "kind", "split", "size", "licence", "rights holder", "source id", title=f"{len(card.media)} media")
    m.columns[4].no_wrap = True  # 'cc-by-nc-sa' whole, never 'cc-by-' over 'nc-sa'
    for row in card.media:
        m.add_row(str(row.id), row.kind, row.split or "", row.size, row.license or "?", row.rights_holder or "",
                  f"{row.source}:{row.source_id}")
    console.print(m)


@app.command("split")
def catalog_split(
    seed: SeedOpt = 0,
    unseen_fraction: Annotated[float, typer.Option(help="Share of species held out as unseen.")] = 0.15,
) -> None:
    """Assign splits to species and media that have none (assignments never move)."""
    from catalog.splits import SplitPolicy

    with open_catalog() as cat:
        cat.assign_splits(SplitPolicy(seed=seed, unseen_fraction=unseen_fraction))
        print_stats(cat.stats())
