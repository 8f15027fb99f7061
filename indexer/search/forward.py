"""A text query's forward pass in worker processes of its own.

A server's searches parse, filter, query the store and join under one interpreter lock; the text
tower's forward is a chain of small torch calls with Python between them, so two searches at once
in one process still take turns for most of it. `TextForward` runs it in `processes` spawned
processes (each loads the model once, one torch thread each) and hands the vector back: the
server's process keeps the rest, and a second core has work of its own. Each process holds a copy
of the model, so this is for models whose copy is cheap to hold (the tiny one) or servers with the
memory for it.
"""

from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from indexer.model_ref import load_model

_MODEL: Any = None


def _load(model_ref: str, preset: str) -> None:
    global _MODEL
    import torch  # loaded with the model

    torch.set_num_threads(1)
    _MODEL = load_model(model_ref, preset)


def _embed(texts: list[str]) -> np.ndarray:
    return np.asarray(_MODEL.embed_text(texts), np.float32)


class TextForward:
    """`embed_text` of a model, answered by a pool of processes; a drop-in for the model's own."""

    def __init__(self, model_ref: str, preset: str, processes: int) -> None:
        self._pool = ProcessPoolExecutor(processes, mp_context=mp.get_context("spawn"), initializer=_load,
                                         initargs=(model_ref, preset))
        for f in [self._pool.submit(_embed, ["warm"]) for _ in range(processes)]:
            f.result()  # every process loaded before the first query, or the pool's error now

    def __call__(self, texts: list[str]) -> np.ndarray:
        return self._pool.submit(_embed, list(texts)).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
