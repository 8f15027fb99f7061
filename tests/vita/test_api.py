"""`vita api` on the small demo world (synthetic media; random-weight tiny model: machinery, not
accuracy): every endpoint, the API key, the same answers as the UI, and the hostile requests of the
README's reliability section, each a 4xx with a reason and the server still healthy after."""

from __future__ import annotations

import io
import json
import os
import re
import resource
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
import soundfile as sf
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from catalog.tables import Media
from tests.support import copy_data_dir, free_port, serving, small_world, truncate, write_audio
from vita.api.app import make_app
from vita.settings import Settings
from workers.indexing import IndexOptions, run_index

pytestmark = pytest.mark.slow  # a small world and an index per module

KEY = "s3cret-key"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    root = tmp_path_factory.mktemp("api")
    cat, settings, model = small_world(root)
    with cat:
        assert run_index(cat, settings.index_config(), str(model), IndexOptions(eager=True)).failed == 0
    yield settings


@pytest.fixture(scope="module")
def client(world: Settings) -> Iterator[TestClient]:
    with TestClient(make_app(world), raise_server_exceptions=False) as c:
        yield c


def _media(settings: Settings, kind: str) -> tuple[int, Path]:
    with settings.open_catalog() as cat, cat.sessions() as s:
        m = s.scalars(select(Media).where(Media.kind == kind).order_by(Media.id)).first()
        assert m is not None
        return m.id, Path(m.path)


def _ok(r: requests.Response | object) -> dict:
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]  # httpx and requests responses alike
    return r.json()  # type: ignore[attr-defined, no-any-return]  # httpx and requests responses alike


def _refused(r: object, status: int, *words: str) -> None:
    """A JSON refusal with this status and a reason that says why (never a traceback)."""
    assert r.status_code == status, (r.status_code, r.text)  # type: ignore[attr-defined]  # httpx response
    body = r.json()  # type: ignore[attr-defined]  # httpx response
    assert body["status"] == status
    assert body["error"]
    assert "Traceback" not in body["error"]
    for w in words:
        assert w.lower() in body["error"].lower(), body["error"]


# ---------------------------------------------------------------- every endpoint


def test_health_ready_and_the_openapi_docs(client: TestClient) -> None:
    assert _ok(client.get("/health")) == {"status": "ok"}
    ready = _ok(client.get("/ready"))
    assert ready["ready"]
    assert ready["points"] > 0
    assert ready["preset"] == "tiny"
    spec = _ok(client.get("/openapi.json"))
    assert {"/search", "/search/upload", "/browse", "/identify", "/traits", "/traits/upload", "/species",
            "/species/{name}", "/media/{media_id}", "/media/{media_id}/file", "/annotations"} <= set(spec["paths"])
    # the docs pages load their scripts and styles from this server, never from a CDN (offline users)
    for page, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        html = client.get(page)
        assert html.status_code == 200
        sources = re.findall(r'(?:src|href)=["\']([^"\']+)', html.text) + re.findall(r"url: *'([^']+)'", html.text)
        assert sources and not [s for s in sources if s.startswith(("http:", "https:", "//"))], sources
        local = next(s for s in sources if s.endswith(asset))
        assert client.get(local).status_code == 200, local


def test_text_search_reads_the_words_and_filters(client: TestClient) -> None:
    out = _ok(client.post("/search", json={"text": "nocturnal Hylidae calls", "k": 5, "group_by": "species"}))
    assert out["target"] == "audio"
    assert out["query_kind"] == "text"
    assert {"family", "traits", "target"} <= {u["field"] for u in out["understood"]}
    species = [r["species"] for r in out["results"]]
    assert out["results"]
    assert len(species) == len(set(species)) <= 5  # one per species
    assert all(r["lineage"]["family"] == "Hylidae" and "activity=nocturnal" in r["traits"] for r in out["results"])
    assert all(r["media_url"] == f"/media/{r['media_id']}/file" and "path" not in r for r in out["results"])
    flt = _ok(client.post("/search", json={"text": "calls", "filters": {"class": ["Aves"], "license": ["cc0"]}}))
    assert flt["results"]
    assert all(r["lineage"]["class"] == "Aves" and r["license"] == "cc0" for r in flt["results"])
    taxa = _ok(client.post("/search", json={"text": "Gray Treefrog", "target": "text", "k": 3}))
    assert taxa["results"]
    assert all(r["rank"] for r in taxa["results"])


def test_media_ids_upload_and_browse(client: TestClient, world: Settings) -> None:
    audio_id, audio = _media(world, "audio")
    more = _ok(client.post("/search", json={"media_ids": [audio_id], "k": 4}))
    assert more["query_kind"] == "media"
    assert audio_id not in [r["media_id"] for r in more["results"]]
    _, photo = _media(world, "image")
    with photo.open("rb") as fh:  # a field guide's photo -> the calls of what it shows
        up = _ok(client.post("/search/upload", files={"file": ("frog photo.png", fh, "image/png")},
                             data={"options": json.dumps({"k": 3, "group_by": "species"})}))
    assert up["query_kind"] == "image"
    assert up["target"] == "audio"
    assert up["results"]
    assert all(r["modality"] == "audio" for r in up["results"])
    with audio.open("rb") as fh:
        snd = _ok(client.post("/search/upload", files={"file": ("call" + audio.suffix, fh, "audio/flac")}))
    assert snd["query_kind"] == "audio"
    assert snd["results"][0]["media_id"] == audio_id  # itself first
    first = _ok(client.post("/browse", json={"filters": {"family": ["Hylidae"]}, "per_page": 5}))
    second = _ok(client.post("/browse", json={"filters": {"family": ["Hylidae"]}, "per_page": 5, "page": 1}))
    ids = [r["media_id"] for r in first["results"]], [r["media_id"] for r in second["results"]]
    assert first["total"] > 5
    assert len(ids[0]) == 5
    assert not set(ids[0]) & set(ids[1])
    newest = _ok(client.post("/browse", json={"filters": {"family": ["Hylidae"]}, "per_page": 8,
                                              "order": "newest first"}))["results"]
    days = [r["observed_on"] for r in newest if r["observed_on"]]
    assert len(days) > 1
    assert days == sorted(days, reverse=True)


def test_identify_traits_species_and_media(client: TestClient, world: Settings) -> None:
    audio_id, audio = _media(world, "audio")
    with audio.open("rb") as fh:
        ident = _ok(client.post("/identify", files={"file": ("my call" + audio.suffix, fh)}))
    assert ident["query"] == "my_call" + audio.suffix
    assert ident["nearest"]
    assert ident["head"] is None
    known = _ok(client.get("/traits", params={"species": "Hyla versicolor"}))
    assert known["known"]["activity"] == ["nocturnal"]
    with audio.open("rb") as fh:
        predicted = _ok(client.post("/traits/upload", files={"file": ("x" + audio.suffix, fh)}))
    assert predicted["query"] == "x" + audio.suffix
    assert predicted["neighbours"]
    assert predicted["nearest_species"]
    listed = _ok(client.get("/species", params={"q": "hyla"}))
    assert listed["total"] >= 1
    assert all("hyla" in s["name"].lower() and s["media"] > 0 for s in listed["species"])
    card = _ok(client.get("/species/Hyla versicolor"))
    assert card["common_name"] == "Gray Treefrog"
    assert card["media"]
    assert all("path" not in m and m["media_url"].startswith("/media/") for m in card["media"])
    meta = _ok(client.get(f"/media/{audio_id}"))
    assert meta["kind"] == "audio"
    assert meta["species"]
    assert meta["license"]
    assert "path" not in meta
    whole = client.get(f"/media/{audio_id}/file")
    assert whole.status_code == 200
    assert whole.content == audio.read_bytes()
    assert whole.headers["accept-ranges"] == "bytes"
    part = client.get(f"/media/{audio_id}/file", headers={"Range": "bytes=100-1099"})  # a player seeking
    assert part.status_code == 206
    assert part.content == audio.read_bytes()[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{audio.stat().st_size}"
    _refused(client.get("/media/999999"), 404, "no media 999999")
    _refused(client.get("/species/Nonexistus imaginarius"), 404)


def test_annotations_need_the_key_and_land_in_the_catalog(world: Settings, client: TestClient) -> None:
    audio_id, _ = _media(world, "audio")
    searcher = client.app.state.service.searcher  # type: ignore[attr-defined]  # the one owner of the embedded store
    with TestClient(make_app(world.model_copy(update={"api_key": None}), searcher)) as open_reads:
        _refused(open_reads.post("/annotations", json={"media_id": audio_id, "label": "owl", "positive": True}),
                 403, "VITA_API_KEY")
        assert open_reads.get("/annotations").status_code == 200
    from pydantic import SecretStr

    with TestClient(make_app(world.model_copy(update={"api_key": SecretStr(KEY)}), searcher)) as keyed:
        assert keyed.get("/health").status_code == 200  # liveness needs no key
        _refused(keyed.get("/ready"), 401, "API key")
        _refused(keyed.post("/search", json={"text": "owl"}, headers={"X-API-Key": "wrong"}), 401)
        assert keyed.get("/ready", headers={"X-API-Key": KEY}).status_code == 200
        assert keyed.get("/ready", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
        made = keyed.post("/annotations", json={"media_id": audio_id, "label": "owl", "positive": True, "offset_s": 0},
                          headers={"X-API-Key": KEY})
        assert made.status_code == 201, made.text
        _refused(keyed.post("/annotations", json={"media_id": 999999, "label": "owl", "positive": True},
                            headers={"X-API-Key": KEY}), 400, "no media")
        got = _ok(keyed.get("/annotations", params={"label": "owl"}, headers={"X-API-Key": KEY}))
    assert [(a["media_id"], a["positive"], a["source"]) for a in got["annotations"]] == [(audio_id, True, "api")]


def test_not_ready_without_an_index(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "empty")  # type: ignore[call-arg]  # pydantic-settings takes field names
    with TestClient(make_app(settings)) as c:
        assert c.get("/health").status_code == 200
        r = c.get("/ready")
        assert r.status_code == 503
        assert "vita index" in r.json()["error"]
        _refused(c.post("/search", json={"text": "owl"}), 503, "not ready", "vita index")


def test_the_api_and_the_ui_give_the_same_answers(world: Settings, client: TestClient,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The UI's search page and the API, over one Searcher (the embedded store has one owner: the
    module's API client hands it to the UI's start-up for this test)."""
    import re

    from streamlit.testing.v1 import AppTest

    from search_ui import state

    monkeypatch.setenv("VITA_DATA_DIR", str(world.data_dir))
    searcher = client.app.state.service.searcher  # type: ignore[attr-defined]  # the one owner of the embedded store
    monkeypatch.setattr(state, "_open", lambda _: (searcher.catalog, searcher))
    main = sys.modules["__main__"]
    try:
        script = "if __name__ == '__main__':\n    from search_ui import pages\n    pages.search_page()\n"
        at = AppTest.from_string(script, default_timeout=180).run()
        at.text_input(key="q").input("nocturnal Hylidae calls").run()  # the page's defaults: 12, one per species
        ui = [(int(m.group(2)), float(m.group(1))) for t in at.text
              if (m := re.search(r"score (-?[\d.]+) · audio · media (\d+)$", t.value))]
        out = _ok(client.post("/search", json={"text": "nocturnal Hylidae calls", "k": 12, "group_by": "species"}))
        api = [(r["media_id"], round(r["score"], 3)) for r in out["results"]]
        assert ui
        assert sorted(ui) == sorted(api)  # the page lays cards out column by column
    finally:
        sys.modules["__main__"] = main


# ---------------------------------------------------------------- hostile requests


def test_hostile_requests_get_a_4xx_and_a_reason(client: TestClient, world: Settings, tmp_path: Path) -> None:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    limit = world.query_limits().max_file_bytes
    _refused(client.post("/search/upload", files={"file": ("big.wav", b"\0" * (limit + 1024 * 1024))}), 413, "limit")
    # truncated, mislabelled, of a type we do not take, empty
    cut = truncate(write_audio(tmp_path / "cut.flac", 3.0), 0.3)
    _refused(client.post("/search/upload", files={"file": ("cut.flac", cut.read_bytes())}), 400, "cut.flac")
    _refused(client.post("/search/upload", files={"file": ("notes.wav", b"field notes\n" * 50)}), 400, "notes.wav", "text")
    _refused(client.post("/search/upload", files={"file": ("x.exe", b"MZ" * 100)}), 415, ".exe")
    _refused(client.post("/search/upload", files={"file": ("frog.png", b"\x89PNG", "text/html")}), 415, "text/html")
    _refused(client.post("/search/upload", files={"file": ("empty.wav", b"")}), 400, "empty")
    long = tmp_path / "long.wav"  # 11 minutes: under the upload limit in bytes, over the query limit in time
    sf.write(long, (0.1 * np.sin(np.arange(11 * 60 * 8000) / 8000 * 2 * np.pi * 440)).astype(np.float32), 8000,
             subtype="PCM_16")
    assert long.stat().st_size < limit
    _refused(client.post("/search/upload", files={"file": ("long.wav", long.read_bytes())}), 400, "long.wav", "limit")
    _refused(client.post("/search", content=b"<xml/>", headers={"content-type": "application/xml"}), 422)
    # a decompression bomb: a small PNG that decodes to 144 megapixels
    bomb = io.BytesIO()
    Image.new("L", (12000, 12000)).save(bomb, "PNG", optimize=True)
    assert len(bomb.getvalue()) < 1024 * 1024
    _refused(client.post("/search/upload", files={"file": ("bomb.png", bomb.getvalue())}), 400, "bomb.png", "too large")
    # path-like and unknown media ids
    _refused(client.post("/search", json={"media_ids": ["../../etc/passwd"]}), 422, "media_ids")
    assert client.get("/media/..%2F..%2Fetc%2Fpasswd").status_code in (404, 422)
    assert client.get("/media/../../etc/passwd/file").status_code == 404
    _refused(client.post("/search", json={"media_ids": [987654]}), 400, "not in the index")
    # ids past a 64-bit integer: refused as input, not a server error
    _refused(client.get("/media/99999999999999999999"), 422, "media_id")
    _refused(client.get("/media/9223372036854775808/file"), 422, "media_id")
    _refused(client.post("/search", json={"media_ids": [99999999999999999999]}), 422, "media_ids")
    # huge k, malformed filters, unknown fields, no query at all
    _refused(client.post("/search", json={"text": "owl", "k": 10**9}), 422, "k")
    _refused(client.post("/search", json={"text": "owl", "filters": {"traits": ["activity=sideways"]}}), 422, "traits")
    _refused(client.post("/search", json={"text": "owl", "filters": {"date_from": "31/31/2020"}}), 422, "date_from")
    _refused(client.post("/search", json={"text": "owl", "filters": {"bbox": [91, 0, 0, 0]}}), 400, "bounding box")
    _refused(client.post("/search", json={"text": "owl", "filters": {"family": "Hylidae"}}), 422, "family")
    _refused(client.post("/search", json={"text": "owl", "filters": {"family": ["x"] * 500}}), 422, "family")
    _refused(client.post("/search", json={"text": "owl", "debug": True}), 422, "debug", "extra")
    _refused(client.post("/search", json={}), 400, "exactly one")
    _refused(client.post("/search", json={"text": "x" * 5000}), 422, "text")
    _refused(client.post("/search/upload", files={"file": ("a.wav", b"RIFF")}, data={"options": "{not json"}), 422, "options")
    _refused(client.post("/browse", json={"per_page": 100000}), 422, "per_page")
    _refused(client.get("/species", params={"limit": -1}), 422, "limit")
    # still healthy, and memory did not grow with what was sent
    assert _ok(client.get("/health")) == {"status": "ok"}
    assert _ok(client.post("/search", json={"text": "owl", "k": 2}))["results"]
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024
    assert grown_mib < 200, grown_mib  # the 21 MB upload and the bomb's 144 MP were never held decoded


# ---------------------------------------------------------------- a real server: slow clients, streamed bodies


@pytest.fixture(scope="module")
def server(world: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`vita api` as a process, on a copy of the data dir (the client above holds the original)."""
    copy = tmp_path_factory.mktemp("api-serve") / "data"
    copy_data_dir(world.data_dir, copy)
    port = free_port()
    env = {**os.environ, "VITA_DATA_DIR": str(copy), "VITA_API_BODY_IDLE_S": "2"}
    env.pop("VITA_DATABASE_URL", None)
    with serving(["api", "--port", str(port)], env, f"http://127.0.0.1:{port}/ready", "vita api"):
        SERVED[f"http://127.0.0.1:{port}"] = copy
        yield f"http://127.0.0.1:{port}"


SERVED: dict[str, Path] = {}  # a running server's address -> the data directory it serves


def _raw(port: int, data: bytes) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(data)
    return s


def _read_all(s: socket.socket) -> str:
    """What the server sends until it closes the connection."""
    parts = []
    while chunk := s.recv(4096):
        parts.append(chunk)
    return b"".join(parts).decode(errors="replace")


def test_slow_and_streaming_clients_leave_the_server_healthy(server: str, world: Settings) -> None:
    port = int(server.rsplit(":", 1)[1])
    # slow headers: many connections that never finish their request line; others are still served
    idle = [_raw(port, b"GET /health HTTP/1.1\r\nHost: x\r\n") for _ in range(16)]
    try:
        assert requests.get(server + "/health", timeout=10).json() == {"status": "ok"}
        # a body that stalls half-way: 408 once it has been idle for VITA_API_BODY_IDLE_S
        stalled = _raw(port, b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 100\r\n\r\n{\"text\": ")
        answer = _read_all(stalled)
        assert " 408 " in answer.splitlines()[0] and "stalled" in answer, answer
        # a chunked body with no length, streamed past the limit: 413 without holding it all
        limit = world.query_limits().max_file_bytes

        def chunks() -> Iterator[bytes]:
            yield (b'--x\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n'
                   b"Content-Type: audio/wav\r\n\r\n")
            block = b"\0" * (1024 * 1024)
            for _ in range(limit // len(block) + 8):
                yield block

        r = requests.post(server + "/search/upload", data=chunks(),
                          headers={"Content-Type": "multipart/form-data; boundary=x"}, timeout=60)
        assert r.status_code == 413
        assert "limit" in r.json()["error"]
        assert requests.post(server + "/search", json={"text": "owl", "k": 1}, timeout=30).ok
    finally:
        for s in idle:
            s.close()
    audio_id, audio = _media(world, "audio")
    with sf.SoundFile(audio) as fh:  # the real server serves the file for a player, seekable
        assert fh.frames > 0
    part = requests.get(f"{server}/media/{audio_id}/file", headers={"Range": "bytes=0-15"}, timeout=10)
    assert part.status_code == 206
    assert part.content == audio.read_bytes()[:16]


def test_the_cli_asks_a_running_api_on_its_data_instead_of_loading_the_model(
        server: str, world: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """With `vita api` up, `vita search` and `vita identify` on the same data directory are answered
    by it (the embedded store is the server's: a local search could not even open it)."""
    from typer.testing import CliRunner

    from vita.cli import app

    announce = SERVED[server] / "api.json"
    assert json.loads(announce.read_text())["url"] == server
    monkeypatch.setenv("VITA_DATA_DIR", str(announce.parent))
    monkeypatch.delenv("VITA_DATABASE_URL", raising=False)
    runner = CliRunner()
    got = runner.invoke(app, ["search", "owl", "-k", "4", "--json"])
    assert got.exit_code == 0, got.output
    via_cli = [r["media_id"] for r in json.loads(got.output)["results"]]
    direct = [r["media_id"] for r in _ok(requests.post(server + "/search", json={"text": "owl", "k": 4},
                                                        timeout=60))["results"]]
    assert via_cli == direct
    assert via_cli
    _, photo = _media(world, "image")
    got = runner.invoke(app, ["identify", str(photo), "--json"])
    assert got.exit_code == 0, got.output
    assert json.loads(got.output)["nearest"]


def test_searches_run_in_parallel_up_to_the_slots_then_queue_then_get_503() -> None:
    """Two slots: two searches run at once; one more waits; the next is refused at once with
    503 and Retry-After, and a slot freed lets the waiting one run."""
    import threading

    from vita.api.service import Admission, Busy

    admission = Admission(parallel=2, queue=1, retry_after_s=3)
    inside, release = threading.Semaphore(0), threading.Event()
    ran: list[str] = []

    def search(name: str) -> None:
        with admission.slot():
            ran.append(name)
            inside.release()
            release.wait(30)

    first = [threading.Thread(target=search, args=(n,)) for n in ("a", "b")]
    for t in first:
        t.start()
    assert inside.acquire(timeout=30)
    assert inside.acquire(timeout=30)  # both run at once: neither waited for the other
    waiting = threading.Thread(target=search, args=("c",))
    waiting.start()
    for _ in range(300):  # until it is counted as waiting
        if admission.waiting == 1:
            break
        threading.Event().wait(0.01)
    assert admission.waiting == 1
    with pytest.raises(Busy) as refused, admission.slot():
        pass
    assert refused.value.status_code == 503
    assert refused.value.headers == {"Retry-After": "3"}
    release.set()
    for t in (*first, waiting):
        t.join(30)
    assert sorted(ran) == ["a", "b", "c"]


def test_a_busy_api_answers_503_with_retry_after(client: TestClient) -> None:
    """No slot and no queue left: the API's answer is the JSON refusal with the Retry-After header."""
    from vita.api.service import Admission

    service = client.app.state.service  # type: ignore[attr-defined]  # set by make_app
    kept, service.admission = service.admission, Admission(parallel=1, queue=0, retry_after_s=2)
    try:
        with service.admission.slot():  # a search in progress holds the only slot
            r = client.post("/search", json={"text": "owl", "k": 2})
        _refused(r, 503, "busy")
        assert r.headers["retry-after"] == "2"
        assert _ok(client.post("/search", json={"text": "owl", "k": 2}))["results"]  # the slot is free again
    finally:
        service.admission = kept


def test_several_server_processes_need_a_qdrant_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded store has one owner: `vita api --workers 2` on it is refused with the reason."""
    from typer.testing import CliRunner

    from vita.cli import app

    monkeypatch.setenv("VITA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("VITA_QDRANT_URL", raising=False)
    got = CliRunner().invoke(app, ["api", "--workers", "2"])
    assert got.exit_code == 2
    assert "needs a Qdrant server" in got.output


@pytest.fixture
def own_world(world: Settings, tmp_path: Path) -> Settings:
    """The world on a copy of its data dir: a Service of the test's own (the client holds the original)."""
    return world.model_copy(update={"data_dir": copy_data_dir(world.data_dir, tmp_path / "data"), "database_url": None})


def test_a_result_is_sent_with_every_field_but_the_server_path_and_owns_its_lists() -> None:
    from dataclasses import fields

    from indexer.search import Result
    from vita.api.schemas import result_json

    r = Result(score=0.5, modality="audio", species="Hyla versicolor", common_name="Gray Treefrog",
               lineage={"class": "Amphibia", "family": "Hylidae"}, traits=["activity=nocturnal"], media_id=7,
               path="/srv/vita/media/7.wav", place="Ithaca")
    out = result_json(r)
    assert set(out) == {f.name for f in fields(Result)} - {"path"} | {"media_url"}
    assert (out["media_url"], out["place"], out["lineage"], out["traits"]) == (
        "/media/7/file", "Ithaca", {"class": "Amphibia", "family": "Hylidae"}, ["activity=nocturnal"])
    out["lineage"]["class"], out["traits"][0] = "Aves", "x"
    assert (r.lineage["class"], r.traits[0]) == ("Amphibia", "activity=nocturnal")


def test_each_admitted_search_gets_its_share_of_the_cores(own_world: Settings) -> None:
    """A server that runs N searches at once gives each forward cores / N threads, not every core."""
    import torch

    from vita.api.service import Service

    kept = torch.get_num_threads()
    try:
        for parallel in (1, 2):
            service = Service(own_world.model_copy(update={"api_parallel": parallel}))
            try:
                service.open()
                assert service.error is None
                assert torch.get_num_threads() == max(1, (os.cpu_count() or 1) // parallel)
            finally:
                service.close()
    finally:
        torch.set_num_threads(kept)


def test_text_forward_in_worker_processes_gives_the_same_vectors_and_results(own_world: Settings) -> None:
    """VITA_API_TEXT_PROCESSES: the text tower runs in processes of its own; same vector, same answer."""
    import torch

    from indexer.search import SearchRequest
    from vita.api.service import Service

    texts = ["Amphibia Anura Hylidae", "owl"]
    req = SearchRequest(text="nocturnal Hylidae calls", k=5)
    kept = torch.get_num_threads()
    inside = Service(own_world)  # the embedded store has one owner: one service at a time
    try:
        inside.open()
        assert inside.searcher is not None
        assert inside.forward is None
        vectors = inside.searcher.model.embed_text(texts)
        want = [(r.media_id, round(r.score, 5)) for r in inside.run(lambda s: s.search(req)).results]
    finally:
        inside.close()
    pooled = Service(own_world.model_copy(update={"api_text_processes": 2}))
    try:
        pooled.open()
        assert pooled.forward is not None, pooled.error
        assert pooled.searcher is not None
        assert pooled.searcher.query.text_forward is pooled.forward
        np.testing.assert_allclose(pooled.forward(texts), vectors, atol=1e-5)
        got = [(r.media_id, round(r.score, 5)) for r in pooled.run(lambda s: s.search(req)).results]
    finally:
        pooled.close()
        torch.set_num_threads(kept)
    assert got == want
    assert got
    assert pooled.forward is None
