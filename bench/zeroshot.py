"""AnimalCLAP's zero-shot tables (animalclap.txt Tables 3 and 4).

Unseen-species classification: each unseen test clip is matched against the text prompts of the
candidate species, once per query prompt type (Com, Sci, Tax, Sci+Com, Tax+Com); Top-1, Top-5
and mAP@5 (one right species, so the mean of 1/rank within the top 5). Candidates are the unseen
species (AnimalCLAP's protocol) or all species (`classes="all"`, the harder test: seen species
compete too).

The ablation trains one stage-1 model per training prompt (each template alone, all five, all
five with the taxonomy shuffled) from the same stage-0 start and budget, and tabulates them.
With `stage2_epochs` each model also goes through stage 2 (the whole recipe), and with several
seeds each variant is trained once per seed: on 46 unseen species one clip is 0.4 points of
top-1, so a single run cannot tell two variants a point apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.data import BenchItem, Embedded, Group, Modality
from catalog.prompts import ALL_TEMPLATES, PromptStyle, Template, render


@dataclass(frozen=True)
class ZeroShotRow:
    trained: str  # training prompt variant
    query: str  # query prompt type
    classes: str  # "unseen" or "all"
    n: int
    ways: int
    top1: float
    top5: float
    map5: float
    top1_genus: float
    top1_family: float
    seed: int = 0  # of the training run (the ablation trains each variant once per seed)


def classify(audio: np.ndarray, truth: np.ndarray, text: np.ndarray) -> dict[str, Any]:
    """Ranks of the right class among `text` rows for each audio row; ties count against."""
    sims = audio @ text.T
    right = sims[np.arange(len(truth)), truth]
    rank = (sims > right[:, None]).sum(axis=1) + (sims == right[:, None]).sum(axis=1)  # 1 = first
    top = np.argmax(sims, axis=1)
    return {"rank": rank, "top": top}


def zero_shot(items: list[BenchItem], audio: Embedded, embed_text: Callable[[list[str]], np.ndarray],
              trained: str, classes: str = "unseen", species_pool: list[BenchItem] | None = None,
              queries: tuple[Template, ...] = ALL_TEMPLATES, seed: int = 0,
              style: PromptStyle = PromptStyle.VITA) -> list[ZeroShotRow]:
    """`items`: the manifest; `species_pool`: text items of every species when `classes="all"`."""
    clips = [it for it in items if it.modality is Modality.AUDIO and it.group is Group.UNSEEN and it.key in audio.row]
    pool = species_pool if classes == "all" and species_pool else \
        [it for it in items if it.modality is Modality.TEXT and it.group is Group.UNSEEN]
    pool = sorted({it.species: it for it in pool}.values(), key=lambda it: it.species)
    col = {it.species: i for i, it in enumerate(pool)}
    clips = [c for c in clips if c.species in col]
    if not clips:
        return []
    a = audio.of([c.key for c in clips])
    truth = np.array([col[c.species] for c in clips])
    genus = np.array([it.lineage.genus for it in pool])
    family = np.array([it.lineage.family for it in pool])
    rows = []
    for tpl in queries:
        text = embed_text([render(tpl, it.lineage, it.common, style=style) for it in pool])
        r = classify(a, truth, text)
        rank = r["rank"]
        rows.append(ZeroShotRow(trained, tpl.value, classes, len(clips), len(pool), float((rank <= 1).mean()),
                                float((rank <= 5).mean()), float(np.where(rank <= 5, 1 / rank, 0).mean()),
                                float((genus[r["top"]] == genus[truth]).mean()),
                                float((family[r["top"]] == family[truth]).mean()), seed))
    return rows


#: training prompt variants of the ablation: name -> (templates, random taxonomic order)
ABLATION: dict[str, tuple[tuple[Template, ...], bool]] = {
    **{t.value: ((t,), False) for t in ALL_TEMPLATES},
    "all": (ALL_TEMPLATES, False),
    "all, random order": (ALL_TEMPLATES, True),
}


@dataclass
class AblationPlan:
    init: Path  # the shared start (the tiny recipe's stage-0 model, standing in for BioCLIP 2)
    out_root: Path
    epochs: int  # stage 1
    seed: int = 0
    max_steps: int | None = None  # per epoch (smoke runs)
    stage2_epochs: int = 0  # > 0: stage 2 after stage 1, the whole recipe

    def out_dir(self, variant: str, stage: int = 1) -> Path:
        """Stage-1 runs are shared by plans that differ only in their stage 2."""
        slug = variant.replace("+", "-").replace(", ", "-").replace(" ", "-")
        steps = f"-m{self.max_steps}" if self.max_steps else ""
        name = f"{slug}-e{self.epochs}{steps}-s{self.seed}"
        return self.out_root / (f"{name}-then-e{self.stage2_epochs}" if stage == 2 else name)


def train_variant(catalog: Any, plan: AblationPlan, variant: str,
                  progress: Callable[..., None] | None = None) -> Path:
    """Stage 1 (then stage 2 when the plan asks) for one variant with the tiny recipe's settings;
    resumes (and so skips) a finished run. Returns the last checkpoint: every variant gets the
    same budget, none is picked by a validation metric that favours its own prompt type."""
    from training.recipe import TINY_STAGES
    from training.trainer import TrainConfig, train

    templates, random_order = ABLATION[variant]
    init = plan.init
    for stage, epochs in ((1, plan.epochs), (2, plan.stage2_epochs)):
        if epochs <= 0:
            continue
        knobs = TINY_STAGES[stage]
        cfg = TrainConfig(stage=stage, out_dir=plan.out_dir(variant, stage), preset="tiny", init=str(init),
                          epochs=epochs, lr=float(knobs["lr"]), batch_size=int(knobs["batch_size"]),
                          warmup_steps=int(knobs["warmup_steps"]), schedule=str(knobs["schedule"]),
                          templates=[t.value for t in templates], random_order=random_order, seed=plan.seed,
                          max_steps_per_epoch=plan.max_steps, validate=False, checkpoint_every=epochs)
        init = train(catalog, cfg, progress).checkpoint
    return init


def rows_json(rows: list[ZeroShotRow]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]
