"""Detections out to the tools curators already use: Raven Pro selection tables and plain CSV.

A Raven selection table is tab-separated text, one row per selection, with `Selection`, `View`,
`Channel`, `Begin Time (s)`, `End Time (s)`, `Low Freq (Hz)`, `High Freq (Hz)`, then annotation
columns (here `Label` and `Score`). One table per recording opens beside that recording in Raven;
a combined table adds `Begin File` (the recording's file name) and `Begin Path`. The CSV is
`file,start,end,label,score` (BirdNET-Analyzer's plain form).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

RAVEN_COLUMNS = ("Selection", "View", "Channel", "Begin Time (s)", "End Time (s)", "Low Freq (Hz)", "High Freq (Hz)")
CSV_COLUMNS = ("file", "start", "end", "label", "score")


@dataclass(frozen=True)
class Detection:
    file: str  # the recording's path
    start: float  # seconds from the recording's start
    end: float
    label: str
    score: float
    low_hz: float = 0.0  # the band where the model knows it, else the spectrogram's
    high_hz: float = 8000.0


def _row(n: int, d: Detection) -> list[str]:
    return [str(n), "Spectrogram 1", "1", f"{d.start:.3f}", f"{d.end:.3f}", f"{d.low_hz:.1f}", f"{d.high_hz:.1f}"]


def write_raven(detections: list[Detection], out: Path, combined: bool = False) -> list[Path]:
    """Selection tables: one per recording in directory `out` (`<stem>.selections.txt`), or, with
    `combined`, one table at path `out` with `Begin File` and `Begin Path`. Returns the files written."""
    if combined:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, delimiter="\t", lineterminator="\n")
            w.writerow([*RAVEN_COLUMNS, "Begin File", "Begin Path", "Label", "Score"])
            for n, d in enumerate(sorted(detections, key=lambda d: (d.file, d.start)), start=1):
                w.writerow([*_row(n, d), Path(d.file).name, d.file, d.label, f"{d.score:.4f}"])
        return [out]
    out.mkdir(parents=True, exist_ok=True)
    by_file: dict[str, list[Detection]] = defaultdict(list)
    for d in detections:
        by_file[d.file].append(d)
    written = []
    for file, ds in sorted(by_file.items()):
        path = out / f"{Path(file).stem}.selections.txt"
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, delimiter="\t", lineterminator="\n")
            w.writerow([*RAVEN_COLUMNS, "Label", "Score"])
            for n, d in enumerate(sorted(ds, key=lambda d: d.start), start=1):
                w.writerow([*_row(n, d), d.label, f"{d.score:.4f}"])
        written.append(path)
    return written


def read_raven(path: Path) -> list[dict[str, str]]:
    """A selection table's rows by column name (what Raven and pandas read back)."""
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def write_csv(detections: list[Detection], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        for d in sorted(detections, key=lambda d: (d.file, d.start)):
            w.writerow([d.file, f"{d.start:.3f}", f"{d.end:.3f}", d.label, f"{d.score:.4f}"])
    return path
