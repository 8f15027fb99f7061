"""`vita serve`: the search UI (Streamlit), this process replaced by the server."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from vita.cli.common import console, err, settings


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
    app.command("serve")(serve_cmd)
