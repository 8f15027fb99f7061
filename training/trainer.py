"""Two-stage training (BioVITA 4.2), plus the stand-in pretraining a tiny model needs first.

- stage 0 (tiny preset only): image-text contrastive training on the catalog's photos with
  taxonomic prompts. BioVITA starts from BioCLIP 2, whose towers already know taxonomy; a
  tiny model from scratch needs that first, or its frozen text tower would be noise.
- stage 1: ATC only; the image and text towers are frozen, the audio tower (and temperature) learn.
- stage 2: ATC + lambda (AIC + ITC), lambda ramped 0 -> 0.1 over the first 2 epochs, learning
  rate halved, audio and text (head) trainable.
Checkpoints every epoch (VITA format) with optimizer and trainer state, so a run resumes;
metrics (loss parts, validation A2T top-1/top-5) go to `metrics.jsonl`.
Under torchrun each rank takes its share of every batch; embeddings are all-gathered in the
loss and gradients averaged by DistributedDataParallel.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from catalog.errors import ConfigError
from catalog.facade import Catalog
from catalog.tables import MediaKind, Split
from encoders.encoder import VitaEncoder
from encoders.factory import create_encoder, load_vita, save_vita
from training.data import MediaCache, SpeciesTable, balanced_epoch, batches, examples, species_table
from training.losses import info_nce, stage2_lambda, stage2_loss
from training.prompts import ALL_TEMPLATES, PromptSampler, PromptStyle, Template, render


@dataclass
class TrainConfig:
    stage: int = 1
    out_dir: Path = Path("vita-data/runs/tiny")
    preset: str = "tiny"
    init: str | None = None  # checkpoint to start from (stage 2: the stage-1 result)
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-4
    weight_decay: float = 0.01
    accumulate: int = 1
    cap_per_species: int = 20
    floor_per_species: int = 4
    templates: list[str] = field(default_factory=lambda: [t.value for t in ALL_TEMPLATES])
    random_order: bool = False
    ramp_epochs: float = 2.0
    max_lambda: float = 0.1
    text_trainable: str = "head"  # stage 2: none | head (BioVITA) | all
    warmup_steps: int = 0  # linear warm-up, then
    schedule: str = "constant"  # constant (BioVITA) | cosine (down to 10% at the last step)
    seed: int = 0
    device: str | None = None
    max_steps_per_epoch: int | None = None  # for tests and smoke runs
    validate: bool = True  # validation A2T after every epoch (and best/ by it); off: last/ only
    checkpoint_every: int = 1  # epochs between checkpoints (the last epoch is always saved)

    def to_json(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}


# ---------------------------------------------------------------- distributed


def _dist() -> tuple[int, int]:
    """(rank, world size); starts the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


class _Step(nn.Module):
    """The encoders used by one training step, so DDP sees one forward."""

    def __init__(self, model: VitaEncoder) -> None:
        super().__init__()
        self.model = model

    def forward(self, feats: torch.Tensor | None, tokens: Any, pixels: torch.Tensor | None) -> tuple[Any, ...]:
        m = self.model
        a = m.encode_audio(feats) if feats is not None else None
        t = m.encode_text(tokens) if tokens is not None else None
        v = m.encode_image(pixels) if pixels is not None else None
        return a, t, v, m.logit_scale


# ---------------------------------------------------------------- evaluation


@torch.no_grad()
def species_text_embeddings(model: VitaEncoder, table: SpeciesTable, template: Template = Template.TAX_COM) -> np.ndarray:
    style = PromptStyle(model.cfg.prompts)
    prompts = [render(template, table.lineages[i], table.common[i], style=style) for i in range(len(table))]
    return model.embed_text(prompts)


@torch.no_grad()
def a2t_accuracy(model: VitaEncoder, table: SpeciesTable, items: list[Any], cache: MediaCache,
                 template: Template = Template.TAX_COM, text: np.ndarray | None = None) -> dict[str, float]:
    """Audio -> text over ALL species' prompts: top-1 / top-5 (the validation metric)."""
    if not items:
        return {"top1": float("nan"), "top5": float("nan"), "n": 0}
    text = species_text_embeddings(model, table, template) if text is None else text
    audio = model.embed_audio([cache.audio(e.path) for e in items], crop="onset")
    ranks = np.argsort(-(audio @ text.T), axis=1)
    truth = np.array([e.species for e in items])
    return {"top1": float((ranks[:, 0] == truth).mean()),
            "top5": float((ranks[:, :5] == truth[:, None]).any(axis=1).mean()), "n": len(items)}


# ---------------------------------------------------------------- the run


@dataclass
class TrainResult:
    out_dir: Path
    checkpoint: Path
    history: list[dict[str, Any]]
    model: VitaEncoder | None = None


@dataclass
class _Run:
    """Everything one training run holds between its steps: the model and optimizer, the data,
    the distributed rank and the resumable state."""

    cfg: TrainConfig
    rank: int
    world: int
    device: str
    model: VitaEncoder
    table: SpeciesTable
    train_items: list[Any]
    val_items: list[Any]
    by_species: dict[int, list[Any]]
    cache: MediaCache
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    step_module: nn.Module
    sampler: PromptSampler
    state: dict[str, Any]
    out: Path
    rng: random.Random


def _open_model(cfg: TrainConfig, device: str) -> tuple[VitaEncoder, dict[str, Any]]:
    """The model to train and its trainer state: the last checkpoint of an interrupted run, the
    `init` checkpoint, or a fresh preset."""
    last = Path(cfg.out_dir) / "last"
    if (last / "trainer_state.json").is_file():  # resume
        return load_vita(last).to(device), json.loads((last / "trainer_state.json").read_text())
    model = create_encoder(cfg.preset, cfg.init, device=device) if cfg.init else create_encoder(cfg.preset, device=device)
    return model, {"epoch": 0, "step": 0}


def _prepare(catalog: Catalog, cfg: TrainConfig) -> _Run:
    rank, world = _dist()
    device = cfg.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and world > 1:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    torch.manual_seed(cfg.seed)
    model, state = _open_model(cfg, device)
    with catalog.sessions() as s:
        table = species_table(s)
        kind = MediaKind.IMAGE if cfg.stage == 0 else MediaKind.AUDIO
        train_items = examples(s, table, kind, [Split.TRAIN])
        val_items = examples(s, table, MediaKind.AUDIO, [Split.VAL])
        images = examples(s, table, MediaKind.IMAGE, [Split.TRAIN]) if cfg.stage == 2 else []
    if not train_items:
        raise ConfigError(f"no training {kind.value} in the catalog (ingest something first)")
    by_species: dict[int, list[Any]] = {}
    for e in images:
        by_species.setdefault(e.species, []).append(e)
    params = model.trainable(cfg.stage, cfg.text_trainable)
    opt = torch.optim.AdamW(params, lr=cfg.lr / 2 if cfg.stage == 2 else cfg.lr, weight_decay=cfg.weight_decay)
    last = Path(cfg.out_dir) / "last"
    if (last / "optimizer.pt").is_file():
        opt.load_state_dict(torch.load(last / "optimizer.pt", map_location=device, weights_only=True))
    total_steps = cfg.epochs * _steps_per_epoch(train_items, cfg)
    start = int(state["step"])  # a resumed run continues its schedule where it stopped
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: lr_factor(start + step, cfg, total_steps))
    step_module: nn.Module = _Step(model)
    if world > 1:
        step_module = nn.parallel.DistributedDataParallel(step_module)
    sampler = PromptSampler([Template(t) for t in cfg.templates], cfg.random_order, seed=cfg.seed + rank,
                            style=PromptStyle(model.cfg.prompts))
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return _Run(cfg, rank, world, device, model, table, train_items, val_items, by_species,
                MediaCache(model.cfg.audio.sample_rate if model.cfg.audio else None), opt, sched, step_module,
                sampler, state, out, random.Random(cfg.seed))


def _inputs(run: _Run, mine: list[Any]) -> tuple[torch.Tensor | None, Any, torch.Tensor | None]:
    """One rank's batch as model inputs: audio features (stages 1-2), prompt tokens, and pixels
    (stage 0; stage 2 draws one training photo of each item's species, if every one has one)."""
    cfg, model, device = run.cfg, run.model, run.device
    tokens = model.tokenize(sampler_texts(run.sampler, run.table, mine))
    tokens = {k: v.to(device) for k, v in tokens.items()} if isinstance(tokens, dict) else tokens.to(device)
    if cfg.stage == 0:
        return None, tokens, _pixels(model, [run.cache.image(e.path) for e in mine], device)
    np_rng = np.random.default_rng(run.rng.getrandbits(32))
    win = model.cfg.audio.window_s  # type: ignore[union-attr]  # stages 1 and 2 run only for presets with an audio tower
    featurize = model.featurizer
    assert featurize is not None
    grid = win if model.frozen_towers else None  # frozen towers: crops on a grid repeat, and their outputs are memoised
    front = model.cfg.audio.front_end  # type: ignore[union-attr]  # as above
    feats = torch.cat([run.cache.features(featurize, e.path, win, np_rng, grid, front) for e in mine]).to(device)
    pixels = None
    if cfg.stage == 2:
        pix = [run.cache.image(run.rng.choice(run.by_species[e.species]).path) for e in mine if e.species in run.by_species]
        if len(pix) == len(mine):
            pixels = _pixels(model, pix, device)
    return feats, tokens, pixels


def _loss(run: _Run, mine: list[Any], progress: float) -> tuple[torch.Tensor, dict[str, float]]:
    """The stage's loss on one batch; `progress` is the fractional epoch, for stage 2's ramp."""
    cfg = run.cfg
    labels = torch.tensor([e.species for e in mine], device=run.device)
    feats, tokens, pixels = _inputs(run, mine)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if run.device.startswith("cuda") else torch.autocast("cpu", enabled=False)
    with amp:
        a, t, v, scale = run.step_module(feats, tokens, pixels)
        if cfg.stage == 0:
            return info_nce(v.float(), t.float(), scale, labels), {}
        if cfg.stage == 1 or v is None:
            return info_nce(a.float(), t.float(), scale, labels), {}
        lam = stage2_lambda(progress, cfg.ramp_epochs, cfg.max_lambda)
        return stage2_loss(a.float(), v.float(), t.float(), scale, lam, labels)


#: progress(label, done, total, note): the epoch's steps, with the running mean loss as the note
ProgressFn = Callable[..., None]


def _epoch(run: _Run, epoch: int, progress: ProgressFn | None) -> dict[str, Any]:
    """One epoch of optimizer steps; returns its record (mean loss parts, temperature, time)."""
    cfg, rank, world = run.cfg, run.rank, run.world
    run.rng.seed(cfg.seed * 1000 + epoch)
    order = balanced_epoch(run.train_items, cfg.cap_per_species, cfg.floor_per_species, run.rng)
    groups = batches(order, cfg.batch_size)
    if cfg.max_steps_per_epoch:
        groups = groups[: cfg.max_steps_per_epoch * cfg.accumulate]
    run.model.train()
    sums: dict[str, float] = {}
    t0 = time.time()
    run.opt.zero_grad(set_to_none=True)
    for i, group in enumerate(groups):
        # each rank its share of the global batch; all_gather needs equal shares, and every
        # rank sees the same batches (same seed), so all trim alike
        group = group[: len(group) // world * world]
        if not group:
            continue
        loss, parts = _loss(run, group[rank::world], epoch + i / max(1, len(groups)))
        (loss / cfg.accumulate).backward()
        if (i + 1) % cfg.accumulate == 0 or i + 1 == len(groups):
            run.opt.step()
            run.sched.step()
            run.opt.zero_grad(set_to_none=True)
            with torch.no_grad():
                run.model.logit_scale.clamp_(0, 4.6052)  # temperature >= 0.01, as CLIP
            run.state["step"] += 1
        sums["loss"] = sums.get("loss", 0.0) + loss.item()
        for k, v_ in parts.items():
            sums[k] = sums.get(k, 0.0) + float(v_)
        if progress is not None and rank == 0:
            progress(f"stage {cfg.stage} epoch {epoch + 1}/{cfg.epochs}", i + 1, len(groups),
                     f"loss {sums['loss'] / (i + 1):.4f}")
    return {"stage": cfg.stage, "epoch": epoch + 1, "steps": run.state["step"], "seconds": round(time.time() - t0, 1),
            "temperature": round(1 / run.model.logit_scale.exp().item(), 4),
            **{k: round(v_ / max(1, len(groups)), 4) for k, v_ in sums.items()}}


def _finish_epoch(run: _Run, epoch: int, record: dict[str, Any]) -> None:
    """Rank 0 only: validate, pick the best epoch, checkpoint, append the metrics line."""
    cfg, model = run.cfg, run.model
    model.eval()
    if cfg.stage > 0 and run.val_items and cfg.validate:
        val = a2t_accuracy(model, run.table, run.val_items, run.cache, val_template(cfg))
        record.update({"val_a2t_top1": round(val["top1"], 4), "val_a2t_top5": round(val["top5"], 4)})
    run.state["epoch"] = epoch + 1
    # top-1 first, top-5 breaking its ties, a later epoch winning a full tie: on a small validation
    # set top-1 alone is often 0 for every epoch, and the first epoch would stay "best"
    score = (record["val_a2t_top1"] + 1e-6 * record["val_a2t_top5"] if "val_a2t_top1" in record
             else -record["loss"])
    best = score >= run.state.get("best", float("-inf"))
    if best:
        run.state["best"] = score
    if (epoch + 1) % max(1, cfg.checkpoint_every) == 0 or epoch + 1 == cfg.epochs:
        _checkpoint(model, run.opt, run.state, cfg, run.out, epoch + 1, best and cfg.validate)
    with (run.out / "metrics.jsonl").open("a") as fh:
        fh.write(json.dumps(record) + "\n")


def train(catalog: Catalog, cfg: TrainConfig, progress: ProgressFn | None = None) -> TrainResult:
    """Run (or resume) one stage: prepare, then per epoch the steps and, on rank 0, validation
    and checkpoints."""
    run = _prepare(catalog, cfg)
    history: list[dict[str, Any]] = []
    for epoch in range(int(run.state["epoch"]), cfg.epochs):
        record = _epoch(run, epoch, progress)
        if run.rank == 0:
            _finish_epoch(run, epoch, record)
        history.append(record)
        if run.world > 1:
            dist.barrier()
    return TrainResult(run.out, run.out / "last", history, run.model)


def val_template(cfg: TrainConfig) -> Template:
    """Validate a single-template model on its own prompt type, any other with Tax+Com; a Com-only
    model's best epoch must not be picked by prompts it never trained on."""
    return Template(cfg.templates[0]) if len(cfg.templates) == 1 else Template.TAX_COM


def lr_factor(step: int, cfg: TrainConfig, total_steps: int) -> float:
    """Multiplier of the base learning rate at an optimizer step."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return float((step + 1) / cfg.warmup_steps)
    if cfg.schedule == "cosine" and total_steps > cfg.warmup_steps:
        progress = min(1.0, (step - cfg.warmup_steps) / (total_steps - cfg.warmup_steps))
        # a Python float: a numpy scalar would land in the optimizer state and fail the safe
        # (weights_only) load of a resumed run
        return float(0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * progress)))
    return 1.0


def _steps_per_epoch(items: list[Any], cfg: TrainConfig) -> int:
    """Optimizer steps in one balanced epoch (its size does not depend on the draw)."""
    counts: dict[int, int] = {}
    for e in items:
        counts[e.species] = counts.get(e.species, 0) + 1
    n = sum(max(cfg.floor_per_species, min(cfg.cap_per_species, c)) for c in counts.values())
    batches_ = -(-n // cfg.batch_size)
    if cfg.max_steps_per_epoch:
        batches_ = min(batches_, cfg.max_steps_per_epoch * cfg.accumulate)
    return -(-batches_ // cfg.accumulate)


def sampler_texts(sampler: PromptSampler, table: SpeciesTable, items: list[Any]) -> list[str]:
    return [sampler(table.lineages[e.species], table.common[e.species]) for e in items]


def _pixels(model: VitaEncoder, images: list[Any], device: str) -> torch.Tensor:
    assert model.image_transform is not None
    return torch.stack([model.image_transform(im) for im in images]).to(device)


def _checkpoint(model: VitaEncoder, opt: torch.optim.Optimizer, state: dict[str, Any], cfg: TrainConfig,
                out: Path, epoch: int, best: bool) -> None:
    """last/ (every epoch, to resume from) and best/ (by validation A2T top-1); each written
    to a temporary directory and renamed, so a crash never leaves half a checkpoint."""
    meta = {"train": cfg.to_json(), "epoch": epoch}
    for name in ("last", "best") if best else ("last",):
        tmp = out / f"{name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        save_vita(model, tmp, meta)
        if name == "last":
            torch.save(opt.state_dict(), tmp / "optimizer.pt")
            (tmp / "trainer_state.json").write_text(json.dumps(state))
        shutil.rmtree(out / name, ignore_errors=True)
        tmp.rename(out / name)
