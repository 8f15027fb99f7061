"""iNaturalist and Xeno-canto against recorded API responses (tests/fixtures), HTTP mocked."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests_mock
from sqlalchemy import select

from catalog.sources.base import Downloader, RateLimiter
from catalog.sources.inat import INatSource, INatTaxonomy, api_session
from catalog.sources.xenocanto import XenoCantoError, XenoCantoSource, species_query
from catalog.tables import Media, MediaKind, Taxon
from tests.support import make_settings, write_audio, write_image
from vita.settings import Settings

FIXTURES = Path(__file__).parents[1] / "fixtures"
API = "https://api.inaturalist.org/v1"


def load(*parts: str) -> dict:
    return json.loads((FIXTURES.joinpath(*parts)).read_text())


def media_bytes(tmp: Path) -> dict[str, bytes]:
    return {
        "m4a": write_audio(tmp / "m.m4a", 1.0, freq=700).read_bytes(),
        "m4a2": write_audio(tmp / "m2.m4a", 1.2, freq=720).read_bytes(),
        "wav": write_audio(tmp / "w.wav", 1.0, freq=2800).read_bytes(),
        "mp3": write_audio(tmp / "o.mp3", 1.0, freq=450).read_bytes(),
        "jpg": write_image(tmp / "p.jpg", (64, 48)).read_bytes(),
        "jpg2": write_image(tmp / "p2.jpg", (64, 48), (30, 90, 200)).read_bytes(),
    }


def mock_inat(m: requests_mock.Mocker, blobs: dict[str, bytes]) -> None:
    taxa = {t["id"]: t for t in load("inat", "taxa_by_id.json")["results"]}
    observations = load("inat", "observations.json")

    def taxa_by_id(request: Any, context: Any) -> dict[str, Any]:
        ids = [int(i) for i in urlparse(request.url).path.rsplit("/", 1)[1].split(",")]
        found = [taxa[i] for i in ids if i in taxa]
        return {"total_results": len(found), "page": 1, "per_page": len(found), "results": found}

    def obs_page(request: Any, context: Any) -> dict[str, Any]:
        above = int(parse_qs(urlparse(request.url).query).get("id_above", ["0"])[0])
        results = [o for o in observations["results"] if o["id"] > above]
        return {**observations, "total_results": len(results), "results": results}

    m.get(re.compile(re.escape(API) + r"/taxa/[\d,]+"), json=taxa_by_id)
    m.get(re.compile(re.escape(API) + r"/observations\?"), json=obs_page)
    m.get(re.compile(r"https://static\.inaturalist\.org/sounds/1001\.m4a"), content=blobs["m4a"])
    m.get(re.compile(r"https://static\.inaturalist\.org/sounds/1002\.wav"), content=blobs["wav"])
    m.get(re.compile(r"https://static\.inaturalist\.org/sounds/1003\.mp3"), content=blobs["mp3"])
    m.get(re.compile(r"https://static\.inaturalist\.org/sounds/1005\.m4a"), status_code=404)
    m.get("https://inaturalist-open-data.s3.amazonaws.com/photos/2001/medium.jpg?1545510373", content=blobs["jpg"])
    m.get("https://inaturalist-open-data.s3.amazonaws.com/photos/2003/medium.jpg?1545510373", content=blobs["jpg2"])


def inat_source(settings: Settings, **kw: Any) -> INatSource:
    session = api_session(settings.data_dir / "cache", per_second=1000)  # temp cache: no stale bodies
    return INatSource(settings.fetch_config(), taxon="Anura", session=session, **kw)


def test_inat_observations_become_media_with_lineage_and_attribution(tmp_path: Path, db_url: str) -> None:
    settings = make_settings(tmp_path)
    cat = settings.open_catalog(db_url)
    with requests_mock.Mocker() as m:
        mock_inat(m, media_bytes(tmp_path))
        report = cat.ingest(inat_source(settings))
        media_calls = [r for r in m.request_history if "api.inaturalist.org" not in r.url]
    # 1001, 1002, 1003 sounds; 2001, 2003 photos. 2002 is all-rights-reserved: left out by policy.
    assert report.added == 5, report.failures
    reasons = {item: reason for item, _, reason in report.failures}
    assert "identified to genus" in reasons["observation 900004"]
    assert any("HTTP 404" in r for r in reasons.values())
    assert report.failed == 2
    assert not any("2002" in r.url for r in media_calls)
    with cat.sessions() as s:
        owl = s.scalar(select(Taxon).where(Taxon.name == "Strix varia"))  # a subspecies observation
        assert (owl.class_name, owl.order_name, owl.family_name) == ("Aves", "Strigiformes", "Strigidae")
        assert owl.common_name == "Barred Owl"
        assert owl.source_ids == {"inat": 19893}
        frog = s.scalar(select(Taxon).where(Taxon.name == "Hyla versicolor"))
        assert (frog.family_name, frog.common_name) == ("Hylidae", "Gray Treefrog")
        sound = s.scalar(select(Media).where(Media.source_id == "sound/1001"))
        assert sound.kind == "audio"
        assert sound.format == "mp4"
        assert sound.license == "cc-by"
        assert sound.attribution == "(c) Ada Frog, some rights reserved (CC BY)"
        assert sound.rights_holder == "Ada Frog"
        assert sound.lat == pytest.approx(42.36)
        assert str(sound.observed_on) == "2023-05-20"
        assert sound.extra["observation_url"] == "https://www.inaturalist.org/observations/900001"
        photo = s.scalar(select(Media).where(Media.source_id == "photo/2001"))
        assert photo.kind == "image"
        assert photo.license == "cc-by-nc"
        assert photo.url.endswith("medium.jpg?1545510373")
        assert s.scalar(select(Media.rights_holder).where(Media.source_id == "sound/1003")) == "owler"
        # an observation's sound and photo land in the same split
        splits = set(s.scalars(select(Media.split).where(Media.extra["group"].as_string() == "inat-observation-900001")))
        assert len(splits) == 1

    with requests_mock.Mocker() as m:  # re-run: nothing downloaded again, nothing added twice
        mock_inat(m, media_bytes(tmp_path))
        again = cat.ingest(inat_source(settings))
        assert [r.url for r in m.request_history if "api.inaturalist.org" not in r.url
                and "1005" not in r.url] == []
    assert again.added == 0
    assert again.skipped == 5
    cat.close()


def test_inat_query_and_licence_policy(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, licenses=["cc0", "cc-by"])
    src = inat_source(settings, kinds=[MediaKind.AUDIO])
    q = src._query()
    assert q["taxon_name"] == "Anura"
    assert q["sounds"] is True
    assert q["quality_grade"] == "research"
    assert q["sound_license"] == ["CC0", "CC-BY"]
    with requests_mock.Mocker() as m:
        mock_inat(m, media_bytes(tmp_path))
        records = [r for r in src.records() if hasattr(r, "kind")]
    assert {r.source_id for r in records} == {"sound/1001", "sound/1002", "sound/1005"}  # 1003: CC BY-SA
    assert all(r.license in ("cc0", "cc-by") for r in records)
    with pytest.raises(ValueError, match="taxon and/or a place"):
        INatSource(settings.fetch_config())


def test_downloads_resume_from_a_partial_file(tmp_path: Path) -> None:
    blob = write_audio(tmp_path / "x.wav", 2.0).read_bytes()
    dest = tmp_path / "dl" / "x.wav"
    dest.parent.mkdir()
    dest.with_name("x.wav.part").write_bytes(blob[:1000])
    import requests

    with requests_mock.Mocker() as m:
        m.get("https://example.org/x.wav", status_code=206, content=blob[1000:])
        out = Downloader(requests.Session(), RateLimiter(1000), 10, 10**9).get("https://example.org/x.wav", dest)
        assert m.request_history[0].headers["Range"] == "bytes=1000-"
    assert out.read_bytes() == blob
    assert not dest.with_name("x.wav.part").exists()


def test_rate_limiter_spaces_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = {"now": 100.0}
    sleeps: list[float] = []
    monkeypatch.setattr("catalog.sources.base.time.monotonic", lambda: clock["now"])

    def sleep(s: float) -> None:
        sleeps.append(s)
        clock["now"] += s

    monkeypatch.setattr("catalog.sources.base.time.sleep", sleep)
    limiter = RateLimiter(1.0)
    starts = []
    for _ in range(4):
        limiter.wait()
        starts.append(clock["now"])
        clock["now"] += 0.1  # the request itself
    assert [round(b - a, 6) for a, b in zip(starts, starts[1:])] == [1.0, 1.0, 1.0]


# ------------------------------------------------------------------ Xeno-canto

XC_API = "https://xeno-canto.org/api/3/recordings"


def mock_xc(m: requests_mock.Mocker, blobs: dict[str, bytes]) -> None:
    def pages(request: Any, context: Any) -> dict[str, Any]:
        qs = parse_qs(urlparse(request.url).query)
        assert qs["key"] == ["test-key"]
        return load("xc", f"recordings_page{qs.get('page', ['1'])[0]}.json")

    m.get(re.compile(re.escape(XC_API)), json=pages)
    m.get("https://xeno-canto.org/100001/download", content=blobs["mp3"])
    m.get("https://xeno-canto.org/100002/download", content=blobs["m4a2"])
    m.get("https://xeno-canto.org/100004/download", content=blobs["wav"])


class FakeResolver:
    """Stands in for iNaturalist's taxa lookup: knows Hyla versicolor and Strix varia only."""

    def __init__(self) -> None:
        from catalog.taxonomy import Lineage

        self.known = {
            "Hyla versicolor": (Lineage("Amphibia", "Anura", "Hylidae", "Hyla", "Hyla versicolor"), "Gray Treefrog", 24255),
            "Strix varia": (Lineage("Aves", "Strigiformes", "Strigidae", "Strix", "Strix varia"), "Barred Owl", 19893),
        }

    def resolve(self, name: str) -> tuple[Any, str, int] | None:
        return self.known.get(name)


def test_xeno_canto_recordings_keep_recordist_licence_and_number(tmp_path: Path, db_url: str) -> None:
    settings = make_settings(tmp_path, xc_key="test-key")
    cat = settings.open_catalog(db_url)
    with requests_mock.Mocker() as m:
        mock_xc(m, media_bytes(tmp_path))
        report = cat.ingest(XenoCantoSource(settings.fetch_config(), settings.xc_api_key(),
                                            'grp:frogs cnt:"United States"', resolver=FakeResolver()))
    assert report.added == 3, report.failures
    reasons = dict((item, reason) for item, _, reason in report.failures)
    assert "not identified to species" in reasons["XC100003"]
    assert "no file URL" in reasons["XC100005"]
    with cat.sessions() as s:
        rec = s.scalar(select(Media).where(Media.source_id == "XC100001"))
        assert rec.source == "xc"
        assert rec.license == "cc-by-nc-sa"
        assert rec.rights_holder == "Ada Frog"
        assert "XC100001" in rec.attribution
        assert "Ada Frog" in rec.attribution
        assert "creativecommons.org/licenses/by-nc-sa/4.0" in rec.attribution
        assert rec.lat == pytest.approx(42.46)
        assert rec.lon == pytest.approx(-71.35)
        assert str(s.scalar(select(Media.observed_on).where(Media.source_id == "XC100002"))) == "2019-05-01"
        # not known to the resolver: its genus (Hyla, from XC100001) carries it
        cope = s.scalar(select(Taxon).where(Taxon.name == "Hyla chrysoscelis"))
        assert (cope.class_name, cope.family_name) == ("Amphibia", "Hylidae")
    cat.close()


def test_xeno_canto_needs_a_key_and_reports_refusals(tmp_path: Path) -> None:
    with pytest.raises(XenoCantoError, match="VITA_XC_KEY"):
        XenoCantoSource(make_settings(tmp_path).fetch_config(), None, "gen:Hyla")
    settings = make_settings(tmp_path, xc_key="bad-key")
    cat = settings.open_catalog()
    with requests_mock.Mocker() as m:
        m.get(re.compile(re.escape(XC_API)), status_code=401, json=load("xc", "error_401.json"))
        report = cat.ingest(XenoCantoSource(settings.fetch_config(), settings.xc_api_key(), "gen:Hyla"))
    assert report.failed == 1
    assert "No valid API key" in report.failures[0][2]
    assert cat.failures()[0].stage == "source"
    assert species_query("hyla Versicolor") == 'sp:"hyla versicolor"'
    cat.close()


def test_inat_taxonomy_resolver(tmp_path: Path) -> None:
    taxa = {t["id"]: t for t in load("inat", "taxa_by_id.json")["results"]}
    species = load("inat", "observations.json")["results"][0]["taxon"]
    resolver = INatTaxonomy(api_session(tmp_path / "cache", per_second=1000))
    with requests_mock.Mocker() as m:
        m.get(re.compile(re.escape(API) + r"/taxa\?"), json={"total_results": 1, "page": 1, "per_page": 30,
                                                               "results": [species]})
        m.get(re.compile(re.escape(API) + r"/taxa/[\d,]+"), json={"total_results": len(taxa), "page": 1,
                                                                    "per_page": 30, "results": list(taxa.values())})
        lineage, common, tid = resolver.resolve("Hyla versicolor")  # type: ignore[misc]  # a known name: never None
    assert lineage.names() == ("Amphibia", "Anura", "Hylidae", "Hyla", "Hyla versicolor")
    assert (common, tid) == ("Gray Treefrog", 24255)
