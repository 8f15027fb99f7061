"""The CLI's way to a warm model: a `vita api` serving the same data directory announces itself in
`<data>/api.json`; `vita search` and `vita identify` send their query there instead of importing
torch and loading the model again (a second of work instead of several).

The file names the server's address and process; a file whose process is gone, or a server that
does not answer its health check at once, is ignored and the command runs locally.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import fields
from pathlib import Path
from typing import Any

from catalog.errors import VitaError
from indexer.search.request import Result, SearchRequest, SearchResponse, Target

ANNOUNCE = "api.json"
HEALTH_TIMEOUT_S = 0.5
QUERY_TIMEOUT_S = 120.0


class RemoteError(VitaError):
    """The running API answered a query with an error (its message is the API's)."""


@contextmanager
def announced(data_dir: Path, url: str) -> Iterator[Path]:
    """`<data>/api.json` while the server runs (removed when it stops, unless another took over)."""
    path = data_dir / ANNOUNCE
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"url": url, "pid": os.getpid()}))
    try:
        yield path
    finally:
        with suppress(OSError, ValueError):
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()


def running_api(data_dir: Path) -> str | None:
    """The address of a live `vita api` over this data directory, or None."""
    try:
        info = json.loads((data_dir / ANNOUNCE).read_text())
        os.kill(int(info["pid"]), 0)  # the process is there (signal 0 checks, sends nothing)
        url = str(info["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    import httpx

    try:
        return url if httpx.get(f"{url}/health", timeout=HEALTH_TIMEOUT_S).status_code == 200 else None
    except httpx.HTTPError:
        return None


def _post(url: str, path: str, api_key: str | None, **kw: Any) -> Any:
    import httpx

    headers = {"X-API-Key": api_key} if api_key else {}
    try:
        resp = httpx.post(f"{url}{path}", headers=headers, timeout=QUERY_TIMEOUT_S, **kw)
    except httpx.HTTPError as exc:
        raise RemoteError(f"the running API at {url} did not answer: {exc}") from None
    if resp.status_code != 200:
        try:
            detail = resp.json().get("detail", resp.text)
        except ValueError:
            detail = resp.text
        raise RemoteError(f"{detail}" if isinstance(detail, str) else json.dumps(detail))
    return resp.json()


def search(url: str, req: SearchRequest, api_key: str | None = None) -> SearchResponse:
    """`req` answered by the API: the same response the local searcher gives (results without the
    server's file paths)."""
    flt = req.filters
    filters: dict[str, Any] = {k: list(v) for k, v in flt.keywords.items()}  # "class" is the API's alias
    filters["traits"] = [v for vs in flt.traits.values() for v in vs]
    filters.update({"date_from": flt.date_from.isoformat() if flt.date_from else None,
                    "date_to": flt.date_to.isoformat() if flt.date_to else None,
                    "bbox": [flt.bbox.south, flt.bbox.west, flt.bbox.north, flt.bbox.east] if flt.bbox else None})
    options = {"target": req.target.value if req.target else None, "filters": filters, "k": req.k,
               "group_by": req.group_by.value, "rank": req.rank.value}
    upload = req.audio or req.image
    if upload is not None:
        with Path(upload).open("rb") as fh:
            body = _post(url, "/search/upload", api_key, files={"file": (Path(upload).name, fh)},
                         data={"options": json.dumps(options)})
    else:
        body = _post(url, "/search", api_key, json={**options, "text": req.text, "media_ids": req.media_ids,
                                                     "parse": req.parse})
    return response_from_json(body)


def response_from_json(body: dict[str, Any]) -> SearchResponse:
    """The API's search JSON back into the response the CLI prints."""
    from indexer.hybrid import Ranking
    from indexer.parse import Choice, Interpretation, Match

    known = {f.name for f in fields(Result)}
    interp = Interpretation([Match(m["phrase"], m["field"], m["value"]) for m in body.get("understood", [])],
                            choices=[Choice(**c) for c in body.get("choices", [])])
    return SearchResponse(
        results=[Result(**{k: v for k, v in r.items() if k in known}) for r in body["results"]],
        target=Target(body["target"]), query_kind=body["query_kind"], embedded_text=body.get("embedded_text"),
        interpretation=interp, no_good_match=bool(body.get("no_good_match")), ranking=Ranking(body["ranking"]),
        identified=[(i["rank"], i["name"], i["p"]) for i in body.get("identified", [])],
        evidence=list(body.get("evidence", [])), notes=list(body.get("notes", [])))


def identify(url: str, file: Path, api_key: str | None = None, **form: Any) -> Any:
    """The API's answer to "what is this?" for `file`, as the local `Identification`."""
    from indexer.identify import Guess, Identification, WindowGuesses

    data = {k: str(v) for k, v in form.items() if v is not None}
    with file.open("rb") as fh:
        body = _post(url, "/identify", api_key, files={"file": (file.name, fh)}, data=data)
    guesses = lambda rows: [Guess(**g) for g in rows]
    return Identification(body["query"], body["modality"], body.get("head"), guesses(body.get("overall", [])),
                          [WindowGuesses(w["offset_s"], w["duration_s"], guesses(w["guesses"]))
                           for w in body.get("windows", [])],
                          guesses(body.get("nearest", [])), body.get("range_filter"), list(body.get("notes", [])))

