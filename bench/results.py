"""Where a benchmark run writes: `bench/results/<run>/<suite>.json|.md|*.png`, plus `latest` pointing at it.

JSON holds every number (and the settings that produced them); Markdown holds the tables the
README copies; plots are PNGs drawn with matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_ROOT = Path("bench/results")


def machine() -> dict[str, Any]:
    """What the figures were measured on; speed numbers mean nothing without it."""
    import torch

    info: dict[str, Any] = {"host": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version(),
                            "torch": torch.__version__, "cuda": torch.cuda.is_available()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    try:
        import psutil

        info["memory_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:  # pragma: no cover - psutil is a dependency
        pass
    return info


@dataclass
class BenchRun:
    """One run directory; suites add their files to it."""

    root: Path = DEFAULT_ROOT
    name: str = field(default_factory=lambda: dt.datetime.now().strftime("%Y%m%d-%H%M%S"))
    latest: bool = True  # point `latest` at this run (the suites of `vita bench`; not side studies)

    @property
    def dir(self) -> Path:
        d = self.root / self.name
        d.mkdir(parents=True, exist_ok=True)
        return d

    def write(self, suite: str, data: dict[str, Any], markdown: str) -> tuple[Path, Path]:
        js = self.dir / f"{suite}.json"
        md = self.dir / f"{suite}.md"
        js.write_text(json.dumps({"suite": suite, "machine": machine(), **data}, indent=1, default=_plain))
        md.write_text(markdown.rstrip() + "\n")
        latest = self.root / "latest"
        if self.latest and (latest.is_symlink() or not latest.exists()):
            tmp = self.root / ".latest.tmp"
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(self.name)
            tmp.replace(latest)
        return js, md

    def png(self, name: str) -> Path:
        return self.dir / f"{name}.png"


def _plain(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON: {type(obj).__name__}")


def pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None or x != x else f"{100 * x:.{digits}f}"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table; cells are str()-ed."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
