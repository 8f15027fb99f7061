"""Run the suites against a trained model and the catalog; each writes `<suite>.json|.md|.png`.

One function per suite (the CLI's `vita bench <suite>` calls these); `run_all` runs them in
order with one budget in mind (on the demo world with the tiny preset: about 20 minutes on 2
CPU cores, most of it the prompt ablation's training).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench import Suite, published, results
from bench.data import BenchItem, Embedded, Group, Modality, embed_items, held_out_manifest
from bench.results import BenchRun, pct, table
from bench.retrieval import DIRECTIONS, LEVELS, ScenarioResult, TaskSet, direction_name, fingerprint, sample_tasks
from bench.speed import ScratchIndex
from catalog.errors import ConfigError, NotFoundError
from catalog.facade import Catalog
from catalog.prompts import ALL_TEMPLATES, PromptStyle, Template
from catalog.queries import above_species
from indexer.store import StoreConfig, open_store

Log = Callable[[str], None]


@dataclass
class BenchConfig:
    model: Path
    data_dir: Path
    seed: int = 0
    ways: int = 100
    max_tasks: int = 300
    tasks: Path | None = None  # a saved task file; default: <data>/bench/tasks-seed<seed>.json.gz
    prompt: Template = Template.COM  # text side of retrieval (BioVITA Table 3 uses common names)
    ablation_epochs: int = 6
    ablation: bool = True
    ablation_max_steps: int | None = None  # per epoch; smoke runs and tests
    ablation_seeds: list[int] | None = None  # training seeds per variant (default: [seed])
    ablation_variants: list[str] | None = None  # default: all of bench.zeroshot.ABLATION
    ablation_stage2_epochs: int = 0  # > 0: each variant also goes through stage 2 (the whole recipe)
    sizes: list[int] = field(default_factory=lambda: [10_000, 100_000])
    queries: int = 200
    index_clips: int = 240
    index_workers: list[int] = field(default_factory=lambda: [1, 2])
    batch_size: int = 64


def _model(cfg: BenchConfig) -> Any:
    from indexer.model_ref import PRESET_REF, load_model

    if str(cfg.model).startswith(PRESET_REF):  # e.g. preset:field, the untrained ConSE adapters
        return load_model(str(cfg.model))
    from encoders.factory import create_encoder

    return create_encoder(checkpoint=cfg.model)


# ---------------------------------------------------------------- retrieval


def load_or_sample(cfg: BenchConfig, items: list[BenchItem], log: Log) -> tuple[TaskSet, Path]:
    path = cfg.tasks or cfg.data_dir / "bench" / f"tasks-seed{cfg.seed}-w{cfg.ways}-n{cfg.max_tasks}.json.gz"
    if path.is_file():
        ts = TaskSet.load(path)
        if ts.fingerprint == fingerprint(items):
            log(f"tasks: {path} (saved; same test media)")
            return ts, path
        if cfg.tasks is not None:
            raise ConfigError(f"{path}: these tasks were drawn from other test media (fingerprint "
                             f"{ts.fingerprint}, the catalog's is {fingerprint(items)})")
        log(f"tasks: {path} is from other test media; drawing new ones")
    ts = sample_tasks(items, cfg.seed, cfg.ways, cfg.max_tasks)
    ts.save(path)
    log(f"tasks: drew {sum(len(t) for t in ts.scenarios.values())} and saved them to {path}")
    return ts, path


def retrieval_markdown(rows: list[ScenarioResult], prompt: str) -> str:
    by = {r.scenario: r for r in rows}
    dirs = [direction_name(q, t) for q, t in DIRECTIONS]
    out = [f"Top-1 / Top-5 (%) per direction; text candidates and queries use the {prompt} prompt. "
           "`ways` is the number of candidates per task (100 where the group has 100 taxa; chance top-1 = "
           "1/ways); `tasks` per direction. BioVITA rows: the paper's Stage 2 model on real media (Tables 3, 5, 6)."]
    for group in Group:
        body = []
        for level in LEVELS:
            res = [by.get(f"{d}/{level}/{group.value}") for d in dirs]
            ok = [r for r in res if r is not None and r.tasks]
            cells = [f"{pct(r.top1)} / {pct(r.top5)}" if r is not None and r.tasks else "–" for r in res]
            avg = f"{pct(float(np.mean([r.top1 for r in ok])))} / {pct(float(np.mean([r.top5 for r in ok])))}" if ok else "–"
            ways = sorted({r.ways for r in ok})
            tasks = "/".join(str(r.tasks if r else 0) for r in res)
            body.append([level, "ours (demo world)", *cells, avg, ",".join(map(str, ways)) or "–", tasks])
            paper = published.BIOVITA_STAGE2.get((level, group.value))
            if paper:
                pc = [f"{paper[d][0]} / {paper[d][1]}" for d in dirs]
                body.append([level, "BioVITA Stage 2 (paper)", *pc,
                             f"{np.mean([paper[d][0] for d in dirs]):.1f} / {np.mean([paper[d][1] for d in dirs]):.1f}",
                             "100", ""])
        out += ["", f"**{group.value} species**", "",
                table(["level", "model", *dirs, "average", "ways", "tasks"], body)]
    errs = [r for r in rows if r.scenario.split("/")[1] == "species" and r.tasks]
    out += ["", "**Species-level top-1 errors that still land in the right genus / family (BioVITA Fig. 9)**", "",
            table(["scenario", "errors in right genus", "errors in right family"],
                  [[r.scenario, pct(r.errors_same_genus), pct(r.errors_same_family)] for r in errs])]
    classes = sorted({c for r in rows for c in r.per_class})
    out += ["", "**Top-1 by class of the query (BioVITA Fig. 8), species level**", "",
            table(["scenario", *classes], [[r.scenario, *(pct(r.per_class.get(c)) for c in classes)] for r in errs])]
    return "\n".join(out)


def retrieval_plot(rows: list[ScenarioResult], path: Path) -> None:
    plt = results.pyplot()
    dirs = [direction_name(q, t) for q, t in DIRECTIONS]
    by = {r.scenario: r for r in rows}
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
    for ax, group in zip(axes, Group):
        for k, level in enumerate(LEVELS):
            vals = [100 * (by[f"{d}/{level}/{group.value}"].top1 if by.get(f"{d}/{level}/{group.value}")
                           and by[f"{d}/{level}/{group.value}"].tasks else 0) for d in dirs]
            ax.bar(np.arange(len(dirs)) + (k - 1) * 0.27, vals, 0.27, label=level)
            chance = [100 * by[f"{d}/{level}/{group.value}"].chance_top1 if by.get(f"{d}/{level}/{group.value}")
                      and by[f"{d}/{level}/{group.value}"].tasks else np.nan for d in dirs]
            ax.scatter(np.arange(len(dirs)) + (k - 1) * 0.27, chance, marker="_", color="black", s=60)
        ax.set_xticks(range(len(dirs)), dirs)
        ax.set_title(f"{group.value} species (black: chance)")
    axes[0].set_ylabel("top-1 (%)")
    axes[0].legend()
    fig.suptitle("BioVITA Bench on the demo world (synthetic media)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


HYBRID_DIRECTIONS = ("A2I", "I2A")


def hybrid_rows(cat: Catalog, model: Any, items: list[BenchItem], emb: Embedded, tasks: TaskSet,
                waves: dict[str, np.ndarray]) -> tuple[list[ScenarioResult], list[ScenarioResult]]:
    """The photo <-> sound scenarios under the hybrid ranking: each query held out (its evidence is
    the preset's heads and the labelled test items of its own modality, itself left out), and as
    "more like this" on a catalogued item (its own label is evidence too)."""
    from bench.hybrid import HeldOutEvidence, head_evidence, hybrid_species_scores
    from bench.retrieval import score

    names = cat.names()
    media = [it for it in items if it.modality is not Modality.TEXT]
    head = head_evidence(model, names, waves) if model.heads() else None
    by_key = {it.key: it for it in items}
    out = []
    for known in (False, True):
        evidence = HeldOutEvidence(media, emb, head, names.common_names(), label_known=known)
        out.append(score(items, emb, tasks, hybrid_species_scores(evidence, by_key), HYBRID_DIRECTIONS))
    return out[0], out[1]


def hybrid_markdown(rows: list[ScenarioResult], hybrid: list[ScenarioResult], more: list[ScenarioResult]) -> str:
    by = {label: {r.scenario: r for r in rs} for label, rs in
          (("embedding", rows), ("hybrid, query held out", hybrid), ("hybrid, more like this", more))}
    body = []
    for group in Group:
        for level in LEVELS:
            for label, rs in by.items():
                cells = [f"{pct(r.top1)} / {pct(r.top5)}" if (r := rs.get(f"{d}/{level}/{group.value}")) and r.tasks
                         else "–" for d in HYBRID_DIRECTIONS]
                body.append([group.value, level, label, *cells])
    return "\n".join(["**Photo <-> sound under the hybrid ranking** (top-1 / top-5 %, same tasks as above). "
                      "Held out: the query's evidence is the model's heads and the labelled test items of its own "
                      "modality, itself left out (a user's own file). More like this: a catalogued item, whose own "
                      "label is evidence too (the easier case).", "",
                      table(["group", "level", "ranking", *HYBRID_DIRECTIONS], body)])


def run_retrieval(cat: Catalog, cfg: BenchConfig, run: BenchRun, log: Log = print) -> dict[str, Any]:
    from bench.retrieval import results_json, score

    t0 = time.perf_counter()
    items = held_out_manifest(cat)
    tasks, path = load_or_sample(cfg, items, log)
    model = _model(cfg)
    waves: dict[str, np.ndarray] = {}
    emb = embed_items(model, items, cfg.prompt, waves=waves)
    rows = score(items, emb, tasks)
    log("hybrid ranking of the photo <-> sound tasks")
    hybrid, more = hybrid_rows(cat, model, items, emb, tasks, waves)
    with cat.sessions() as s:
        above = above_species(s)
    data = {"model": str(cfg.model), "prompt": cfg.prompt.value, "tasks_file": str(path), "seed": tasks.seed,
            "ways": tasks.ways, "max_tasks": tasks.max_tasks, "items": len(items), "left_out_above_species": above,
            "scenarios": results_json(rows), "hybrid": results_json(hybrid), "more_like_this": results_json(more),
            "seconds": round(time.perf_counter() - t0, 1)}
    md = retrieval_markdown(rows, cfg.prompt.value) + "\n\n" + hybrid_markdown(rows, hybrid, more)
    if above:
        md += f"\n\n{above} media identified only above species (genus, family, order, class) are left out."
        log(f"left out {above} media identified only above species")
    run.write("retrieval", data, md)
    retrieval_plot(rows, run.png("retrieval"))
    return data


# ---------------------------------------------------------------- zero-shot


def zeroshot_markdown(main: list[Any], ablation: list[Any], epochs: int, stage2_epochs: int = 0) -> str:
    q = [t.value for t in ALL_TEMPLATES]
    out = ["Unseen-species classification (AnimalCLAP Table 3's protocol): each unseen test clip against the "
           "prompts of the unseen species, per query prompt type. Top-1 / Top-5 / mAP@5 (%)."]
    rows = []
    for classes in ("unseen", "all"):
        mine = {r.query: r for r in main if r.classes == classes}
        if mine:
            any_r = next(iter(mine.values()))
            rows.append([f"our model, {any_r.ways} {classes} species", *(
                f"{pct(mine[t].top1)} / {pct(mine[t].top5)} / {pct(mine[t].map5)}" if t in mine else "–" for t in q)])
    paper = published.ANIMALCLAP_TABLE3["all"]
    rows.append(["AnimalCLAP (paper, 300 unseen species)", *(f"{paper[t][0]} / {paper[t][1]} / {paper[t][2]}" for t in q)])
    out += ["", table(["model", *q], rows)]
    if ablation:
        out += ["", *ablation_markdown(ablation, epochs, stage2_epochs)]
    return "\n".join(out)


def _mean_sd(values: list[float]) -> str:
    """A percentage; with several seeds, their mean ± standard deviation."""
    if len(values) == 1:
        return pct(values[0])
    return f"{100 * np.mean(values):.1f} ± {100 * np.std(values, ddof=1):.1f}"


def ablation_markdown(ablation: list[Any], epochs: int, stage2_epochs: int = 0) -> list[str]:
    """The ablation table (one row per training variant, cells over seeds) and, with several
    seeds, each variant's per-seed difference from the five-template model on the same seed."""
    q = [t.value for t in ALL_TEMPLATES]
    seeds = sorted({r.seed for r in ablation})
    budget = f"stage 1 {epochs} epochs" + (f" + stage 2 {stage2_epochs} epochs" if stage2_epochs else "")
    runs = f"{len(seeds)} training seeds each, mean ± sd over seeds" if len(seeds) > 1 else "one training run each"
    out = [f"**Training-prompt ablation (AnimalCLAP Tables 3 and 4)**: from the same stage-0 model, {budget}, "
           f"last epoch, {runs}; unseen-species top-1 (%) by query prompt; the paper's numbers in brackets.", ""]
    cell: dict[tuple[str, str, int], Any] = {(r.trained, r.query, r.seed): r for r in ablation}
    trained_all = list(dict.fromkeys(r.trained for r in ablation))

    def per_seed_mean(trained: str, metric: str) -> dict[int, float]:
        got: dict[int, float] = {}
        for sd in seeds:
            vals = [getattr(cell[(trained, t, sd)], metric) for t in q if (trained, t, sd) in cell]
            if vals:
                got[sd] = float(np.mean(vals))
        return got

    body = []
    for trained in trained_all:
        ref = published.ANIMALCLAP_TABLE3.get(trained) if "random" not in trained else None
        row = [trained]
        for t in q:
            vals = [cell[(trained, t, sd)].top1 for sd in seeds if (trained, t, sd) in cell]
            txt = _mean_sd(vals) if vals else "–"
            if ref:
                txt += f" ({ref[t][0]})"
            elif "random" in trained and t in published.ANIMALCLAP_TABLE4["random"]:
                txt += f" ({published.ANIMALCLAP_TABLE4['random'][t]})"
            row.append(txt)
        row += [_mean_sd(list(per_seed_mean(trained, m).values())) for m in ("top1", "top5", "map5", "top1_family")]
        body.append(row)
    out.append(table(["trained with", *q, "mean top-1", "mean top-5", "mean mAP@5", "mean top-1 family"], body))
    if len(seeds) > 1 and "all" in trained_all:
        out += ["", "Five templates minus each variant, same seed (points of the mean over query prompts; "
                "positive: the five-template model is ahead):", ""]
        diff_rows = []
        for trained in trained_all:
            if trained == "all":
                continue
            row = [f"all − {trained}"]
            for m in ("top1", "top5", "map5", "top1_family"):
                a, b = per_seed_mean("all", m), per_seed_mean(trained, m)
                d = [round(100 * (a[sd] - b[sd]), 6) for sd in seeds if sd in a and sd in b]  # no float dust
                wins, level = sum(x > 0 for x in d), sum(x == 0 for x in d)
                tie = f", level on {level}" if level else ""
                row.append(f"{np.mean(d):+.1f} ({', '.join(f'{x:+.1f}' for x in d)}; ahead on {wins}/{len(d)}{tie})")
            diff_rows.append(row)
        out.append(table(["comparison", "mean top-1", "mean top-5", "mean mAP@5", "mean top-1 family"], diff_rows))
    return out


def ablation_plot(ablation: list[Any], path: Path) -> None:
    plt = results.pyplot()
    trained = list(dict.fromkeys(r.trained for r in ablation))
    q = [t.value for t in ALL_TEMPLATES]
    cells: dict[tuple[int, int], list[float]] = {}
    for r in ablation:  # the mean over seeds
        cells.setdefault((trained.index(r.trained), q.index(r.query)), []).append(100 * r.top1)
    m = np.full((len(trained), len(q)), np.nan)
    for (i, j), vals in cells.items():
        m[i, j] = float(np.mean(vals))
    fig, ax = plt.subplots(figsize=(7, 4))
    im = ax.imshow(m, cmap="viridis")
    ax.set_xticks(range(len(q)), q)
    ax.set_yticks(range(len(trained)), trained)
    for i in range(len(trained)):
        for j in range(len(q)):
            ax.text(j, i, f"{m[i, j]:.1f}", ha="center", va="center", color="white", fontsize=8)
    ax.set_xlabel("query prompt")
    ax.set_ylabel("trained with")
    fig.colorbar(im, label="unseen top-1 (%)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def stage0_of(model: Path) -> Path:
    """The stage-0 result the tiny recipe started from: `<data>/runs/<name>/stage0/last` for a
    model at `<data>/models/<name>`."""
    cand = model.parent.parent / "runs" / model.name / "stage0" / "last"
    if not cand.is_dir():
        raise NotFoundError(f"no stage-0 checkpoint for {model} (want {cand}); train with `vita train` "
                                "first, or skip the ablation (--no-ablation)")
    return cand


def run_zeroshot(cat: Catalog, cfg: BenchConfig, run: BenchRun, log: Log = print,
                 progress: Callable[..., None] | None = None) -> dict[str, Any]:
    from bench.zeroshot import ABLATION, AblationPlan, rows_json, train_variant, zero_shot
    from encoders.factory import create_encoder
    from indexer.model_ref import describe_model

    t0 = time.perf_counter()
    variants = cfg.ablation_variants or list(ABLATION)
    unknown = [v for v in variants if v not in ABLATION]
    if unknown:  # before any work
        raise ConfigError(f"unknown ablation variant(s) {unknown}; known: {', '.join(ABLATION)}")
    init = stage0_of(cfg.model) if cfg.ablation else None
    items = held_out_manifest(cat)
    audio_items = [it for it in items if it.modality is Modality.AUDIO and it.group is Group.UNSEEN]
    pool = species_pool(cat)
    waves: dict[int, dict[str, np.ndarray]] = {}  # per sample rate: the models share one decode

    def evaluate(model: Any, trained: str, classes: tuple[str, ...], seed: int = 0) -> list[Any]:
        rate = model.cfg.audio.sample_rate if model.cfg.audio is not None else 0
        emb = embed_items(model, audio_items, waves=waves.setdefault(rate, {}))
        out = []
        for c in classes:
            out += zero_shot(items, emb, model.embed_text, trained, c, pool, seed=seed,
                             style=PromptStyle(model.cfg.prompts))
        return out

    main = evaluate(_model(cfg), "all", ("unseen", "all"))
    ablation: list[Any] = []
    if init is not None:
        budget = f"{cfg.ablation_epochs} epochs stage 1" + (
            f" + {cfg.ablation_stage2_epochs} stage 2" if cfg.ablation_stage2_epochs else "")
        for seed in cfg.ablation_seeds or [cfg.seed]:
            plan = AblationPlan(init, cfg.data_dir / "runs" / "ablation" / describe_model(init).key,
                                cfg.ablation_epochs, seed, cfg.ablation_max_steps, cfg.ablation_stage2_epochs)
            for variant in variants:
                log(f"ablation: training {variant!r} ({budget}, seed {seed})")
                ckpt = train_variant(cat, plan, variant, progress)
                ablation += evaluate(create_encoder(checkpoint=ckpt), variant, ("unseen",), seed)
    data = {"model": str(cfg.model), "main": rows_json(main), "ablation": rows_json(ablation),
            "ablation_epochs": cfg.ablation_epochs, "ablation_stage2_epochs": cfg.ablation_stage2_epochs,
            "seconds": round(time.perf_counter() - t0, 1)}
    run.write("zeroshot", data, zeroshot_markdown(main, ablation, cfg.ablation_epochs, cfg.ablation_stage2_epochs))
    if ablation:
        ablation_plot(ablation, run.png("zeroshot-ablation"))
    return data


def species_pool(cat: Catalog) -> list[BenchItem]:
    """A text item for every species of the catalog (the `classes="all"` candidates)."""
    from training.data import species_table

    with cat.sessions() as s:
        t = species_table(s)
    return [BenchItem(f"text:{n}", Modality.TEXT, lin, Group.SEEN if role != "unseen" else Group.UNSEEN, None, com)
            for n, lin, com, role in zip(t.names, t.lineages, t.common, t.split_role)]


# ---------------------------------------------------------------- traits


def run_traits(cat: Catalog, cfg: BenchConfig, run: BenchRun, log: Log = print) -> dict[str, Any]:
    from bench.traits import category_summary, evaluate, rows_json
    from catalog.tables import MediaKind, Split
    from training.data import MediaCache, examples, species_table
    from training.probe_run import embed_items as embed_examples
    from training.probe_run import train_trait_probes
    from training.probes import TraitProbes, species_traits

    t0 = time.perf_counter()
    probes_dir = cfg.model / "probes-audio"
    if not (probes_dir / "probes.json").is_file():
        log(f"no trait probes at {probes_dir}: fitting them (`vita train-traits`)")
        train_trait_probes(cat, cfg.model, "audio")
    probes = TraitProbes.load(probes_dir)
    model = _model(cfg)
    with cat.sessions() as s:
        table_ = species_table(s)
        train_items = examples(s, table_, MediaKind.AUDIO, [Split.TRAIN])
        test_items = examples(s, table_, MediaKind.AUDIO, [Split.TEST_UNSEEN])
        facts = species_traits(s, table_.names)
    cache = MediaCache(model.cfg.audio.sample_rate)
    x = embed_examples(model, test_items, cache, MediaKind.AUDIO)
    rows = evaluate(probes, x, [facts[table_.names[e.species]] for e in test_items],
                    [facts[table_.names[e.species]] for e in train_items])
    summary = category_summary(rows)
    data = {"model": str(cfg.model), "probes": str(probes_dir), "clips": len(test_items),
            "species": len({e.species for e in test_items}), "rows": rows_json(rows), "categories": summary,
            "seconds": round(time.perf_counter() - t0, 1)}
    md = [f"Trait probes on {len(test_items)} clips of {data['species']} unseen species (%). Categorical traits: "
          "accuracy and macro-F1; multi-label and binary ones: per label, accuracy and F1 of \"present\". "
          "Majority: the most frequent training value.", "",
          table(["trait", "label", "n", "accuracy", "F1", "majority accuracy", "majority F1"],
                [[r.category, r.label or "(category)", r.n, pct(r.accuracy), pct(r.f1), pct(r.majority_accuracy),
                  pct(r.majority_f1)] for r in rows]),
          "", "**Per category (mean over its rows), beside BioVITA Table 7 (audio, F1 on unseen species, real data)**", "",
          table(["category", "accuracy", "F1", "majority F1", "BioVITA audio F1 (paper)"],
                [[k, pct(v["accuracy"]), pct(v["f1"]), pct(v["majority_f1"]),
                  published.BIOVITA_TRAIT_F1_AUDIO.get(k, "–")] for k, v in summary.items()])]
    run.write("traits", data, "\n".join(md))
    plt = results.pyplot()
    fig, ax = plt.subplots(figsize=(10, 3.6))
    labels = [f"{r.category}{'=' + r.label if r.label else ''}" for r in rows]
    xs = np.arange(len(rows))
    ax.bar(xs - 0.2, [100 * r.accuracy for r in rows], 0.4, label="probe")
    ax.bar(xs + 0.2, [100 * r.majority_accuracy for r in rows], 0.4, label="majority")
    ax.set_xticks(xs, labels, rotation=75, fontsize=7)
    ax.set_ylabel("accuracy on unseen species (%)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(run.png("traits"), dpi=110)
    plt.close(fig)
    return data


# ---------------------------------------------------------------- speed


def run_speed(cat: Catalog, cfg: BenchConfig, run: BenchRun, scratch: ScratchIndex, server: StoreConfig | None = None,
              log: Log = print) -> dict[str, Any]:
    """Indexing through `vita index` into scratch stores (`scratch(dir, corpus)` configures one), the
    query benchmark on the embedded store, and on `server` too when one is configured."""
    from sqlalchemy import select

    from bench.speed import decode_only, encoder_only, index_run, machine_ceiling, query_bench, rss_per_million
    from catalog.tables import Media
    from indexer.store.edge import EdgeStore
    from workers.config import thread_plan

    t0 = time.perf_counter()
    model = _model(cfg)
    dim = model.cfg.dim
    kinds = [k for k in ("audio", "image") if k in model.cfg.modalities]
    with cat.sessions() as s:
        media = s.execute(select(Media.id, Media.kind, Media.path).where(Media.kind.in_(kinds), Media.status != "error")
                          .order_by(Media.id)).all()
    pick = media if cfg.index_clips <= 0 else media[:: max(1, len(media) // cfg.index_clips)][: cfg.index_clips]
    ids, items = [m for m, _, _ in pick], [(k, p) for _, k, p in pick]
    cores = os.cpu_count() or 1
    index_rows, bound = [], {}
    threads_of = {w: thread_plan(cores, w)[0] for w in cfg.index_workers}  # the model threads each worker gets
    for threads in sorted({1, *threads_of.values()}):  # one thread: the most model work per core (the ceiling)
        index_rows.append(encoder_only(model, items, cfg.batch_size, threads))
        bound[threads] = index_rows[-1].clips_per_s
        log(f"speed: {index_rows[-1].mode}: {index_rows[-1].clips_per_s} media/s")
    audio_s = index_rows[0].audio_s_per_s * index_rows[0].seconds
    index_rows.append(decode_only(model, items))
    log(f"speed: {index_rows[-1].mode}: {index_rows[-1].clips_per_s} media/s")
    ceiling = machine_ceiling(bound[1], index_rows[-1].clips_per_s, cores)
    head = {"model": str(cfg.model), "dim": dim, "batch_size": cfg.batch_size, "cores": cores,
            "threads_per_worker": {str(w): dict(zip(("model", "decode"), thread_plan(cores, w)))
                                   for w in cfg.index_workers},
            "machine_ceiling_per_s": round(ceiling, 1)}

    def save(partial: dict[str, Any]) -> None:
        """What is measured so far, written at once: a long run stopped later keeps its rows."""
        data = {**head, "indexing": [r.__dict__ for r in index_rows], "queries": [], "builds": [],
                "rss_mib_per_million_points": None, **partial, "seconds": round(time.perf_counter() - t0, 1)}
        run.write("speed", data, speed_markdown(data))

    save({"partial": True})
    for w in cfg.index_workers:  # w workers of t model threads each: together at most w x that bound
        threads = threads_of[w]
        index_rows.append(index_run(cat, scratch, str(cfg.model), ids, w, cfg.batch_size, audio_s,
                                    w * bound[threads], ceiling))
        log(f"speed: {index_rows[-1].mode}: {index_rows[-1].clips_per_s} media/s "
            f"(steady {index_rows[-1].steady_per_s}, ratio {index_rows[-1].ratio_to_bound}, "
            f"ceiling {index_rows[-1].ratio_to_ceiling}, cores {index_rows[-1].steady_cores})")
        save({"partial": True})
    q = query_bench(lambda root: EdgeStore(root), cfg.sizes, dim, cfg.queries, cfg.seed, "edge", True, log)
    if server is not None and server.url:
        srv = query_bench(lambda root: open_store(server), cfg.sizes, dim, cfg.queries, cfg.seed, "server", False, log)
        q["queries"] += srv["queries"]
        q["builds"] += srv["builds"]
    q["rss_mib_per_million_points"] = rss_per_million([b for b in q["builds"] if b["backend"] == "edge"])
    data = {**head, "indexing": [r.__dict__ for r in index_rows], **q, "seconds": round(time.perf_counter() - t0, 1)}
    run.write("speed", data, speed_markdown(data))
    speed_plot(data, run.png("speed"))
    return data


def _dash(v: object) -> object:
    return "–" if v is None else v


def _profile(p: dict[str, Any] | None) -> str:
    if not p or not p.get("processes"):
        return "–"
    return (f"busy {_dash(p.get('busy'))}, model {_dash(p.get('model'))}, gap {_dash(p.get('gap_ms'))} ms, "
            f"commit {_dash(p.get('commit_ms'))} ms")


def speed_markdown(data: dict[str, Any]) -> str:
    idx = data["indexing"]
    out = ["_Partial: written while the run went on; a run that was stopped left only these rows._", ""] if data.get(
        "partial") else []
    out += [f"**Indexing** ({idx[0]['clips']} media, {data['dim']}-d model, {data.get('batch_size', 16)} media per "
           "task; `vita index` end to end includes worker start, model load, decoding, windowing, the broker, "
           "storing and HNSW optimize; its steady rate counts from the first batch back to the last; the "
           "bound is the model alone on the same media and threads: w workers of t threads, w x the "
           "t-thread rate; decoding is outside that bound and shares the cores with it)", "",
           table(["mode", "media", "windows", "seconds", "media/s", "audio s per s", "start-up s",
                  "steady media/s", "optimize s", "steady / bound", "steady / ceiling",
                  "cores busy in the steady state", "inside the batches"],
                 [[r["mode"], r["clips"], r["windows"], r["seconds"], r["clips_per_s"], r["audio_s_per_s"],
                   _dash(r.get("startup_s")), _dash(r.get("steady_per_s")), _dash(r.get("optimize_s")),
                   _dash(r.get("ratio_to_bound")), _dash(r.get("ratio_to_ceiling")),
                   ", ".join(f"{k} {v}" for k, v in (r.get("steady_cores") or {}).items()) or "–",
                   _profile(r.get("profile"))] for r in idx])]
    if data.get("machine_ceiling_per_s"):
        plan = "; ".join(f"{w} worker{'s' if w != '1' else ''}: {t['model']} model and {t['decode']} decoding threads each"
                         for w, t in data.get("threads_per_worker", {}).items())
        out += ["", f"Threads ({plan}: `workers.config.thread_plan`). "
                f"Ceiling on this machine ({data['cores']} cores): {data['machine_ceiling_per_s']} media/s, "
                "what the cores give if they do nothing but the model at its one-thread rate (the most work per "
                "core) and decoding, perfectly overlapped: cores / (1 / encoder-1-thread + 1 / decode). Cores busy: "
                "CPU seconds per process over the steady state's length (coordinator: dispatch, results, catalog "
                "and store writes; worker main: Celery's consumer and the broker; worker pool: decoding and the "
                "model). Inside the batches, from each batch's own timing: busy, the share of each worker "
                "process's span spent in batches; model, the share of batch time in forward passes (the rest: "
                "decoding the model waited on, the catalog); gap, the median wait between a process's batches "
                "(broker and result round trips); commit, the coordinator's store and catalog write per batch."]
    out += ["", f"**Queries** (top-10, synthetic {data['dim']}-d vectors with taxonomy-like low-rank structure, "
            "latency in ms, recall@10 against exact search)", "",
            table(["backend", "points", "HNSW", "queries", "filter", "selectivity", "p50", "p95", "p99", "recall@10"],
                  [[r["backend"], f"{r['points']:,}", "yes" if r["optimized"] else "no (exact scan)",
                    r["queries_kind"], r["filter"],
                    f"{100 * r['selectivity']:.1f}%", r["p50_ms"], r["p95_ms"], r["p99_ms"], r["recall_at_10"]]
                   for r in data["queries"]])]
    out += ["", "**Build and memory** (resident size of a fresh process that opened the collection and answered "
            "queries, minus one holding an empty store)", "",
            table(["backend", "points", "upsert s", "points/s", "optimize s", "disk MiB", "serving RSS MiB",
                   "RSS above empty store MiB"],
                  [[b["backend"], f"{b['points']:,}", b["upsert_s"], b["upsert_points_per_s"], b["optimize_s"],
                    b["disk_mib"], b.get("serving_rss_mib", "–"), b.get("rss_above_empty_mib", "–")]
                   for b in data["builds"]])]
    per = data.get("rss_mib_per_million_points")
    out += ["", f"Resident size per million points ({data['dim']}-d, embedded store): "
            f"{f'{per} MiB' if per is not None else 'needs two sizes or one of a million'}."]
    return "\n".join(out)


def speed_plot(data: dict[str, Any], path: Path) -> None:
    plt = results.pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    rows = data["queries"]
    rows = [r for r in rows if r["queries_kind"] == "far"]
    for (backend, filt, opt) in sorted({(r["backend"], r["filter"], r["optimized"]) for r in rows}):
        pts = sorted((r["points"], r["p95_ms"]) for r in rows
                     if (r["backend"], r["filter"], r["optimized"]) == (backend, filt, opt))
        ax.plot([p for p, _ in pts], [v for _, v in pts], marker="o", linestyle="-" if opt else "--",
                label=f"{backend}, {filt}, {'HNSW' if opt else 'exact'}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("points")
    ax.set_ylabel("p95 latency (ms), far queries")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------- all suites


def run_suites(cat: Catalog, cfg: BenchConfig, suite: Suite, run: BenchRun, scratch: ScratchIndex,
               server: StoreConfig | None = None, log: Log = print,
               progress: Callable[..., None] | None = None) -> list[tuple[str, Path]]:
    """One suite, or all of them in order; returns (suite, Markdown file) of what was written."""
    if suite is Suite.REAL:
        raise ConfigError("the real-media suite runs through bench.real.run_real (`vita bench real`)")
    suites = [x for x in Suite if x not in (Suite.ALL, Suite.REAL)] if suite is Suite.ALL else [suite]
    for one in suites:
        log(f"[bold]bench {one.value}[/bold] -> {run.dir}")
        if one is Suite.RETRIEVAL:
            run_retrieval(cat, cfg, run, log)
        elif one is Suite.ZEROSHOT:
            run_zeroshot(cat, cfg, run, log, progress)
        elif one is Suite.TRAITS:
            run_traits(cat, cfg, run, log)
        else:
            run_speed(cat, cfg, run, scratch, server, log)
    return [(one.value, md) for one in suites if (md := run.dir / f"{one.value}.md").is_file()]
