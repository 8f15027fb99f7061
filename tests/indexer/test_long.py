"""A recording of hours is decoded, windowed and embedded a block at a time: its windows are the
same as the whole-file path's, and indexing it takes the memory a 10-minute one takes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from catalog.sources.folder import FolderSource
from encoders.pretrained import shipped
from tests.support import HYLA, make_settings, row, write_csv

pytestmark = pytest.mark.slow
SR = 8000


def _recording(path: Path, seconds: int) -> Path:
    """Tone bursts over noise, written a minute at a time (the test never holds it whole either)."""
    rng = np.random.default_rng(seconds)
    with sf.SoundFile(path, "w", SR, 1, subtype="PCM_16") as fh:
        t = np.arange(60 * SR) / SR
        for minute in range(seconds // 60):
            x = 0.02 * rng.standard_normal(len(t))
            x[: 2 * SR] += 0.3 * np.sin(2 * np.pi * (500 + 10 * (minute % 30)) * t[: 2 * SR])
            fh.write(x.astype(np.float32))
    return path


PROBE = """
import json, resource, sys
from vita.settings import Settings
from workers.indexing import IndexOptions, run_index
s = Settings()
cat = s.open_catalog()
r = run_index(cat, s.index_config(), sys.argv[1], IndexOptions(eager=True, only=[int(sys.argv[2])]))
print(json.dumps({"points": r.points, "failed": r.failed, "rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def test_two_hours_index_in_the_memory_of_ten_minutes(tmp_path: Path) -> None:
    folder = tmp_path / "long"
    folder.mkdir()
    _recording(folder / "ten-minutes.wav", 600)
    _recording(folder / "two-hours.wav", 7200)
    write_csv(folder / "metadata.csv", [row("L-1", "ten-minutes.wav", "Hyla versicolor", HYLA),
                                        row("L-2", "two-hours.wav", "Hyla versicolor", HYLA)])
    settings = make_settings(tmp_path)
    cat = settings.open_catalog()
    assert cat.ingest(FolderSource(folder)).added == 2
    from sqlalchemy import select

    from catalog.tables import Media

    with cat.sessions() as s:
        ids = dict(s.execute(select(Media.path, Media.id)).all())
    cat.close()
    model = shipped("tiny")
    assert model is not None
    env = {**os.environ, **settings.to_env()}
    runs = {}
    for name in ("ten-minutes.wav", "two-hours.wav"):
        mid = next(v for k, v in ids.items() if k.endswith(name))
        out = subprocess.run([sys.executable, "-c", PROBE, str(model), str(mid)], env=env, capture_output=True,
                             text=True, timeout=900)
        assert out.returncode == 0, out.stderr[-2000:]
        runs[name] = json.loads(out.stdout.strip().splitlines()[-1])
    short, long = runs["ten-minutes.wav"], runs["two-hours.wav"]
    assert short["failed"] == long["failed"] == 0
    assert (short["points"], long["points"]) == (119, 1439)  # 10 s windows every 5 s
    assert long["rss_kib"] <= 1.2 * short["rss_kib"], runs  # a 2-hour file held whole would add ~0.5-1 GB


def test_streamed_windows_are_the_whole_file_windows(tmp_path: Path) -> None:
    from catalog.decode import load_audio, stream_audio
    from encoders.audio import sliding_windows, stream_windows

    path = _recording(tmp_path / "r.wav", 180)
    sr, blocks = stream_audio(path, 16000)
    streamed = list(stream_windows(blocks, sr, 10.0, 5.0))
    whole, _ = load_audio(path, 16000)
    direct = sliding_windows(whole, 16000, 10.0, 5.0)
    assert [w.offset_s for w in streamed] == [w.offset_s for w in direct]
    # the streamed resampler's edges differ from one-shot resampling by a hair, never more
    assert max(float(np.abs(a.samples - b.samples).max()) for a, b in zip(streamed, direct)) < 1e-3
