"""Annotations (a yes/no on a label for a window) through the Python API, a CSV and the CLI, and the
Raven selection tables and CSV that detections are exported to."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from catalog.annotations import AnnotationError, add, export_csv, import_csv, listed
from catalog.facade import Catalog
from catalog.sources.folder import FolderSource
from catalog.tables import AnnotationSource, Media
from indexer.raven import RAVEN_COLUMNS, Detection, read_raven, write_csv, write_raven
from tests.support import good_corpus
from tests.support import write_csv as write_rows


def _media(cat: Catalog, tmp_path: Path) -> list[int]:
    root = tmp_path / "corpus"
    write_rows(root / "metadata.csv", good_corpus(root))
    assert cat.ingest(FolderSource(root)).failed == 0
    with cat.sessions() as s:
        return list(s.scalars(select(Media.id).order_by(Media.id)))


def test_annotations_are_added_refused_listed_and_round_trip_through_csv(catalog: Catalog, tmp_path: Path) -> None:
    ids = _media(catalog, tmp_path)
    with catalog.sessions() as s:
        add(s, ids[0], "Hyla versicolor", True, 0.0, 1.0, AnnotationSource.UI)
        add(s, ids[1], "Hyla versicolor", False)
        for bad in (dict(media_id=99999, label="x", positive=True), dict(media_id=ids[0], label=" ", positive=True),
                    dict(media_id=ids[0], label="x", positive=True, offset_s=-1.0),
                    dict(media_id=ids[0], label="x", positive=True, offset_s=500.0)):
            with pytest.raises(AnnotationError):
                add(s, **bad)  # type: ignore[arg-type]
        s.commit()
        rows = listed(s, "Hyla versicolor")
    assert [(r.media_id, r.positive, r.source) for r in rows] == [(ids[0], True, "ui"), (ids[1], False, "cli")]
    out = export_csv(rows, tmp_path / "out.csv")
    with out.open() as fh:
        back = list(csv.DictReader(fh))
    assert [(int(r["media_id"]), r["positive"], r["file"]) for r in back] == [
        (ids[0], "1", rows[0].path), (ids[1], "0", rows[1].path)]
    # the exported file imports again; bad rows are named by line, the good ones added
    (tmp_path / "more.csv").write_text(out.read_text() + f"{ids[2]},0,,Strix varia,maybe,csv,,\n"
                                       f"abc,0,,Strix varia,yes,csv,,\n{ids[2]},0,,Strix varia,yes,,,\n")
    with catalog.sessions() as s:
        added, bad = import_csv(s, tmp_path / "more.csv")
        assert added == 3
        assert [line for line, _ in bad] == [4, 5]
        assert "maybe" in bad[0][1]
        # the re-imported rows replace their originals (one answer per item, window and label)
        assert len(listed(s)) == 3
        assert listed(s, "Strix varia")[0].source == "csv"


def test_cli_annotates_lists_and_exports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support import make_settings
    from vita.cli import app

    settings = make_settings(tmp_path)
    cat = settings.open_catalog()
    ids = _media(cat, tmp_path)
    cat.close()
    monkeypatch.setenv("VITA_DATA_DIR", str(settings.data_dir))
    runner = CliRunner()
    assert runner.invoke(app, ["annotate", "add", str(ids[0]), str(ids[1]), "--label", "frog"]).exit_code == 0
    assert runner.invoke(app, ["annotate", "add", str(ids[4]), "--label", "frog", "--no"]).exit_code == 0
    refused = runner.invoke(app, ["annotate", "add", "424242", "--label", "frog"])
    assert refused.exit_code == 2
    assert "no media #424242" in refused.output
    listed_out = runner.invoke(app, ["annotate", "list", "--label", "frog", "--json"])
    assert listed_out.exit_code == 0
    assert listed_out.output.count('"positive": true') == 2
    assert runner.invoke(app, ["annotate", "export", str(tmp_path / "a.csv")]).exit_code == 0
    assert len((tmp_path / "a.csv").read_text().splitlines()) == 4


def test_raven_tables_per_recording_and_combined_read_back(tmp_path: Path) -> None:
    dets = [Detection("/r/site1/a.wav", 12.0, 15.0, "Hyla versicolor", 0.91, 800.0, 3000.0),
            Detection("/r/site1/a.wav", 3.0, 6.0, "Hyla versicolor", 0.72),
            Detection("/r/site2/b.flac", 0.5, 3.5, "Strix varia", 0.55, 200.0, 1200.0)]
    per = write_raven(dets, tmp_path / "tables")
    assert [p.name for p in per] == ["a.selections.txt", "b.selections.txt"]
    a = read_raven(per[0])
    assert list(a[0]) == [*RAVEN_COLUMNS, "Label", "Score"]
    assert [(r["Selection"], r["Begin Time (s)"], r["End Time (s)"]) for r in a] == [("1", "3.000", "6.000"),
                                                                                     ("2", "12.000", "15.000")]
    assert a[1]["Low Freq (Hz)"] == "800.0"
    assert a[1]["View"] == "Spectrogram 1"
    assert a[1]["Channel"] == "1"
    both = read_raven(write_raven(dets, tmp_path / "all.txt", combined=True)[0])
    assert [r["Begin File"] for r in both] == ["a.wav", "a.wav", "b.flac"]
    assert both[2]["Label"] == "Strix varia"
    assert [r["Selection"] for r in both] == ["1", "2", "3"]
    assert both[2]["Begin Path"] == "/r/site2/b.flac"
    with write_csv(dets, tmp_path / "d.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["file", "start", "end", "label", "score"]
    assert rows[0]["score"] == "0.7200"
