"""`vita api`: the search engine over HTTP for apps (a field guide sends a photo and plays back the
species' calls). The same `Searcher` as the UI and the CLI, opened once per process with its model
loaded at start-up; every answer is JSON, every refusal a 4xx with a reason, never a traceback.

Searches share one lock: the embedded store has one owner and the model one forward at a time, so
concurrent requests queue here rather than inside the store. Media files are served from the
catalog's paths by integer id only (no path ever comes from the request), with range requests.
"""

from __future__ import annotations

import datetime as dt
import logging
import mimetypes
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi import Path as InPath
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi_offline import FastAPIOffline
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from catalog.annotations import add, listed
from catalog.api import Catalog
from catalog.errors import NotFoundError, VitaError
from catalog.models import AnnotationSource, Media
from catalog.queries import SpeciesNotFound
from catalog.taxonomy import RANKS
from indexer.identify import identify as identify_file
from indexer.search import Searcher, SearchRequest, Target
from indexer.search.request import UnknownTaxon
from indexer.store import StoreError
from indexer.traitlookup import predict_traits, species_traits
from vita.api.guard import ApiKey, BodyGuard, save_upload, scratch
from vita.api.schemas import (
    MAX_ID,
    AnnotationBody,
    BrowseBody,
    SearchBody,
    SearchOptions,
    response_json,
    result_json,
)
from vita.settings import Settings

log = logging.getLogger("vita.api")
T = TypeVar("T")
MediaId = Annotated[int, InPath(ge=1, le=MAX_ID, description="a catalog media id")]
FileArg = Annotated[UploadFile, File(description="A sound or a photo.")]


class Service:
    """The catalog and the searcher this process serves; `error` says why it is not ready."""

    def __init__(self, settings: Settings, searcher: Searcher | None = None) -> None:
        self.settings = settings
        self.max_upload = settings.query_limits().max_file_bytes
        self.catalog: Catalog = searcher.catalog if searcher else settings.open_catalog(limits=settings.query_limits())
        self.searcher, self._own = searcher, searcher is None
        self.error: str | None = None
        self.lock = threading.Lock()

    def open(self) -> None:
        """Open the index and load the model once (a first query would otherwise pay for it)."""
        if self.searcher is None:
            try:
                self.searcher = Searcher(self.catalog, self.settings.store_config(), self.settings.corpus)
            except StoreError as exc:
                self.error = f"{exc} (then restart `vita api`)"
                log.error("not ready: %s", self.error)
                return
        _ = self.searcher.model

    def close(self) -> None:
        if self._own:
            if self.searcher is not None:
                self.searcher.close()
            self.catalog.close()

    def run(self, fn: Callable[[Searcher], T]) -> T:
        if self.searcher is None:
            raise HTTPException(503, f"not ready: {self.error}")
        with self.lock:
            return fn(self.searcher)


def _reason(exc: RequestValidationError | ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(x) for x in e['loc'] if x != 'body') or 'body'}: {e['msg']}" for e in exc.errors()[:5])


def _errors(app: FastAPI) -> None:
    def answer(status: int, reason: str) -> JSONResponse:
        return JSONResponse({"error": reason, "status": status}, status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return answer(422, _reason(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return answer(exc.status_code, str(exc.detail))

    @app.exception_handler(VitaError)
    async def vita(_: Request, exc: VitaError) -> JSONResponse:
        status = 404 if isinstance(exc, NotFoundError | SpeciesNotFound) else 422 if isinstance(exc, UnknownTaxon) else 400
        return answer(status, str(exc))

    @app.exception_handler(Exception)
    async def bug(_: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error")
        return answer(500, f"internal error ({type(exc).__name__}); the server log has the details")


@contextmanager
def _upload(service: Service, file: UploadFile) -> Iterator[tuple[Path, str]]:
    """The upload saved in a scratch directory for the block; a refusal names the app's file, not ours."""
    with scratch() as tmp:
        try:
            yield save_upload(file, Path(tmp), service.max_upload)
        except VitaError as exc:
            raise HTTPException(404 if isinstance(exc, NotFoundError) else 400,
                                str(exc).replace(f"{tmp}/", "")) from None


def _options(text: str | None) -> SearchOptions:
    try:
        return SearchOptions.model_validate_json(text) if text else SearchOptions()
    except ValidationError as exc:
        raise HTTPException(422, f"options: {_reason(exc)}") from None


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
    app.state.service = service
    _errors(app)
    app.add_middleware(BodyGuard, max_bytes=service.max_upload + 64 * 1024, idle_s=settings.api_body_idle_s)
    read, write = [Depends(key.read)], [Depends(key.write)]

    @app.get("/health", summary="Liveness: the process answers (no key needed).")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", dependencies=read, summary="Readiness: index open and model loaded.")
    def ready() -> JSONResponse:
        s = service.searcher
        if s is None:
            return JSONResponse({"ready": False, "error": service.error}, 503)
        return JSONResponse({"ready": True, "collection": s.media_c, "model": s.model_ref, "preset": s.preset,
                             "points": service.run(lambda x: x.count())})

    @app.post("/search", dependencies=read, summary="Search by text or by indexed media ids.")
    def search(body: SearchBody) -> dict[str, Any]:
        req = SearchRequest(text=body.text, media_ids=list(body.media_ids), target=body.target,
                            filters=body.filters.to_filter(), k=body.k, group_by=body.group_by, parse=body.parse,
                            rank=body.rank)
        return response_json(service.run(lambda s: s.search(req)))

    @app.post("/search/upload", dependencies=read, summary="Search with an uploaded sound or photo.")
    def search_upload(file: FileArg, options: Annotated[str | None, Form(description="SearchOptions as JSON")] = None
                      ) -> dict[str, Any]:
        opts = _options(options)
        with _upload(service, file) as (path, kind):
            req = SearchRequest(audio=path if kind == "audio" else None, image=path if kind == "image" else None,
                                target=opts.target or (Target.AUDIO if kind == "image" else Target.ANY),
                                filters=opts.filters.to_filter(), k=opts.k, group_by=opts.group_by, rank=opts.rank)
            return response_json(service.run(lambda s: s.search(req)))

    @app.post("/browse", dependencies=read, summary="Pages of media under filters, one card per item.")
    def browse(body: BrowseBody) -> dict[str, Any]:
        results, total = service.run(lambda s: s.browse(body.filters.to_filter(), body.page, body.per_page))
        return {"total": total, "page": body.page, "results": [result_json(r) for r in results]}

    @app.post("/identify", dependencies=read, summary="What is this? The model's own head and the nearest species.")
    def identify(file: FileArg, lat: Annotated[float | None, Form(ge=-90, le=90)] = None,
                 lon: Annotated[float | None, Form(ge=-180, le=180)] = None,
                 date: Annotated[dt.date | None, Form()] = None,
                 k: Annotated[int, Form(ge=1, le=50, description="guesses per answer")] = 5) -> dict[str, Any]:
        with _upload(service, file) as (path, _):
            out = service.run(lambda s: identify_file(s.catalog, path, searcher=s, lat=lat, lon=lon, date=date, k=k))
        return asdict(out)

    @app.get("/traits", dependencies=read, summary="A species' known traits.")
    def traits(species: Annotated[str, Query(min_length=1, max_length=200)]) -> dict[str, Any]:
        return asdict(service.run(lambda s: species_traits(s, species)))

    @app.post("/traits/upload", dependencies=read, summary="Traits predicted for an uploaded sound or photo.")
    def traits_upload(file: FileArg) -> dict[str, Any]:
        with _upload(service, file) as (path, kind):
            report = service.run(lambda s: predict_traits(s, audio=path if kind == "audio" else None,
                                                          image=path if kind == "image" else None))
        report.query = path.name  # the name the app sent, not our scratch path
        return asdict(report)

    @app.get("/species", dependencies=read,
             summary="Indexed taxa by any name (scientific or common, any rank, singular or plural), with media counts.")
    def species_list(q: Annotated[str, Query(max_length=200)] = "",
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        def found(s: Searcher) -> list[dict[str, Any]]:
            counts = {rank: s.facets(rank, limit=100_000) for rank in RANKS}
            refs = s.catalog.names().suggest(q, limit=100_000) if q.strip() else []
            rows = [{"name": t.name, "rank": t.rank, "common_name": t.common_name, "media": counts[t.rank].get(t.name, 0)}
                    for t in refs if counts[t.rank].get(t.name)]
            if not q.strip():  # every indexed species, as before any name is typed
                rows = [{"name": n, "rank": "species", "common_name": None, "media": c}
                        for n, c in sorted(counts["species"].items())]
            return rows
        rows = service.run(found)
        return {"total": len(rows), "species": rows[:limit]}

    @app.get("/species/{name}", dependencies=read, summary="One species: lineage, traits, media.")
    def species(name: Annotated[str, InPath(min_length=1, max_length=200)]) -> dict[str, Any]:
        card = service.catalog.species(name, media_limit=24)
        out = asdict(card)
        out["media"] = [{**{k: v for k, v in m.items() if k != "path"}, "media_url": f"/media/{m['id']}/file"}
                        for m in out["media"]]
        return out

    def _media(media_id: int) -> tuple[Media, str]:
        """The catalog row (detached) and its species' name; 404 for an unknown id."""
        with service.catalog.sessions() as s:
            m = s.get(Media, media_id)
            if m is None:
                raise HTTPException(404, f"no media {media_id}")
            name = m.taxon.name
            s.expunge(m)
            return m, name

    @app.get("/media/{media_id}", dependencies=read, summary="A media item's metadata and attribution.")
    def media(media_id: MediaId) -> dict[str, Any]:
        m, species = _media(media_id)
        keep = ("id", "kind", "source", "source_id", "url", "license", "rights_holder", "attribution", "lat", "lon",
                "duration_s", "sample_rate", "channels", "width", "height", "size_bytes", "format", "split", "status")
        return {**{k: getattr(m, k) for k in keep}, "observed_on": m.observed_on.isoformat() if m.observed_on else None,
                "species": species, "file_url": f"/media/{media_id}/file"}

    @app.get("/media/{media_id}/file", dependencies=read, summary="The media file (range requests: seek to a window).")
    def media_file(media_id: MediaId) -> FileResponse:
        m, _ = _media(media_id)
        path = Path(m.path)
        if not path.is_file():
            raise HTTPException(404, f"media {media_id}: its file is missing on the server")
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=kind, filename=path.name)

    @app.get("/annotations", dependencies=read, summary="Annotations, optionally of one label.")
    def annotations(label: Annotated[str | None, Query(max_length=200)] = None) -> dict[str, Any]:
        with service.catalog.sessions() as s:
            rows = listed(s, label)
            return {"annotations": [{"id": a.id, "media_id": a.media_id, "offset_s": a.offset_s,
                                     "duration_s": a.duration_s, "label": a.label, "positive": a.positive,
                                     "source": a.source} for a in rows]}

    @app.post("/annotations", dependencies=write, status_code=201, summary="Add a yes/no for a window (needs the key).")
    def annotate(body: AnnotationBody) -> dict[str, Any]:
        with service.catalog.sessions() as s:
            row = add(s, body.media_id, body.label, body.positive, body.offset_s, body.duration_s,
                      AnnotationSource.API)
            s.commit()
            return {"id": row.id, "media_id": row.media_id, "label": row.label, "positive": row.positive}

    return app
