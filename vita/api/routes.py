"""The API's endpoints, one small function each, on one router. A handler gets the process's
`Service` through a dependency (`app.state.service`); the key checks are dependencies too."""

from __future__ import annotations

import datetime as dt
import json
import mimetypes
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi import Path as InPath
from fastapi.encoders import jsonable_encoder
from fastapi.responses import FileResponse, JSONResponse, Response

from catalog.annotations import add, listed
from catalog.tables import AnnotationSource, Media
from catalog.taxonomy import RANKS
from indexer.identify import identify as identify_file
from indexer.search import Searcher, SearchRequest, Target
from indexer.traitlookup import predict_traits, species_traits
from vita.api.schemas import MAX_ID, AnnotationBody, BrowseBody, SearchBody, response_json, result_json
from vita.api.service import Service, search_options, uploaded

router = APIRouter()


def sent(content: dict[str, Any]) -> Response:
    """A page of results as JSON written at once: FastAPI's `jsonable_encoder` would first walk every
    value of every result (a tenth of a text search's time); a value `json` cannot write falls back to it."""
    try:
        body = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return JSONResponse(jsonable_encoder(content))
    return Response(body.encode(), media_type="application/json")


def _service(request: Request) -> Service:
    service: Service = request.app.state.service  # set by make_app
    return service


def _can_read(request: Request) -> None:
    request.app.state.key.read(request)


def _can_write(request: Request) -> None:
    request.app.state.key.write(request)


ServiceDep = Annotated[Service, Depends(_service)]
READ, WRITE = [Depends(_can_read)], [Depends(_can_write)]
MediaId = Annotated[int, InPath(ge=1, le=MAX_ID, description="a catalog media id")]
FileArg = Annotated[UploadFile, File(description="A sound or a photo.")]


@router.get("/health", summary="Liveness: the process answers (no key needed).")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", dependencies=READ, summary="Readiness: index open and model loaded.")
def ready(service: ServiceDep) -> JSONResponse:
    s = service.searcher
    if s is None:
        return JSONResponse({"ready": False, "error": service.error}, 503)
    return JSONResponse({"ready": True, "collection": s.media_c, "model": s.model_ref, "preset": s.preset,
                         "points": service.run(lambda x: x.count())})


@router.post("/search", dependencies=READ, summary="Search by text or by indexed media ids.")
def search(service: ServiceDep, body: SearchBody) -> Response:
    req = SearchRequest(text=body.text, media_ids=list(body.media_ids), target=body.target,
                        filters=body.filters.to_filter(), k=body.k, group_by=body.group_by, parse=body.parse,
                        rank=body.rank)
    return sent(response_json(service.run(lambda s: s.search(req))))


@router.post("/search/upload", dependencies=READ, summary="Search with an uploaded sound or photo.")
def search_upload(service: ServiceDep, file: FileArg,
                  options: Annotated[str | None, Form(description="SearchOptions as JSON")] = None) -> Response:
    opts = search_options(options)
    with uploaded(service, file) as (path, kind):
        req = SearchRequest(audio=path if kind == "audio" else None, image=path if kind == "image" else None,
                            target=opts.target or (Target.AUDIO if kind == "image" else Target.ANY),
                            filters=opts.filters.to_filter(), k=opts.k, group_by=opts.group_by, rank=opts.rank)
        return sent(response_json(service.run(lambda s: s.search(req))))


@router.post("/browse", dependencies=READ, summary="Pages of media under filters, one card per item.")
def browse(service: ServiceDep, body: BrowseBody) -> Response:
    results, total = service.run(lambda s: s.browse(body.filters.to_filter(), body.page, body.per_page, body.order))
    return sent({"total": total, "page": body.page, "results": [result_json(r) for r in results]})


@router.post("/identify", dependencies=READ, summary="What is this? The model's own head and the nearest species.")
def identify(service: ServiceDep, file: FileArg, lat: Annotated[float | None, Form(ge=-90, le=90)] = None,
             lon: Annotated[float | None, Form(ge=-180, le=180)] = None,
             date: Annotated[dt.date | None, Form()] = None,
             k: Annotated[int, Form(ge=1, le=50, description="guesses per answer")] = 5) -> dict[str, Any]:
    with uploaded(service, file) as (path, _):
        out = service.run(lambda s: identify_file(s.catalog, path, searcher=s, lat=lat, lon=lon, date=date, k=k))
    return asdict(out)


@router.get("/traits", dependencies=READ, summary="A species' known traits.")
def traits(service: ServiceDep, species: Annotated[str, Query(min_length=1, max_length=200)]) -> dict[str, Any]:
    return asdict(service.run(lambda s: species_traits(s, species)))


@router.post("/traits/upload", dependencies=READ, summary="Traits predicted for an uploaded sound or photo.")
def traits_upload(service: ServiceDep, file: FileArg) -> dict[str, Any]:
    with uploaded(service, file) as (path, kind):
        report = service.run(lambda s: predict_traits(s, audio=path if kind == "audio" else None,
                                                      image=path if kind == "image" else None))
    report.query = path.name  # the name the app sent, not our scratch path
    return asdict(report)


@router.get("/species", dependencies=READ,
         summary="Indexed taxa by any name (scientific or common, any rank, singular or plural), with media counts.")
def species_list(service: ServiceDep, q: Annotated[str, Query(max_length=200)] = "",
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


@router.get("/species/{name}", dependencies=READ, summary="One species: lineage, traits, media.")
def species(service: ServiceDep, name: Annotated[str, InPath(min_length=1, max_length=200)]) -> dict[str, Any]:
    card = service.catalog.species(name, media_limit=24)
    out = asdict(card)
    out["media"] = [{**{k: v for k, v in m.items() if k != "path"}, "media_url": f"/media/{m['id']}/file"}
                    for m in out["media"]]
    return out


def _media(service: Service, media_id: int) -> tuple[Media, str]:
    """The catalog row (detached) and its species' name; 404 for an unknown id."""
    with service.catalog.sessions() as s:
        m = s.get(Media, media_id)
        if m is None:
            raise HTTPException(404, f"no media {media_id}")
        name = m.taxon.name
        s.expunge(m)
        return m, name


@router.get("/media/{media_id}", dependencies=READ, summary="A media item's metadata and attribution.")
def media(service: ServiceDep, media_id: MediaId) -> dict[str, Any]:
    m, species = _media(service, media_id)
    keep = ("id", "kind", "source", "source_id", "url", "license", "rights_holder", "attribution", "lat", "lon",
            "duration_s", "sample_rate", "channels", "width", "height", "size_bytes", "format", "split", "status")
    return {**{k: getattr(m, k) for k in keep}, "observed_on": m.observed_on.isoformat() if m.observed_on else None,
            "species": species, "file_url": f"/media/{media_id}/file"}


@router.get("/media/{media_id}/file", dependencies=READ, summary="The media file (range requests: seek to a window).")
def media_file(service: ServiceDep, media_id: MediaId) -> FileResponse:
    m, _ = _media(service, media_id)
    path = Path(m.path)
    if not path.is_file():
        raise HTTPException(404, f"media {media_id}: its file is missing on the server")
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=kind, filename=path.name)


@router.get("/annotations", dependencies=READ, summary="Annotations, optionally of one label.")
def list_annotations(service: ServiceDep, label: Annotated[str | None, Query(max_length=200)] = None) -> dict[str, Any]:
    with service.catalog.sessions() as s:
        rows = listed(s, label)
        return {"annotations": [{"id": a.id, "media_id": a.media_id, "offset_s": a.offset_s,
                                 "duration_s": a.duration_s, "label": a.label, "positive": a.positive,
                                 "source": a.source} for a in rows]}


@router.post("/annotations", dependencies=WRITE, status_code=201, summary="Add a yes/no for a window (needs the key).")
def annotate(service: ServiceDep, body: AnnotationBody) -> dict[str, Any]:
    with service.catalog.sessions() as s:
        row = add(s, body.media_id, body.label, body.positive, body.offset_s, body.duration_s,
                  AnnotationSource.API)
        s.commit()
        return {"id": row.id, "media_id": row.media_id, "label": row.label, "positive": row.positive}
