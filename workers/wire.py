"""What travels between the coordinator and the workers through Celery (JSON): one reply type for
a batch, and one codec for float32 matrices (a batch's vectors, the taxa's prompt vectors).

A matrix travels as one base64 string of its float32 bytes, not as one list per vector: a batch of
64 windows at 768-d is 200 KB instead of a megabyte of JSON numbers, and decodes in one call.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from indexer.build import BatchResult, Outcome
from indexer.store import Point


def encode_matrix(matrix: np.ndarray) -> str:
    """A float32 matrix as base64 text (its shape travels beside it)."""
    return base64.b64encode(np.ascontiguousarray(matrix, np.float32).tobytes()).decode()


def decode_matrix(data: str, dim: int) -> np.ndarray:
    """`encode_matrix`'s text back into a (rows, dim) float32 matrix."""
    return np.frombuffer(base64.b64decode(data), np.float32).reshape(-1, dim)


@dataclass
class BatchReply:
    """A batch's answer. `committed`: the worker stored it itself (a Qdrant server); then only its
    outcomes and timing come back. Otherwise `result` holds the points for the coordinator to store."""

    committed: bool
    outcomes: list[Outcome]
    timing: dict[str, float] = field(default_factory=dict)
    result: BatchResult | None = None

    @classmethod
    def stored(cls, result: BatchResult) -> BatchReply:
        return cls(True, result.outcomes, result.timing)

    @classmethod
    def to_store(cls, result: BatchResult) -> BatchReply:
        return cls(False, result.outcomes, result.timing, result)

    @classmethod
    def failed(cls, media_ids: list[int], exc: BaseException) -> BatchReply:
        """A batch that failed as a whole: each of its items recorded with the reason."""
        reason = f"batch failed: {type(exc).__name__}: {exc}"
        return cls(False, [Outcome(m, f"media #{m}", 0, "index", reason) for m in media_ids], {}, BatchResult())

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"committed": self.committed, "outcomes": [asdict(o) for o in self.outcomes],
                               "timing": self.timing}
        points = self.result.points if self.result else []
        if points:
            matrix = np.stack([np.asarray(p.vector, np.float32) for p in points])
            out.update(ids=[p.id for p in points], payloads=[p.payload for p in points], dim=matrix.shape[1],
                       vectors=encode_matrix(matrix))
        return out

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> BatchReply:
        outcomes = [Outcome(**o) for o in data.get("outcomes", [])]
        timing = data.get("timing") or {}
        if data.get("committed"):
            return cls(True, outcomes, timing)
        ids = data.get("ids", [])
        points = []
        if ids:  # none: every item failed
            matrix = decode_matrix(data["vectors"], int(data["dim"]))
            points = [Point(pid, vec, payload) for pid, vec, payload in zip(ids, matrix, data["payloads"])]
        return cls(False, outcomes, timing, BatchResult(points, outcomes, timing))
