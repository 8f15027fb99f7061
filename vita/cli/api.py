"""`vita api`: serve the search engine over HTTP for apps (`vita.api`)."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from catalog.errors import ConfigError
from vita.cli.common import console, settings


def api_cmd(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    max_connections: Annotated[int, typer.Option(help="Above this many open connections, new ones get 503.")] = 64,
    workers: Annotated[int, typer.Option(help="Server processes (with a Qdrant server only: the embedded store "
                                              "has one owner).")] = 1,
    parallel: Annotated[int | None, typer.Option(help="Searches at once per process (default: VITA_API_PARALLEL, "
                                                     "the number of cores).")] = None,
    queue: Annotated[int | None, typer.Option(help="Searches that may wait per process; past them 503 with "
                                                  "Retry-After (default: VITA_API_QUEUE, 32).")] = None,
) -> None:
    """Serve search, identify, traits, species and media as a JSON API (OpenAPI docs at /docs).
    One process: it owns the embedded store and loads the model once; while it runs, `vita search`
    and `vita identify` on the same data directory ask it instead of loading the model again."""
    import uvicorn

    from vita.api.app import make_app
    from vita.cli.remote import announced

    s = settings().model_copy(update={k: v for k, v in (("api_parallel", parallel), ("api_queue", queue))
                                      if v is not None})
    if workers > 1 and not s.qdrant_url:
        raise ConfigError("--workers > 1 needs a Qdrant server (VITA_QDRANT_URL): the embedded store has one owner, "
                          "so one process serves it (its searches still run in parallel: --parallel)")
    console.print(f"loading the index and the model; then serving http://{host}:{port} (docs: /docs)"
                  + ("; API key required" if s.api_key else "; no API key set: reads are open, writes are off"))
    local = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    common: dict[str, Any] = {"host": host, "port": port, "log_level": "warning",
                              "limit_concurrency": max_connections, "timeout_keep_alive": 5}
    with announced(s.data_dir, f"http://{local}:{port}"):  # `vita search` / `identify` use this warm process
        if workers > 1:  # each process builds the app from the same settings, passed as VITA_* variables
            os.environ.update(s.to_env())
            uvicorn.run("vita.api.app:app_from_env", factory=True, workers=workers, **common)
        else:
            uvicorn.run(make_app(s), **common)


def register(root: typer.Typer) -> None:
    root.command("api")(api_cmd)
