"""Detections from a query: a synthetic 2-hour night with Gray Treefrog calls at known offsets,
indexed with the shipped tiny model, searched with another (synthetic) call of the species through
`vita detect run`; the boxes exported to Raven carry the call's frequency band."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from catalog.facade import Catalog
from catalog.sources.demo import sound
from catalog.sources.demo.world import latent, species_list
from catalog.sources.folder import FolderSource
from encoders.pretrained import shipped
from indexer.detect import band, for_export, merge
from indexer.raven import RAVEN_COLUMNS, Detection, read_raven
from tests.support import HYLA, make_settings, row, write_csv
from vita.settings import Settings
from workers.indexing import IndexOptions, run_index

SR = 16000
CALL_S = 4.0


def _gray_treefrog() -> sound.CallParams:
    sp = next(s for s in species_list() if s.name == "Hyla versicolor")
    return sound.params_for(sp.lineage, latent(sp.lineage, 0))


def _night(path: Path, seconds: int, rng: np.random.Generator) -> np.ndarray:
    """Pink and white noise with one call in every third minute (at a random second of it), written
    a minute at a time; returns the calls' offsets."""
    p = _gray_treefrog()
    slots = np.arange(30, seconds - 30, 60)
    offsets = np.sort(rng.choice(slots, seconds // 180, replace=False) + rng.uniform(0, 20, seconds // 180))
    with sf.SoundFile(path, "w", SR, 1, subtype="PCM_16") as fh:
        for m in range(seconds // 60):
            x = 0.03 * sound._pink_noise(60 * SR, rng) + 0.01 * rng.standard_normal(60 * SR).astype(np.float32)
            for o in offsets[(offsets >= m * 60) & (offsets < (m + 1) * 60)]:
                i = int((o - m * 60) * SR)
                x[i:i + int(CALL_S * SR)] += 0.5 * sound.render(p, CALL_S, SR, rng)
            fh.write(x.astype(np.float32))
    return offsets


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Catalog, Settings, np.ndarray, Path]]:
    root = tmp_path_factory.mktemp("night")
    folder = root / "recordings"
    folder.mkdir()
    offsets = _night(folder / "night.wav", 7200, np.random.default_rng(7))
    write_csv(folder / "metadata.csv", [row("N-1", "night.wav", "Hyla versicolor", HYLA)])
    query = root / "query.wav"  # another individual's call, not in the recording
    sf.write(query, sound.render(_gray_treefrog(), 6.0, SR, np.random.default_rng(99)), SR)
    settings = make_settings(root)
    cat = settings.open_catalog()
    assert cat.ingest(FolderSource(folder)).added == 1
    model = shipped("tiny")
    assert model is not None
    report = run_index(cat, settings.index_config(), str(model), IndexOptions(eager=True))
    assert report.failed == 0
    assert report.points == 1439
    yield cat, settings, offsets, query
    cat.close()


def _overlaps(start: float, end: float, offsets: np.ndarray) -> bool:
    return bool(np.any((offsets < end) & (offsets + CALL_S > start)))


@pytest.mark.slow
def test_a_sound_query_finds_the_calls_of_a_two_hour_night(night: tuple[Catalog, Settings, np.ndarray, Path],
                                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vita.cli import app

    cat, settings, offsets, query = night
    monkeypatch.setenv("VITA_DATA_DIR", str(settings.data_dir))
    runner = CliRunner()
    refused = runner.invoke(app, ["detect", "run", "gray treefrog", "--audio", str(query)])
    assert refused.exit_code == 2
    assert "--threshold" in refused.output  # a query's threshold is the model's
    out = tmp_path / "night.selections.txt"
    r = runner.invoke(app, ["detect", "run", "gray treefrog", "--audio", str(query), "--threshold", "0.1",
                            "--out", str(out), "--format", "raven-combined"])
    assert r.exit_code == 0, r.output
    found = for_export(cat, "gray treefrog", bands=False)
    assert found
    assert f"{len(found)} detection(s)" in r.output
    # every call recovered within one window (a detection whose window overlaps it), and most
    # detections hold a call: far fewer than the 1,439 windows of the night
    recovered = [any(d.start < o + CALL_S and d.end > o for d in found) for o in offsets]
    assert np.mean(recovered) >= 0.9, (sum(recovered), len(offsets))
    precision = np.mean([_overlaps(d.start, d.end, offsets) for d in found])
    assert precision >= 0.8 and len(found) < 4 * len(offsets), (precision, len(found))
    # the combined Raven table reads back with its columns, one row per detection, each box in the
    # band of the Gray Treefrog's calls (its f0 inside the box, the box under half the spectrum wide)
    rows = read_raven(out)
    assert len(rows) == len(found)
    assert {*RAVEN_COLUMNS, "Begin File", "Label", "Score"} <= set(rows[0])
    f0 = _gray_treefrog().f0
    boxed = [float(x["Low Freq (Hz)"]) <= f0 <= float(x["High Freq (Hz)"])
             and float(x["High Freq (Hz)"]) - float(x["Low Freq (Hz)"]) < SR / 4 for x in rows
             if _overlaps(float(x["Begin Time (s)"]), float(x["End Time (s)"]), offsets)]
    assert np.mean(boxed) >= 0.8
    assert all(float(x["High Freq (Hz)"]) < SR / 2 for x in rows)
    again = runner.invoke(app, ["detect", "run", "gray treefrog", "--audio", str(query), "--threshold", "0.1"])
    assert again.exit_code == 0
    assert len(for_export(cat, "gray treefrog", bands=False)) == len(found)  # replaced
    # a text query runs the same way (the tiny model's text side is weak: its detections are not scored here);
    # a higher threshold keeps only the windows scoring at least it: a strict subset of a lower one's
    by_text = runner.invoke(app, ["detect", "run", "by name", "--text", "Hyla versicolor", "--threshold", "0.0"])
    assert by_text.exit_code == 0, by_text.output
    text_found = for_export(cat, "by name", bands=False)
    assert f"{len(text_found)} detection(s)" in by_text.output
    assert all(d.score >= 0.0 for d in text_found)
    higher = float(np.median([d.score for d in text_found]))
    strict = runner.invoke(app, ["detect", "run", "by name, strict", "--text", "Hyla versicolor",
                                 "--threshold", f"{higher:.4f}"])
    assert strict.exit_code == 0, strict.output
    kept = for_export(cat, "by name, strict", bands=False)
    assert kept
    assert all(d.score >= higher - 1e-4 for d in kept)
    assert len(kept) < len(text_found)
    assert {(d.file, d.start) for d in kept} <= {(d.file, d.start) for d in text_found}
    assert len(for_export(cat, "gray treefrog", bands=False)) == len(found)  # another label's are untouched


def test_band_is_where_the_call_is_not_the_noise(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(4 * SR) / SR
    x = 0.02 * rng.standard_normal(len(t))
    x[SR:3 * SR] += 0.3 * np.sin(2 * np.pi * 2500 * t[SR:3 * SR])
    sf.write(tmp_path / "tone.wav", x.astype(np.float32), SR)
    low, high = band(str(tmp_path / "tone.wav"), 0.0, 4.0)
    assert 2000 < low <= 2500 <= high < 3000, (low, high)
    assert band(str(tmp_path / "missing.wav"), 0.0, 4.0) == (0.0, 8000.0)  # unreadable: the whole band


def test_merge_joins_overlapping_windows_of_one_recording() -> None:
    ds = [Detection("a.wav", 0, 10, "x", 0.2, 100, 900), Detection("a.wav", 5, 15, "x", 0.6, 200, 1200),
          Detection("a.wav", 20, 30, "x", 0.3), Detection("b.wav", 5, 15, "x", 0.9)]
    merged = merge(ds)
    assert [(d.file, d.start, d.end, d.score) for d in merged] == [("a.wav", 0, 15, 0.6), ("a.wav", 20, 30, 0.3),
                                                                   ("b.wav", 5, 15, 0.9)]
    assert (merged[0].low_hz, merged[0].high_hz) == (100, 1200)
