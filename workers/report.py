"""What an index run reports: counts, failures, and where its time went (start-up, steady state,
optimize, each batch in its worker, the coordinator's commits)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class IndexReport:
    media_collection: str
    taxa_collection: str
    model: str
    planned: int = 0
    indexed: int = 0
    failed: int = 0
    points: int = 0
    taxa_points: int = 0
    redispatched: int = 0
    seconds: float = 0.0
    #: where the time went: until the first batch was back (worker start, model load, that batch),
    #: the steady state after it (`steady_items` media in `steady_s`), and the final optimize
    startup_s: float = 0.0
    steady_s: float = 0.0
    steady_items: int = 0
    optimize_s: float = 0.0
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (file, stage, reason)
    #: each batch's timing in its worker process (`indexer.build.batch_timing`), and the seconds this
    #: process spent committing batches (store and catalog) and how many: the run's profile
    batch_timings: list[dict[str, float]] = field(default_factory=list)
    commit_s: float = 0.0
    commits: int = 0

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def profile(self) -> dict[str, float | int | None]:
        """Where a run's time went, from its batches' timings. `busy`: the share of each worker
        process's span (first batch start to last end) spent inside batches; `model`: the share of
        batch time in the model's forward passes (the rest: decoding it waited on, the catalog, a
        worker's own commit); `gap_ms`: the median time a process waited between two batches (broker
        and result round trips); `commit_ms`: this process's mean commit per batch it stored."""
        by_pid: dict[float, list[dict[str, float]]] = {}
        for t in self.batch_timings:
            if {"pid", "start", "end", "model_s"} <= t.keys():
                by_pid.setdefault(t["pid"], []).append(t)
        inside = span = model = 0.0
        gaps: list[float] = []
        for mine in by_pid.values():
            mine.sort(key=lambda t: t["start"])
            inside += sum(t["end"] - t["start"] for t in mine)
            model += sum(t["model_s"] for t in mine)
            span += mine[-1]["end"] - mine[0]["start"]
            gaps += [b["start"] - a["end"] for a, b in zip(mine, mine[1:])]
        gaps.sort()
        return {"processes": len(by_pid),
                "busy": round(inside / span, 3) if span > 0 else None,
                "model": round(model / inside, 3) if inside > 0 else None,
                "gap_ms": round(1000 * gaps[len(gaps) // 2], 1) if gaps else None,
                "commit_ms": round(1000 * self.commit_s / self.commits, 1) if self.commits else None}

    @property
    def steady_per_s(self) -> float | None:
        """Media per second once the first batch is back (None: too few batches to tell)."""
        return self.steady_items / self.steady_s if self.steady_items and self.steady_s > 0 else None
