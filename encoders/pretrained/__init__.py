"""Checkpoints shipped inside the package, so a first run searches in minutes instead of training.

`tiny/` is the tiny preset trained by its whole recipe on the default demo world (synthetic media,
seed 0), stored as fp16 safetensors (half the bytes; it loads into the fp32 model unchanged in
shape). `make tiny-checkpoint` reproduces it (`training.ship`) and writes beside it the A2T scores it
must keep on the small demo world, which a test checks.
"""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).parent
SCORES = "scores.json"


def shipped(name: str) -> Path | None:
    """The shipped checkpoint directory of this name, if the package has one."""
    path = ROOT / name
    return path if (path / "vita_config.json").is_file() and (path / "model.safetensors").is_file() else None


def install(name: str, models_dir: Path) -> Path | None:
    """Copy the shipped checkpoint to `<models_dir>/<name>` (byte for byte: its index key stays the same)."""
    src = shipped(name)
    if src is None:
        return None
    target = models_dir / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(src, target)
    return target
