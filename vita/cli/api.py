"""`vita api`: serve the search engine over HTTP for apps (`vita.api`)."""

from __future__ import annotations

from typing import Annotated

import typer

from vita.cli.common import console, settings


def api_cmd(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    max_connections: Annotated[int, typer.Option(help="Above this many open connections, new ones get 503.")] = 64,
) -> None:
    """Serve search, identify, traits, species and media as a JSON API (OpenAPI docs at /docs).
    One process: it owns the embedded store and loads the model once; while it runs, `vita search`
    and `vita identify` on the same data directory ask it instead of loading the model again."""
    import uvicorn

    from vita.api.app import make_app
    from vita.cli.remote import announced

    s = settings()
    console.print(f"loading the index and the model; then serving http://{host}:{port} (docs: /docs)"
                  + ("; API key required" if s.api_key else "; no API key set: reads are open, writes are off"))
    local = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    with announced(s.data_dir, f"http://{local}:{port}"):  # `vita search` / `identify` use this warm process
        uvicorn.run(make_app(s), host=host, port=port, log_level="warning", limit_concurrency=max_connections,
                    timeout_keep_alive=5)


def register(root: typer.Typer) -> None:
    root.command("api")(api_cmd)
