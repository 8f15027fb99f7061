"""`vita api`: the search engine over HTTP for apps (a field guide sends a photo and plays back the
species' calls). The same `Searcher` as the UI and the CLI, opened once per process with its model
loaded at start-up; every answer is JSON, every refusal a 4xx with a reason, never a traceback.

Searches share one lock: the embedded store has one owner and the model one forward at a time, so
concurrent requests queue here rather than inside the store. Media files are served from the
catalog's paths by integer id only (no path ever comes from the request), with range requests.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, TypeVar

from fastapi import FastAPI, File, Request, UploadFile
from fastapi import Path as InPath
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from catalog.errors import NotFoundError, VitaError
from catalog.queries import SpeciesNotFound
from indexer.search import Searcher
from indexer.search.request import UnknownTaxon
from vita.api.guard import ApiKey, BodyGuard
from vita.api.routes import router
from vita.api.schemas import (
    MAX_ID,
)
from vita.api.service import Service, reason
from vita.settings import Settings

log = logging.getLogger("vita.api")
T = TypeVar("T")
MediaId = Annotated[int, InPath(ge=1, le=MAX_ID, description="a catalog media id")]
FileArg = Annotated[UploadFile, File(description="A sound or a photo.")]


def _errors(app: FastAPI) -> None:
    def answer(status: int, reason: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"error": reason, "status": status}, status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return answer(422, reason(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return answer(exc.status_code, str(exc.detail), exc.headers)  # e.g. Retry-After on 503

    @app.exception_handler(VitaError)
    async def vita(_: Request, exc: VitaError) -> JSONResponse:
        status = 404 if isinstance(exc, NotFoundError | SpeciesNotFound) else 422 if isinstance(exc, UnknownTaxon) else 400
        return answer(status, str(exc))

    @app.exception_handler(Exception)
    async def bug(_: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error")
        return answer(500, f"internal error ({type(exc).__name__}); the server log has the details")


def make_app(settings: Settings, searcher: Searcher | None = None) -> FastAPI:
    """The API over `settings`' data (or over an open `searcher`, which the caller keeps)."""
    service = Service(settings, searcher)
    key = ApiKey(settings.api_key.get_secret_value() if settings.api_key else None)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.open()
        yield
        service.close()

    # the docs' scripts and styles come from the package, not a CDN: /docs works offline
    app: FastAPI = FastAPIOffline(title="VITA Search API", version="1", lifespan=lifespan,
                                  description="Search animal sounds, photos and taxa in one embedding space.")
    app.state.service, app.state.key = service, key
    _errors(app)
    app.add_middleware(BodyGuard, max_bytes=service.max_upload + 64 * 1024, idle_s=settings.api_body_idle_s)
    app.include_router(router)
    return app


def app_from_env() -> FastAPI:
    """The app over the settings in this process's `VITA_*` variables (`vita api --workers N`: each
    server process builds its own)."""
    return make_app(Settings())
