"""Helpers the test modules share (plain functions, not fixtures; fixtures live in conftest.py):
settings for a temp dir, the small world, writers for real media files, and curators' folders."""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import soundfile as sf
from PIL import Image

from catalog.facade import Catalog
from vita.settings import Settings


def tone(seconds: float = 1.0, sr: int = 22050, freq: float = 440.0, amp: float = 0.3,
         channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    x = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def write_audio(path: Path, seconds: float = 1.0, sr: int = 22050, freq: float = 440.0, **kw: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    x = tone(seconds, sr, freq, **kw)  # type: ignore[arg-type]  # kw are tone's amp and channels
    ext = path.suffix.lower()
    if ext in (".m4a", ".mp4", ".aac"):
        with av.open(str(path), "w", format="mp4" if ext != ".aac" else "adts") as c:
            st = c.add_stream("aac", rate=sr)
            st.layout = "mono"
            frame = av.AudioFrame.from_ndarray(x.reshape(1, -1), format="flt", layout="mono")
            frame.sample_rate = sr
            for p in st.encode(frame):
                c.mux(p)
            for p in st.encode(None):
                c.mux(p)
    else:
        fmt = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".mp3": "MP3"}[ext]
        subtype = {"OGG": "VORBIS", "MP3": "MPEG_LAYER_III"}.get(fmt)
        sf.write(path, x, sr, format=fmt, subtype=subtype)
    return path


def write_image(path: Path, size: tuple[int, int] = (48, 32), color: tuple[int, int, int] = (200, 80, 40),
                mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", size, color)
    img.paste((10, 10, 10), (0, 0, size[0] // 2, size[1] // 2))
    if mode != "RGB":
        img = img.convert(mode)
    img.save(path)
    return path


def truncate(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


COLUMNS = ["catalogNumber", "file", "scientificName", "vernacularName", "class", "order", "family", "genus",
           "license", "rightsHolder", "eventDate", "decimalLatitude", "decimalLongitude"]
HYLA = ["Amphibia", "Anura", "Hylidae", "Hyla"]


def row(cat: str, file: str, name: str, lineage: list[str] | None = None, **kw: str) -> dict[str, str]:
    base = dict(zip(["class", "order", "family", "genus"], lineage or ["", "", "", ""]))
    return {"catalogNumber": cat, "file": file, "scientificName": name, "vernacularName": kw.pop("common", ""),
            **base, "license": kw.pop("license", "CC BY 4.0"), "rightsHolder": kw.pop("holder", "A. Curator"),
            "eventDate": kw.pop("date", "2021-06-25"), "decimalLatitude": kw.pop("lat", "42.1"),
            "decimalLongitude": kw.pop("lon", "-71.5"), **kw}


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str] = COLUMNS) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
    return path


def good_corpus(root: Path) -> list[dict[str, str]]:
    write_audio(root / "frogs/hv1.wav", 1.2)
    write_audio(root / "frogs/hv2.flac", 1.0, freq=880.0)
    write_audio(root / "frogs/hc1.m4a", 1.0, freq=660.0)
    write_image(root / "photos/hv.jpg")
    write_audio(root / "owls/sv1.mp3", 1.0, freq=500.0)
    return [
        row("H-1", "frogs/hv1.wav", "Hyla versicolor LeConte, 1825", HYLA, common="Gray Treefrog"),
        row("H-2", "frogs/hv2.flac", "Hyla versicolor", HYLA, license="http://creativecommons.org/publicdomain/zero/1.0/"),
        # no lineage columns, but the genus is known from the rows above
        row("H-3", "frogs/hc1.m4a", "Hyla chrysoscelis", date="2020-05"),
        row("H-4", "photos/hv.jpg", "Hyla versicolor", HYLA, date="2019-07-04T21:30:00Z"),
        row("O-1", "owls/sv1.mp3", "Strix varia", ["Aves", "Strigiformes", "Strigidae", "Strix"],
            common="Barred Owl", license="CC BY-NC"),
    ]


def hostile_corpus(root: Path) -> tuple[list[dict[str, str]], dict[str, str]]:
    """Rows for a corpus full of trouble; returns (rows, {item fragment: reason fragment})."""
    root.mkdir(parents=True, exist_ok=True)
    rows = good_corpus(root)
    (root / "bad").mkdir()
    (root / "bad/empty.wav").touch()
    write_audio(root / "bad/cut.flac", 3.0) and truncate(root / "bad/cut.flac")
    (root / "bad/notes.wav").write_text("field notes\n" * 20)
    write_image(root / "bad/pic.png").rename(root / "bad/pic.wav")
    sf.write(root / "bad/silent.wav", np.zeros(8000, np.float32), 8000)
    nan = tone(1.0, 8000)
    nan[10:20] = np.nan
    sf.write(root / "bad/nan.wav", nan, 8000, subtype="FLOAT")
    write_audio(root / "bad/long.flac", 8.0, sr=8000)
    with (root / "bad/huge.wav").open("wb") as fh:
        fh.write(b"RIFF")
        fh.truncate(3 * 1024**2)
    (root.parent / "outside.wav").write_bytes((root / "frogs/hv1.wav").read_bytes())
    write_audio(root / "bad/orphan.wav", 1.0, freq=300.0)
    write_audio(root / "bad/nameless.wav", 1.0, freq=310.0)
    write_audio(root / "bad/baddate.wav", 1.0, freq=320.0)
    write_audio(root / "bad/badlat.wav", 1.0, freq=330.0)
    rows += [
        row("B-1", "bad/empty.wav", "Hyla versicolor", HYLA),
        row("B-2", "bad/cut.flac", "Hyla versicolor", HYLA),
        row("B-3", "bad/notes.wav", "Hyla versicolor", HYLA),
        row("B-4", "bad/pic.wav", "Hyla versicolor", HYLA),
        row("B-5", "bad/silent.wav", "Hyla versicolor", HYLA),
        row("B-6", "bad/nan.wav", "Hyla versicolor", HYLA),
        row("B-7", "bad/long.flac", "Hyla versicolor", HYLA),
        row("B-8", "bad/huge.wav", "Hyla versicolor", HYLA),
        row("B-9", "../outside.wav", "Hyla versicolor", HYLA),
        row("B-10", "bad/orphan.wav", "Nonexistus imaginarius"),
        row("B-11", "bad/nameless.wav", ""),
        row("B-12", "bad/baddate.wav", "Hyla versicolor", HYLA, date="31/31/2020"),
        row("B-13", "bad/badlat.wav", "Hyla versicolor", HYLA, lat="123.4"),
        row("B-14", "bad/missing.wav", "Hyla versicolor", HYLA),
        row("B-15", "frogs/hv1.wav", "Hyla versicolor", HYLA),  # same file again under another id
    ]
    expected = {
        "empty.wav": "empty", "cut.flac": "", "notes.wav": "text", "pic.wav": "PNG", "silent.wav": "silent",
        "nan.wav": "NaN", "long.flac": "limit", "huge.wav": "limit", "outside.wav": "escapes the corpus root",
        "orphan.wav": "unknown species 'Nonexistus imaginarius'", "nameless.wav": "missing scientificName",
        "baddate.wav": "bad date", "badlat.wav": "outside", "missing.wav": "not found",
    }
    return rows, expected


def make_settings(tmp: Path, **overrides: object) -> Settings:
    """Settings for a test: its own data dir, and no politeness delays against mocked servers."""
    values: dict[str, object] = {"data_dir": tmp / "data", "requests_per_second": 1000.0, **overrides}
    return Settings(**values)  # type: ignore[arg-type]  # pydantic-settings takes field names


def small_world(root: Path) -> tuple[Catalog, Settings, Path]:
    """The small demo world in its own data dir, and a random-weight tiny model saved beside it:
    enough for tests of machinery (indexing, search, UI), not of accuracy."""
    from catalog.sources.demo import DemoWorldSource
    from encoders.factory import create_encoder, save_vita

    settings = make_settings(root)
    cat = settings.open_catalog()
    assert cat.ingest(DemoWorldSource(settings.media_dir, "small")).failed == 0
    save_vita(create_encoder("tiny", pretrained=False), root / "model")
    return cat, settings, root / "model"


def real_corpus_deb() -> Path:
    """GCompris's data .deb (real animal sounds and photos), fetched once into a cache; a test
    that needs it is skipped where apt cannot fetch it, unless VITA_REQUIRE_REAL_MEDIA is set
    (make test sets it, so CI cannot pass by skipping)."""
    import os

    import pytest

    from catalog.sources.packaged.gcompris import PackageError, cached_deb

    try:
        return cached_deb(Path(os.environ.get("VITA_DEB_CACHE", Path.home() / ".cache" / "vita" / "debs")))
    except PackageError as exc:
        if os.environ.get("VITA_REQUIRE_REAL_MEDIA"):
            pytest.fail(f"the real-media corpus is required here: {exc}")
        pytest.skip(f"no real-media corpus: {exc}")


@contextlib.contextmanager
def serving(args: list[str], env: dict[str, str], ready_url: str, what: str, tries: int = 240) -> Iterator[None]:
    """`python -m vita.cli ARGS` as a process (its own session) until `ready_url` answers 200;
    stopped (SIGTERM, then SIGKILL) when the block ends."""
    import subprocess
    import sys
    import time

    import pytest
    import requests

    from workers.processes import stop_group

    proc = subprocess.Popen([sys.executable, "-m", "vita.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    for _ in range(tries):
        try:
            if requests.get(ready_url, timeout=1).ok:
                break
        except requests.RequestException:
            pass
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"{what} did not start: {proc.stdout.read().decode() if proc.stdout else ''}")
    try:
        yield
    finally:
        stop_group(proc, timeout=20)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def copy_data_dir(src: Path, dst: Path) -> Path:
    """A data dir's catalog (SQLite, with what is still in its write-ahead log) and embedded index
    (without its owner's lock), for a server process while this one holds the original open."""
    import shutil
    import sqlite3

    dst.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(src / "catalog.sqlite") as a, sqlite3.connect(dst / "catalog.sqlite") as b:
        a.backup(b)
    shutil.copytree(src / "index", dst / "index", ignore=shutil.ignore_patterns(".lock"))
    return dst
