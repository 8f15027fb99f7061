"""The whole recipe for a preset, stage by stage, each stage starting from the previous one's result.

tiny: stage 0 (image-text, standing in for BioCLIP 2's pretraining) -> stage 1 -> stage 2.
biovita: stage 1 -> stage 2 from the released towers (stage 0 is BioCLIP 2 itself).
field: adapters only, from ConSE (encoders.field): stage 0 (image adapter against the text) ->
stage 1 (audio adapter, ATC) -> stage 2; each epoch is cheap once the towers' outputs are memoised.
The final model is copied to `<data>/models/<name>`, where `vita index` and search look for it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from catalog.facade import Catalog
from training.trainer import TrainConfig, TrainResult, train

#: Epochs and learning rates per stage for the tiny preset on this kind of machine (2 CPU cores).
#: A tiny transformer from scratch needs a warm-up (without one, stage 1 sat flat for ~250 steps).
TINY_STAGES: dict[int, dict[str, float | str]] = {
    0: {"epochs": 40, "lr": 2e-3, "batch_size": 64, "warmup_steps": 50, "schedule": "cosine"},
    1: {"epochs": 30, "lr": 1e-3, "batch_size": 32, "warmup_steps": 100, "schedule": "cosine"},
    2: {"epochs": 4, "lr": 1e-3, "batch_size": 32, "warmup_steps": 0, "schedule": "cosine"},
}
BIOVITA_STAGES: dict[int, dict[str, float | str]] = {
    1: {"epochs": 30, "lr": 1e-4, "batch_size": 64},
    2: {"epochs": 10, "lr": 1e-4, "batch_size": 64},
}

#: Linear adapters that start at ConSE: a gentle rate keeps what the towers' heads know.
FIELD_STAGES: dict[int, dict[str, float | str]] = {
    0: {"epochs": 4, "lr": 3e-4, "batch_size": 64, "warmup_steps": 0, "schedule": "cosine"},
    1: {"epochs": 8, "lr": 3e-4, "batch_size": 64, "warmup_steps": 0, "schedule": "cosine"},
    2: {"epochs": 2, "lr": 3e-4, "batch_size": 64, "warmup_steps": 0, "schedule": "cosine"},
}
PLANS = {"tiny": TINY_STAGES, "field": FIELD_STAGES}


@dataclass
class RecipeResult:
    model_dir: Path
    stages: dict[int, TrainResult]


def run_recipe(catalog: Catalog, base: TrainConfig, runs_dir: Path, models_dir: Path, name: str,
               stages: list[int] | None = None,
               progress: Callable[..., None] | None = None) -> RecipeResult:
    plan = PLANS.get(base.preset, BIOVITA_STAGES)
    chosen = stages or sorted(plan)
    results: dict[int, TrainResult] = {}
    init = base.init
    for stage in chosen:
        knobs = plan.get(stage, {})
        cfg = replace(base, stage=stage, out_dir=runs_dir / name / f"stage{stage}", init=init,
                      epochs=int(knobs.get("epochs", base.epochs)) if base.epochs <= 0 else base.epochs,
                      lr=float(knobs.get("lr", base.lr)), batch_size=int(knobs.get("batch_size", base.batch_size)),
                      warmup_steps=int(knobs.get("warmup_steps", base.warmup_steps)),
                      schedule=str(knobs.get("schedule", base.schedule)))
        results[stage] = train(catalog, cfg, progress)
        init = str(results[stage].out_dir / ("best" if stage > 0 else "last"))
    final = Path(init) if init else None
    target = models_dir / name
    if final is not None and final.exists():
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(final, target, ignore=shutil.ignore_patterns("optimizer.pt", "trainer_state.json"))
    return RecipeResult(target, results)
