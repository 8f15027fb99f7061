"""`vita annotate add|list|import|export`: labels on windows of media items (`catalog.annotations`)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from catalog.annotations import add, export_csv, import_csv, listed
from catalog.tables import AnnotationSource
from vita.cli.common import JsonOpt, console, emit_json, err, open_catalog, typer_app

app = typer_app("Label windows of media items (yes/no per label), for agile classifiers and export.")
LabelOpt = Annotated[str | None, typer.Option(help="Only this label.")]


@app.command("add")
def add_cmd(
    media_id: Annotated[list[int], typer.Argument(help="Media ids (as search results show them).")],
    label: Annotated[str, typer.Option(help="The label, e.g. a species or a call type.")],
    negative: Annotated[bool, typer.Option("--no", help="The label is absent here (a negative).")] = False,
    offset: Annotated[float, typer.Option(help="Window start in seconds.")] = 0.0,
    duration: Annotated[float | None, typer.Option(help="Window length in seconds (default: the model's).")] = None,
) -> None:
    """Say yes (or --no) to LABEL on these media items' window at --offset."""
    with open_catalog() as cat, cat.sessions() as s:
        for m in media_id:
            add(s, m, label, not negative, offset, duration, AnnotationSource.CLI)
        s.commit()
    console.print(f"{len(media_id)} {'negative' if negative else 'positive'} annotation(s) of {label!r}")


@app.command("list")
def list_cmd(label: LabelOpt = None, as_json: JsonOpt = False) -> None:
    """Every annotation (or one label's), oldest first."""
    with open_catalog() as cat, cat.sessions() as s:
        rows = listed(s, label)
    if as_json:
        emit_json([asdict(r) for r in rows])
        return
    t = Table("id", "media", "offset s", "label", "yes/no", "source", "file", title=f"annotations ({len(rows)})")
    for r in rows:
        t.add_row(str(r.id), str(r.media_id), f"{r.offset_s:g}", r.label, "yes" if r.positive else "no", r.source,
                  Path(r.path).name)
    console.print(t)


@app.command("import")
def import_cmd(csv_file: Annotated[Path, typer.Argument(help="media_id,offset_s,duration_s,label,positive[,source]")]) -> None:
    """Add the annotations of a CSV; bad rows are listed with their line and reason, the rest are added."""
    with open_catalog() as cat, cat.sessions() as s:
        added, bad = import_csv(s, csv_file)
    console.print(f"{csv_file}: {added} annotation(s) added, {len(bad)} row(s) refused")
    for line, reason in bad:
        err.print(f"  line {line}: {reason}")
    if bad:
        raise typer.Exit(1)


@app.command("export")
def export_cmd(out: Annotated[Path, typer.Argument(help="CSV file to write.")], label: LabelOpt = None) -> None:
    """Write the annotations (or one label's) as CSV, with each item's file."""
    with open_catalog() as cat, cat.sessions() as s:
        rows = listed(s, label)
    export_csv(rows, out)
    console.print(f"{len(rows)} annotation(s) -> {out}")
