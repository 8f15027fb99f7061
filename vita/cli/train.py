"""`vita train`, `vita train-traits`, `vita evaluate`: the recipe, the trait probes, A2T evaluation."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from encoders.config import DEFAULT_PRESET
from vita.cli.common import (
    JsonOpt,
    ModelOpt,
    PresetOpt,
    SeedOpt,
    console,
    emit_json,
    model_dir,
    open_catalog,
    progress_bars,
    settings,
)


def train(preset: str = DEFAULT_PRESET, name: str | None = None, stages: list[int] | None = None,
          **overrides: object) -> Path:
    """Run the preset's recipe with progress bars, print the table; returns the model directory."""
    from training.recipe import run_recipe
    from training.trainer import TrainConfig

    s = settings()
    base = TrainConfig(preset=preset, **overrides)  # type: ignore[arg-type]  # overrides are TrainConfig fields
    with open_catalog() as cat, progress_bars() as update:
        result = run_recipe(cat, base, s.data_dir / "runs", s.models_dir, name or preset, stages,
                            update)
    t = Table("stage", "epochs", "loss", "val A2T top-1", "val A2T top-5", "seconds", title="training")
    for st, r in result.stages.items():
        h = r.history[-1] if r.history else {}
        t.add_row(str(st), str(len(r.history)), str(h.get("loss", "")), str(h.get("val_a2t_top1", "")),
                  str(h.get("val_a2t_top5", "")), str(round(sum(x["seconds"] for x in r.history))))
    console.print(t)
    console.print(f"model: [bold]{result.model_dir}[/bold]")
    return result.model_dir


def train_cmd(
    preset: PresetOpt = DEFAULT_PRESET,
    stage: Annotated[list[int] | None, typer.Option(help="Only these stages (0: image-text, tiny only; 1; 2).")] = None,
    name: Annotated[str | None, typer.Option(help="Run name; the model lands in <data>/models/<name>.")] = None,
    epochs: Annotated[int, typer.Option(help="Epochs per stage (0: the preset's recipe).")] = 0,
    init: Annotated[str | None, typer.Option(help="Start from this checkpoint (dir or hf-hub:).")] = None,
    template: Annotated[list[str] | None, typer.Option(help="Train with only these prompt templates.")] = None,
    random_order: Annotated[bool, typer.Option(help="Shuffle the taxonomic sequence (ablation).")] = False,
    max_steps: Annotated[int | None, typer.Option(help="At most this many steps per epoch (smoke runs).")] = None,
    seed: SeedOpt = 0,
) -> None:
    """Train the encoders: (stage 0 ->) stage 1 ATC -> stage 2 ATC + lambda (AIC + ITC)."""
    train(preset, name, stage, epochs=epochs, init=init, random_order=random_order, seed=seed,
          max_steps_per_epoch=max_steps, **({"templates": template} if template else {}))


def train_traits_cmd(
    model: ModelOpt = None,
    modality: Annotated[str, typer.Option(help="audio or image")] = "audio",
) -> None:
    """Fit linear trait probes on the frozen encoder's embeddings of the training media."""
    from training.probe_run import train_trait_probes

    ckpt = model_dir(model)
    with open_catalog() as cat:
        report = train_trait_probes(cat, ckpt, modality)
    t = Table("trait", "train accuracy / F1", title=f"trait probes ({modality}) -> {report['out']}")
    for k, v in report["train"].items():
        t.add_row(k, f"{v:.3f}")
    console.print(t)


def evaluate_cmd(model: ModelOpt = None, as_json: JsonOpt = False) -> None:
    """Audio -> text over all species' prompts on the test splits (seen and unseen species)."""
    from training.evaluate import a2t_report

    ckpt = model_dir(model)
    with open_catalog() as cat:
        rows = a2t_report(cat, ckpt)
    if as_json:
        emit_json([asdict(r) for r in rows])
        return
    t = Table("split", "query", "n", "top-1", "top-5", "top-1 genus", "top-1 family", "chance top-1",
              title=f"A2T over all species ({ckpt})")
    for r in rows:
        t.add_row(r.split, r.template, str(r.n), f"{r.top1:.3f}", f"{r.top5:.3f}", f"{r.top1_genus:.3f}",
                  f"{r.top1_family:.3f}", f"{r.chance_top1:.4f}")
    console.print(t)


def register(app: typer.Typer) -> None:
    app.command("train")(train_cmd)
    app.command("train-traits")(train_traits_cmd)
    app.command("evaluate")(evaluate_cmd)
