"""`vita bench retrieval|zeroshot|traits|speed|all` (`bench.run`): results under bench/results/<run>/."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bench import Suite
from bench.results import BenchRun
from catalog.errors import ConfigError
from catalog.prompts import Template
from encoders.config import DEFAULT_PRESET
from vita.cli.common import ModelOpt, PresetOpt, console, err, model_dir, open_catalog, progress_bars, settings
from workers.config import IndexConfig


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


def bench_cmd(
    suite: Annotated[Suite, typer.Argument(help="retrieval | zeroshot | traits | speed | all | real | ann")],
    preset: PresetOpt = DEFAULT_PRESET,
    model: ModelOpt = None,
    run: Annotated[str | None, typer.Option(help="Run name (default: a timestamp).")] = None,
    out: Annotated[Path, typer.Option(help="Results root; the run lands in <out>/<run>/.")] = Path("bench/results"),
    seed: Annotated[int, typer.Option(help="Seed of the retrieval tasks and the ablation runs.")] = 0,
    ways: Annotated[int, typer.Option(help="Candidates per retrieval task (BioVITA: 100).")] = 100,
    max_tasks: Annotated[int, typer.Option(help="At most this many tasks per retrieval scenario.")] = 300,
    tasks: Annotated[Path | None, typer.Option(help="A saved task file (compare models on the same tasks).")] = None,
    prompt: Annotated[Template, typer.Option(help="Text prompt of retrieval's text side.")] = Template.COM,
    ablation: Annotated[bool, typer.Option(help="Train and compare the prompt-ablation models (zeroshot).")] = True,
    ablation_epochs: Annotated[int, typer.Option(help="Stage-1 epochs per ablation model.")] = 6,
    ablation_max_steps: Annotated[int | None, typer.Option(help="At most this many steps per ablation "
                                                                "epoch (smoke runs).")] = None,
    ablation_seeds: Annotated[str | None, typer.Option(help="Train each ablation variant once per seed "
                                                            "(e.g. 0,1,2; default: --seed).")] = None,
    ablation_variants: Annotated[str | None, typer.Option(help="Only these variants, comma-separated "
                                                               "(com sci tax sci+com tax+com all; 'all, random "
                                                               "order' as random).")] = None,
    ablation_stage2_epochs: Annotated[int, typer.Option(help="Also run stage 2 for this many epochs after "
                                                             "each ablation model's stage 1 (the whole recipe).")] = 0,
    sizes: Annotated[str, typer.Option(help="Collection sizes for the query benchmark.")] = "10000,100000",
    queries: Annotated[int, typer.Option(help="Queries per size and filter.")] = 200,
    index_clips: Annotated[int, typer.Option(help="Media (clips, photos) for the indexing benchmark; 0: all.")] = 240,
    index_workers: Annotated[str, typer.Option(help="Worker counts for the indexing benchmark.")] = "1,2",
    index_batch: Annotated[int, typer.Option(help="Media per task in the indexing benchmark (as vita index --batch-size).")] = 64,
    dim: Annotated[int, typer.Option(help="Vector size for the ann suite (the models: tiny 128, biovita 768).")] = 128,
    efs: Annotated[str | None, typer.Option(help="hnsw_ef values for the ann suite (default 16,32,64,128,256).")] = None,
    graphs: Annotated[str, typer.Option(help="ann suite: our store's HNSW builds, comma-separated m, m/ef_construct "
                                             "or m/ef_construct/int8, e.g. 16/100,32/200,32/200/int8.")] = "32/200",
    peers: Annotated[bool, typer.Option(help="ann suite: also faiss and usearch on the same vectors.")] = True,
    biovita_bench: Annotated[Path | None, typer.Option(help="retrieval suite: the released BioVITA Bench directory "
                                                            "(ids/ and species|genus|family/ task files), scored "
                                                            "by the paper's protocol with --preset and --model "
                                                            "(a directory or hf-hub: id).")] = None,
    tuxpaint: Annotated[bool, typer.Option(help="real suite: add Tux Paint's animal stamps (Debian's "
                                                 "tuxpaint-stamps-default, fetched by name, 160 MB) to the held-out "
                                                 "photo <-> sound queries.")] = True,
) -> None:
    """Benchmarks: BioVITA Bench retrieval, AnimalCLAP zero-shot and ablation, traits, speed; real media.

    Writes <suite>.json, <suite>.md and PNG plots under <out>/<run>/ (and points <out>/latest at it).
    """
    from bench.run import BenchConfig, run_suites

    s = settings()
    if biovita_bench is not None:
        if suite is not Suite.RETRIEVAL:
            raise ConfigError("--biovita-bench goes with the retrieval suite")
        released_bench(biovita_bench, preset, model, BenchRun(out, run) if run else BenchRun(out))
        return
    if suite is Suite.REAL:
        real(model, BenchRun(out, run) if run else BenchRun(out), tuxpaint)
        return
    if suite is Suite.ANN:
        from bench.ann import Graph, ann_bench, markdown

        try:
            builds = tuple(Graph.parse(g.strip()) for g in graphs.split(",") if g.strip())
        except ValueError:
            raise ConfigError(f"--graphs: want m[/ef_construct[/int8]], comma-separated; got {graphs!r}") from None

        bench_run = BenchRun(out, run or "ann", latest=False)
        for n in _ints(sizes, "--sizes") or []:
            data = ann_bench(n, dim, queries, seed, **({"efs": tuple(e)} if (e := _ints(efs, "--efs")) else {}),
                             graphs=builds or (Graph(),), peers=peers,
                             log=err.print)
            _, md = bench_run.write(f"ann-{n}", data, markdown(data))
            console.rule(f"ann: {md}")
            console.print(md.read_text().split("\n\nEvery setting")[0], markup=False)
        return
    cfg = BenchConfig(model=model_dir(model, preset), data_dir=s.data_dir, seed=seed, ways=ways,
                      max_tasks=max_tasks, tasks=tasks, prompt=prompt, ablation_epochs=ablation_epochs,
                      ablation=ablation, ablation_max_steps=ablation_max_steps,
                      ablation_seeds=_ints(ablation_seeds, "--ablation-seeds"),
                      ablation_variants=_variants(ablation_variants), ablation_stage2_epochs=ablation_stage2_epochs,
                      sizes=_ints(sizes, "--sizes") or [], queries=queries, index_clips=index_clips,
                      index_workers=_ints(index_workers, "--index-workers") or [], batch_size=index_batch)
    bench_run = BenchRun(out, run) if run else BenchRun(out)
    with open_catalog() as cat, progress_bars(transient=True) as update:
        written = run_suites(cat, cfg, suite, bench_run, scratch_index, s.store_config(), err.print,
                             update)
    for name, md in written:
        console.rule(f"{name}: {md}")
        console.print(md.read_text(), markup=False, highlight=False)


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


def register(app: typer.Typer) -> None:
    app.command("bench")(bench_cmd)
