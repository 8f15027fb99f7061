"""The released BioVITA Bench's format, on a small fake written here: ids/ indexes, task files per
level, a model whose embeddings are known, so every count can be made by hand."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from bench.biovita_bench import TASKS, load_tasks, run_biovita_bench

SPECIES = {"Hyla versicolor": ("Hyla", "Hylidae", "Amphibia"), "Hyla cinerea": ("Hyla", "Hylidae", "Amphibia"),
           "Strix aluco": ("Strix", "Strigidae", "Aves"), "Bubo bubo": ("Bubo", "Strigidae", "Aves")}
NAMES = list(SPECIES)
SR = 16000


class KnownModel:
    """One-hot embeddings: a sound by its amplitude, a photo by its red channel, a text by its name
    (a species, genus or family name points at its first species)."""

    cfg = SimpleNamespace(audio=SimpleNamespace(sample_rate=SR))

    @staticmethod
    def _onehot(idx: Sequence[int]) -> np.ndarray:
        return np.eye(len(NAMES), dtype=np.float32)[list(idx)]

    def embed_audio(self, waves: Sequence[np.ndarray]) -> np.ndarray:
        return self._onehot([round(float(np.abs(w).max()) * 10) - 1 for w in waves])

    def embed_image(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self._onehot([round(im.convert("RGB").getpixel((0, 0))[0] / 50) - 1 for im in images])

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        first = {}
        for i, (sp, (genus, family, _)) in enumerate(SPECIES.items()):
            for name in (sp, genus, family):
                first.setdefault(name, i)
        return self._onehot([first[t] for t in texts])


def _write(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def fake_bench(root: Path) -> None:
    """Two sounds and two photos per species (ids 10+ and 20+ by species), one text row each."""
    audio, image = [], []
    for i in range(len(NAMES)):
        for k in range(2):
            a = root / "audio" / f"{i}-{k}.wav"
            a.parent.mkdir(parents=True, exist_ok=True)
            sf.write(a, np.full(SR // 2, (i + 1) / 10, np.float32), SR)
            audio.append({"id": 10 + 2 * i + k, "file_path": f"audio/{i}-{k}.wav"})
            im = root / "image" / f"{i}-{k}.png"
            im.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (8, 8), ((i + 1) * 50, k, 0)).save(im)
            image.append({"id": 20 + 2 * i + k, "file_path": str(im)})  # absolute, as some releases write
    _write(root / "ids" / "audio_index.csv", audio)
    _write(root / "ids" / "image_index.csv", image)
    _write(root / "ids" / "text_index.csv", [{"id": 30 + i, "species": sp, "genus": g, "family": f, "class": c,
                                              "common_name": sp} for i, (sp, (g, f, c)) in enumerate(SPECIES.items())])
    first = {"audio": 10, "image": 20, "text": 30}
    per = {"audio": 2, "image": 2, "text": 1}
    for level in ("species", "genus", "family"):
        for task, stem in TASKS.items():
            q, t = stem.split("_to_")
            rows = []
            for i, sp in enumerate(NAMES):
                taxon = {"species": sp, "genus": SPECIES[sp][0], "family": SPECIES[sp][1]}[level]
                others = [j for j in range(len(NAMES)) if j != i]
                groups = [[first[t] + per[t] * j + k for k in range(per[t])] for j in [i, *others]]
                taxa = [taxon] + [f"other-{j}" for j in others]
                rows.append({"task": f"{task}_{level}", "taxon_level": level, "query_payload_id": first[q] + per[q] * i,
                             "candidates_target_ids": json.dumps(groups), "candidates_taxa": json.dumps(taxa),
                             "correct_taxon": taxon, "taxon_class": SPECIES[sp][2]})
            rows.append({**rows[0], "correct_taxon": "Nowhere nowhere"})  # not among its candidates: skipped
            _write(root / level / f"test_{stem}.csv", rows)


def test_the_released_format_is_scored_by_the_paper_s_protocol(tmp_path: Path) -> None:
    fake_bench(tmp_path)
    tasks = load_tasks(tmp_path)
    assert set(tasks) == {(t, lv) for t in TASKS for lv in ("species", "genus", "family")}
    data = run_biovita_bench(KnownModel(), tmp_path, log=lambda _: None)
    rows = {(r["task"], r["level"]): r for r in data["rows"]}
    # by hand: a genus or family name points at its first species, so the text of two species of one
    # taxon is one point; a tie counts against the model
    expected = {("A2T", "genus"): 0.5, ("I2T", "genus"): 0.5, ("T2A", "genus"): 0.75, ("T2I", "genus"): 0.75,
                ("A2T", "family"): 0.0, ("I2T", "family"): 0.0, ("T2A", "family"): 0.5, ("T2I", "family"): 0.5}
    for (task, level), r in rows.items():
        assert r["n"] == 4, (task, level)
        assert r["skipped_not_in_candidates"] == 1, (task, level)
        assert r["top"][1] == expected.get((task, level), 1.0), (task, level)
        assert r["top"][5] == 1.0  # 4 candidates
    assert rows[("T2A", "genus")]["per_class"] == {"Amphibia": 0.5, "Aves": 1.0}


def test_a_directory_that_is_not_the_benchmark_is_refused(tmp_path: Path) -> None:
    from catalog.errors import ConfigError

    with pytest.raises(ConfigError, match="no task files"):
        load_tasks(tmp_path)
    fake_bench(tmp_path)
    (tmp_path / "ids" / "text_index.csv").unlink()
    with pytest.raises(ConfigError, match="text_index.csv: missing"):
        run_biovita_bench(KnownModel(), tmp_path, log=lambda _: None)


def test_vita_bench_retrieval_reads_the_released_benchmark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from encoders.factory import create_encoder, save_vita
    from vita.cli import app

    fake_bench(tmp_path / "bench")
    save_vita(create_encoder("tiny", pretrained=False), tmp_path / "model")
    monkeypatch.setenv("VITA_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(app, ["bench", "retrieval", "--biovita-bench", str(tmp_path / "bench"), "--model",
                                      str(tmp_path / "model"), "--out", str(tmp_path / "out"), "--run", "r"])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "out" / "r" / "biovita-bench.json").read_text())
    assert len(data["rows"]) == 18
    assert all(r["n"] == 4 for r in data["rows"])
    assert "| species |" in (tmp_path / "out" / "r" / "biovita-bench.md").read_text()
