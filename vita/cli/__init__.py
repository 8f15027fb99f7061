"""`vita`: the command line, a thin mirror of the Python API (`catalog.facade.Catalog`, `indexer.search`, ...).

One module per command group; `common` holds the settings (built once, in the callback below),
the options declared once, progress bars, and the `VitaError` -> exit 2 rule.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from vita.cli import annotate, api, bench, catalog, classify, demo, identify, index, ingest, search, serve, train, traits
from vita.cli.common import typer_app, use_settings
from vita.settings import Settings

app = typer_app("VITA Search: multimodal search for animal species.")
app.add_typer(ingest.app, name="ingest")
app.add_typer(catalog.app, name="catalog")
app.add_typer(annotate.app, name="annotate")
for group in (train, index, search, traits, serve, identify, bench, demo, classify, api):
    group.register(app)


@app.callback()
def main(
    data_dir: Annotated[Path | None, typer.Option(help="Data directory (env VITA_DATA_DIR).")] = None,
    database_url: Annotated[str | None, typer.Option(help="Catalog database URL (env VITA_DATABASE_URL).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every failure as it happens.")] = False,
) -> None:
    overrides = {k: v for k, v in (("data_dir", data_dir), ("database_url", database_url)) if v is not None}
    use_settings(Settings(**overrides))  # type: ignore[arg-type]  # pydantic-settings takes field names
    logging.basicConfig(level=logging.WARNING if verbose else logging.ERROR, format="%(levelname)s %(message)s")


__all__ = ["app"]
