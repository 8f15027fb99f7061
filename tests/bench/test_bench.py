"""Benchmarks: the retrieval protocol's chance and ceiling, saved tasks, zero-shot and trait
metrics against hand computations, the query benchmark on a small store, and `vita bench all`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from bench.data import BenchItem, Embedded, Group, Modality
from bench.retrieval import LEVELS, Scenario, TaskSet, sample_tasks, score
from bench.speed import Synthetic, filters, query_bench, rss_per_million, synthetic, time_queries
from bench.traits import f1_binary, macro_f1
from bench.zeroshot import classify
from catalog.taxonomy import Lineage


def world(n_families: int = 40, genera: int = 3, species: int = 2, per_modality: int = 3,
          group: Group = Group.SEEN, prefix: str = "") -> list[BenchItem]:
    """240 species in 120 genera in 40 families; `per_modality` clips and photos each, one text."""
    items = []
    for f in range(n_families):
        for g in range(genera):
            for s in range(species):
                lin = Lineage(f"C{f % 4}", f"O{f % 8}", f"{prefix}F{f}", f"{prefix}G{f}_{g}", f"{prefix}G{f}_{g} s{s}")
                for m in (Modality.AUDIO, Modality.IMAGE):
                    items += [BenchItem(f"{m.value}:{lin.species}:{k}", m, lin, group) for k in range(per_modality)]
                items.append(BenchItem(f"text:{lin.species}", Modality.TEXT, lin, group, common=f"c{f}{g}{s}"))
    return items


def random_embedding(items: list[BenchItem], dim: int = 64, seed: int = 0) -> Embedded:
    v = np.random.default_rng(seed).standard_normal((len(items), dim)).astype(np.float32)
    return Embedded([it.key for it in items], v / np.linalg.norm(v, axis=1, keepdims=True))


def only(tasks: TaskSet, level: str) -> TaskSet:
    return TaskSet(tasks.seed, tasks.ways, tasks.max_tasks, tasks.fingerprint,
                   {n: t for n, t in tasks.scenarios.items() if Scenario.parse(n).level == level})


def test_random_embeddings_score_chance() -> None:
    items = world()
    tasks = sample_tasks(items, seed=1, ways=100, max_tasks=1000)
    rows = [r for r in score(items, random_embedding(items), tasks) if r.tasks]
    for level in ("species", "genus"):  # 240 species, 120 genera: 100-way
        mine = [r for r in rows if r.scenario.split("/")[1] == level]
        assert {r.ways for r in mine} == {100}
        n = sum(r.tasks for r in mine)
        top1 = sum(r.top1 * r.tasks for r in mine) / n
        top5 = sum(r.top5 * r.tasks for r in mine) / n
        assert abs(top1 - 0.01) < 4 * np.sqrt(0.01 * 0.99 / n), (level, top1, n)
        assert abs(top5 - 0.05) < 4 * np.sqrt(0.05 * 0.95 / n), (level, top5, n)
    fam = [r for r in rows if r.scenario.split("/")[1] == "family"]
    assert {r.ways for r in fam} == {40}  # fewer taxa than 100: all of them, and chance says so
    n = sum(r.tasks for r in fam)
    assert abs(sum(r.top1 * r.tasks for r in fam) / n - 1 / 40) < 4 * np.sqrt(0.025 * 0.975 / n)


def oracle(items: list[BenchItem], level: str) -> Embedded:
    """One-hot by taxon at `level`: every item of a taxon is the same point."""
    taxa = sorted({it.taxon(level) for it in items})
    eye = np.eye(len(taxa), dtype=np.float32)
    return Embedded([it.key for it in items], eye[[taxa.index(it.taxon(level)) for it in items]])


@pytest.mark.parametrize("level", LEVELS)
def test_oracle_scores_100_percent(level: str) -> None:
    items = world()
    tasks = only(sample_tasks(items, seed=2, ways=100, max_tasks=200), level)
    rows = [r for r in score(items, oracle(items, level), tasks) if r.tasks]  # the world has no unseen species
    assert len(rows) == 6
    assert all(r.top1 == 1.0 and r.top5 == 1.0 for r in rows)


def test_ties_count_against_the_model() -> None:
    items = world(n_families=10)
    same = Embedded([it.key for it in items], np.ones((len(items), 8), np.float32) / np.sqrt(8))
    rows = score(items, same, sample_tasks(items, ways=100))
    assert all(r.top1 == 0.0 and r.top5 == 0.0 for r in rows if r.tasks)  # a constant model learns nothing


def test_tasks_follow_the_protocol_and_round_trip(tmp_path: Path) -> None:
    items = world(n_families=12) + world(n_families=3, group=Group.UNSEEN, prefix="U")
    by_key = {it.key: it for it in items}
    species = {it.species: it for it in items}
    tasks = sample_tasks(items, seed=3, ways=100, max_tasks=50)
    assert len(tasks.scenarios) == 36
    assert tasks.scenarios == sample_tasks(items, seed=3, ways=100, max_tasks=50).scenarios  # deterministic
    assert tasks.scenarios != sample_tasks(items, seed=4, ways=100, max_tasks=50).scenarios
    for name, ts in tasks.scenarios.items():
        sc = Scenario.parse(name)
        assert sc.name == name
        assert 0 < len(ts) <= 50
        for t in ts:
            q = by_key[t.query]
            assert q.modality is sc.query
            assert q.group is sc.group
            right, wrong = species[t.candidates[0]], [species[c] for c in t.candidates[1:]]
            assert right.taxon(sc.level) == q.taxon(sc.level)
            if sc.level != "species":
                assert right.species != q.species  # a different species of the same taxon
            assert all(w.taxon(sc.level) != q.taxon(sc.level) and w.group is sc.group for w in wrong)
            assert len({w.taxon(sc.level) for w in wrong}) == len(wrong)
    path = tmp_path / "tasks.json.gz"
    tasks.save(path)
    back = TaskSet.load(path)
    assert back.scenarios == tasks.scenarios
    assert back.fingerprint == tasks.fingerprint


def test_zero_shot_ranks_and_map5_by_hand() -> None:
    audio = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], np.float32)
    text = np.array([[1.0, 0.0], [0.0, 1.0], [0.8, 0.6]], np.float32)
    r = classify(audio, np.array([0, 0, 2]), text)
    # clip 0: class 0 scores 1.0, best -> rank 1; clip 1: class 0 scores 0 (worst of 3) -> rank 3;
    # clip 2: class 2 scores 0.96, class 1 0.8, class 0 0.6 -> rank 1
    assert r["rank"].tolist() == [1, 3, 1]
    assert np.where(r["rank"] <= 5, 1 / r["rank"], 0).mean() == pytest.approx((1 + 1 / 3 + 1) / 3)


def test_trait_f1_by_hand() -> None:
    pred = np.array([1, 1, 0, 0], bool)
    truth = np.array([1, 0, 1, 0], bool)
    assert f1_binary(pred, truth) == pytest.approx(0.5)  # tp 1, fp 1, fn 1
    assert np.isnan(f1_binary(np.zeros(3, bool), np.zeros(3, bool)))
    # labels 0, 1, 2: F1 1.0 (0), 0.667 (1: tp 1 fp 0 fn 1), 0 (2: fp 1) -> mean over labels present
    assert macro_f1(np.array([0, 1, 2, 0]), np.array([0, 1, 1, 0]), 3) == pytest.approx((1 + 2 / 3 + 0) / 3)


def test_synthetic_vectors_are_low_rank_and_unit() -> None:
    s = synthetic(3000, 128, seed=0, rank=24)
    assert np.allclose(np.linalg.norm(s.vectors, axis=1), 1, atol=1e-5)
    sv = np.linalg.svd(s.vectors - s.vectors.mean(0), compute_uv=False)
    assert (sv[:24] ** 2).sum() / (sv ** 2).sum() > 0.9  # the structure is in 24 directions


def test_query_bench_on_a_small_edge_store(tmp_path: Path) -> None:
    from indexer.store.edge import EdgeStore

    out = query_bench(lambda root: EdgeStore(root), [2000], 32, n_queries=20, memory=True)
    rows = out["queries"]
    assert {(r["optimized"], r["queries_kind"], r["filter"]) for r in rows} == {
        (o, k, f) for o in (False, True) for k in ("near", "far") for f in ("none", "family (1 of 60)", "class + trait")}
    exact = [r for r in rows if not r["optimized"]]
    assert all(r["recall_at_10"] == 1.0 for r in exact)  # before optimize a query is an exact scan
    assert [r["selectivity"] for r in rows if r["filter"] == "none"] == [1.0] * 4
    build = out["builds"][0]
    assert build["points"] == 2000
    assert build["serving_rss_mib"] > build["empty_store_rss_mib"] > 0
    assert rss_per_million([{"points": 1000, "rss_above_empty_mib": 10.0},
                            {"points": 3000, "rss_above_empty_mib": 14.0}]) == 2000.0  # the slope, not 14/3000


@pytest.mark.slow
def test_vita_bench_all_on_the_small_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from encoders.factory import create_encoder, save_vita
    from tests.support import small_world
    from vita.cli import app

    cat, settings, _ = small_world(tmp_path)
    cat.close()
    model = settings.data_dir / "models" / "tiny"
    enc = create_encoder("tiny", pretrained=False)
    save_vita(enc, model)
    save_vita(enc, settings.data_dir / "runs" / "tiny" / "stage0" / "last")  # where the ablation starts
    monkeypatch.setenv("VITA_DATA_DIR", str(settings.data_dir))
    out = tmp_path / "results"
    args = ["bench", "all", "--out", str(out), "--run", "one", "--ablation-epochs", "1", "--ablation-max-steps", "1",
            "--sizes", "500", "--queries", "10", "--index-clips", "6", "--index-workers", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    run = out / "one"
    for suite in ("retrieval", "zeroshot", "traits", "speed"):
        assert (run / f"{suite}.json").is_file()
        assert (run / f"{suite}.md").read_text().startswith(("Top", "Un", "Tr", "**"))
    assert {p.name for p in run.glob("*.png")} == {"retrieval.png", "zeroshot-ablation.png", "traits.png", "speed.png"}
    assert (out / "latest").resolve() == run.resolve()
    retrieval = json.loads((run / "retrieval.json").read_text())
    assert len(retrieval["scenarios"]) == 36
    assert len(retrieval["hybrid"]) == len(retrieval["more_like_this"]) == 12  # A2I, I2A x 3 levels x 2 groups
    assert {r["scenario"][:3] for r in retrieval["hybrid"]} == {"A2I", "I2A"}
    assert "Photo <-> sound under the hybrid ranking" in (run / "retrieval.md").read_text()
    zs = json.loads((run / "zeroshot.json").read_text())
    assert {r["query"] for r in zs["main"]} == {"com", "sci", "tax", "sci+com", "tax+com"}
    assert len({r["trained"] for r in zs["ablation"]}) == 7
    speed = json.loads((run / "speed.json").read_text())
    modes = [r["mode"] for r in speed["indexing"]]
    assert "vita index, 1 worker" in modes
    assert any(m.startswith("encoder only") for m in modes)
    assert all(r["clips"] == 6 for r in speed["indexing"])
    indexed = next(r for r in speed["indexing"] if r["mode"] == "vita index, 1 worker")
    assert indexed["profile"]["processes"] == 1
    assert 0 < indexed["profile"]["model"] < 1
    assert f"model {indexed['profile']['model']}" in (run / "speed.md").read_text()
    traits = json.loads((run / "traits.json").read_text())
    assert traits["rows"]
    assert all(0 <= r["accuracy"] <= 1 for r in traits["rows"])
    # a second run compares on the same saved tasks; tasks from other media are refused
    again = CliRunner().invoke(app, ["bench", "retrieval", "--out", str(out), "--run", "two"])
    assert again.exit_code == 0, again.output
    assert json.loads((out / "two" / "retrieval.json").read_text())["tasks_file"] == retrieval["tasks_file"]
    other = tmp_path / "other.json.gz"
    sample_tasks(world(n_families=3), ways=10).save(other)
    refused = CliRunner().invoke(app, ["bench", "retrieval", "--out", str(out), "--tasks", str(other)])
    assert refused.exit_code == 2
    assert "other test media" in refused.output
    # the prompt comparison with several seeds and the whole recipe (stage 1, then stage 2)
    args = ["bench", "zeroshot", "--out", str(out), "--run", "seeds", "--ablation-epochs", "1", "--ablation-max-steps",
            "1", "--ablation-seeds", "0,1", "--ablation-variants", "com,all", "--ablation-stage2-epochs", "1"]
    seeded = CliRunner().invoke(app, args)
    assert seeded.exit_code == 0, seeded.output
    zs = json.loads((out / "seeds" / "zeroshot.json").read_text())
    assert {(r["trained"], r["seed"]) for r in zs["ablation"]} == {("com", 0), ("com", 1), ("all", 0), ("all", 1)}
    runs = {p.name for p in (settings.data_dir / "runs" / "ablation").glob("*/*")}
    assert {"com-e1-m1-s0-then-e1", "all-e1-m1-s1-then-e1", "all-e1-m1-s1"} <= runs
    assert "all − com" in (out / "seeds" / "zeroshot.md").read_text()
    bad = CliRunner().invoke(app, ["bench", "zeroshot", "--out", str(out), "--ablation-variants", "com,every"])
    assert bad.exit_code == 2
    assert "every" in bad.output


def test_zeroshot_refuses_an_unknown_variant_before_any_work(tmp_path: Path) -> None:
    from bench.run import BenchConfig, run_zeroshot

    cfg = BenchConfig(model=tmp_path / "models" / "tiny", data_dir=tmp_path, ablation_variants=["all", "every"])
    with pytest.raises(ValueError, match="every"):
        run_zeroshot(None, cfg, None)  # type: ignore[arg-type]  # no catalog, no run: nothing is touched
    with pytest.raises(FileNotFoundError, match="stage-0"):  # nor without the ablation's start
        run_zeroshot(None, BenchConfig(model=tmp_path / "models" / "tiny", data_dir=tmp_path), None)  # type: ignore[arg-type]  # refused before the catalog is touched


def test_ablation_table_over_seeds_by_hand() -> None:
    from bench.run import ablation_markdown
    from bench.zeroshot import ZeroShotRow

    def row(trained: str, query: str, seed: int, top1: float) -> ZeroShotRow:
        return ZeroShotRow(trained, query, "unseen", 10, 5, top1, top1, top1, top1, top1, seed)

    queries = ("com", "sci", "tax", "sci+com", "tax+com")
    rows = [row("all", q, 0, 0.30) for q in queries] + [row("all", q, 1, 0.20) for q in queries]
    rows += [row("com", q, 0, 0.10 if q == "com" else 0.20) for q in queries]  # mean over queries 0.18
    rows += [row("com", q, 1, 0.25) for q in queries]
    md = "\n".join(ablation_markdown(rows, 6))
    assert "2 training seeds" in md
    assert "| all | 25.0 ± 7.1 (21.4) |" in md  # mean and sd of 30 and 20; the paper's figure in brackets
    # per seed: all − com = 30 − 18 = +12 and 20 − 25 = −5; mean +3.5, ahead on one of two
    assert "+3.5 (+12.0, -5.0; ahead on 1/2)" in md
    # a dead heat is level, not a win, even when the means differ by float dust
    rows = [row("all", q, sd, 0.1 + 0.2) for q in queries for sd in (0, 1)]
    rows += [row("com", q, sd, 0.3) for q in queries for sd in (0, 1)]
    assert "+0.0 (+0.0, +0.0; ahead on 0/2, level on 2)" in "\n".join(ablation_markdown(rows, 6))


def test_query_bench_through_the_server_code_path() -> None:
    """What `vita bench speed` runs against a Qdrant server, on qdrant-client's local mode."""
    from indexer.store.server import ServerStore

    out = query_bench(lambda root: ServerStore(location=":memory:"), [600], 16, n_queries=5, backend="server",
                      memory=False)
    assert {r["backend"] for r in out["queries"]} == {"server"}
    assert len(out["queries"]) == 12
    assert all(r["recall_at_10"] == 1.0 for r in out["queries"] if not r["optimized"])
    assert out["builds"][0]["points"] == 600
    assert "serving_rss_mib" not in out["builds"][0]


def test_query_latencies_are_the_percentiles_of_the_timed_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """A store whose n-th query takes n ms on a fake clock: the row's percentiles are those of 1..n."""
    import bench.speed as speed
    from indexer.store import Hit

    clock = [0.0]
    calls = [0]

    class Store:
        def query(self, name: str, v: np.ndarray, flt: object, limit: int) -> list[Hit]:
            calls[0] += 1
            clock[0] += calls[0] / 1000
            return []

    class FakeTime:
        @staticmethod
        def perf_counter() -> float:
            return clock[0]

    monkeypatch.setattr(speed, "time", FakeTime)
    s = synthetic(300, 8)
    base, q = Synthetic(s.vectors[:280], s.family[:280], s.klass[:280], s.traits[:280]), s.vectors[280:]
    rows = time_queries(Store(), "c", base, q, "stub", optimized=False)  # type: ignore[arg-type]  # a stub store
    assert [r.filter for r in rows] == list(filters(base))
    for i, r in enumerate(rows):
        # per filter: one warm call, then 20 timed ones taking (21i + 2) .. (21i + 21) ms
        lat = np.arange(21 * i + 2, 21 * i + 22, dtype=float)
        assert [r.p50_ms, r.p95_ms, r.p99_ms] == pytest.approx(np.percentile(lat, [50, 95, 99]).tolist(), abs=2e-3)
        assert r.queries == 20
        assert r.recall_at_10 == 0.0


def test_real_precision_at_5_against_a_hand_count() -> None:
    from bench.data import Embedded
    from bench.real import precision

    lin = {n: Lineage("C", "O", f"F{n // 2}", f"G{n}", f"G{n} s") for n in range(4)}
    items = [BenchItem(f"image:{i}", Modality.IMAGE, lin[i % 4], Group.SEEN, f"/x/{i}.png") for i in range(8)]
    # items i and i+4 are the same species; vectors put each next to its own species, then its family
    angle = {i: (i % 4) * 0.3 + (i // 4) * 0.01 for i in range(8)}
    emb = Embedded([it.key for it in items], np.array([[np.cos(angle[i]), np.sin(angle[i])] for i in range(8)], np.float32))
    p, n = precision(items, emb, Modality.IMAGE, Modality.IMAGE, "species")
    assert n == 8
    assert p == pytest.approx(1 / 5)  # the one other item of its species is in every top 5
    p, n = precision(items, None, Modality.IMAGE, Modality.IMAGE, "family")
    assert n == 8
    assert p == pytest.approx(3 / 7)  # random: 3 of the 7 candidates share the family
    p, _ = precision(items, emb, Modality.IMAGE, Modality.IMAGE, "family")
    top5_family = []
    for i in range(8):  # by hand: the 5 nearest by angle, excluding itself
        near = sorted((j for j in range(8) if j != i), key=lambda j: (abs(angle[j] - angle[i]), j))[:5]
        top5_family.append(np.mean([(j % 4) // 2 == (i % 4) // 2 for j in near]))
    assert p == pytest.approx(float(np.mean(top5_family)))


@pytest.mark.slow
def test_vita_bench_real_writes_every_direction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ai_edge_litert", reason="the field extra")
    from typer.testing import CliRunner

    from tests.support import real_corpus_deb
    from vita.cli import app

    deb = real_corpus_deb()
    monkeypatch.setenv("XDG_CACHE_HOME", str(Path.home() / ".cache"))  # label banks: computed once per machine
    monkeypatch.setenv("HOME", str(tmp_path))  # the CLI's deb cache is ~/.cache/vita/debs
    cache = tmp_path / ".cache" / "vita" / "debs"
    cache.mkdir(parents=True)
    (cache / deb.name).symlink_to(deb)
    monkeypatch.setenv("VITA_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(app, ["bench", "real", "--out", str(tmp_path / "results"), "--run", "r", "--no-tuxpaint"])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "results" / "r" / "real.json").read_text())
    models = {r["model"] for r in data["rows"]}
    field = "field (ConSE over names, untrained)"
    assert models == {"random ranking", field, "field (ConSE over the taxonomy bridge, untrained)",
                      "tiny (random weights)", "tiny (trained on the synthetic demo world)"}  # no models of its own: the shipped tiny
    for m in models:
        got = {(r["direction"], r["level"]) for r in data["rows"] if r["model"] == m}
        assert got == {(d, lv) for d in ("A2A", "I2I", "A2I", "I2A") for lv in ("species", "genus", "family", "class")}
    assert data["items"] == 55
    assert [r["head"] for r in data["identification"]] == ["birdnet", "imagenet"]
    held = data["held_out"]
    assert {(r["direction"], r["ranking"], r["level"]) for r in held if r["model"] == field} == {
        (d, rk, lv) for d in ("I2A", "A2I") for rk in ("random ranking", "embedding", "hybrid") for lv in ("species", "family")}
    assert {r["queries"] for r in held if r["direction"] == "A2I"} == {8}  # every recording's species has photos
    md = (tmp_path / "results" / "r" / "real.md").read_text()
    assert "**I2A**" in md
    assert "Identification" in md
    assert "Held out" in md


def test_random_hit_by_hand() -> None:
    from bench.real import random_hit

    assert random_hit(1, 8) == pytest.approx(5 / 8)  # one right item of 8: in the top 5 with chance 5/8
    assert random_hit(2, 8) == pytest.approx(1 - 6 / 56)  # misses only when all 5 are of the 6 wrong: 6 of 56 draws
    assert random_hit(1, 3) == 1.0
    assert random_hit(0, 10) == 0.0


def test_ann_bench_puts_the_peers_beside_our_store_on_the_same_queries() -> None:
    from bench.ann import ann_bench, markdown

    data = ann_bench(3000, 16, n_queries=12, efs=(16, 128), log=lambda _: None)
    rows = data["rows"]
    assert {r["backend"] for r in rows} == {"edge (ours)", "faiss", "usearch"}
    exact = [r for r in rows if r["setting"].startswith(("exact", "flat (exact)")) and r["filter"] == "none"]
    assert len(exact) == 4
    assert all(r["recall_at_10"] == 1.0 for r in exact)  # both exact searches agree with the truth
    assert all(0 <= r["recall_at_10"] <= 1 and r["p50_ms"] > 0 for r in rows)
    filtered = [r for r in rows if r["backend"] == "edge (ours)" and r["filter"] != "none"
                and r["setting"].startswith("exact")]
    assert filtered
    assert all(r["recall_at_10"] == 1.0 for r in filtered)  # our filters are exact, not post-filtered
    kinds = {(s["queries_kind"], s["filter"], s["backend"]) for s in data["summary"]}
    assert len(kinds) == 2 * 3 * 3  # every query set, filter and backend has a line, reached or not
    assert "our p50 / theirs" in markdown(data)


def test_ann_bench_measures_each_graph_of_our_store_at_every_ef() -> None:
    from bench.ann import Graph, ann_bench
    from indexer.store.config import ON_DISK_INT8

    assert Graph.parse("32/200/int8") == Graph(32, 200, True)
    assert Graph.parse("32/200/float") == Graph(32, 200, False)
    assert Graph.parse("8") == Graph(8, 200, ON_DISK_INT8)  # the store's default layout
    with pytest.raises(ValueError, match="int8 or float"):
        Graph.parse("32/200/int4")
    graphs = (Graph(8, 32, int8=False), Graph(32, 200, int8=True))
    data = ann_bench(12_000, 16, n_queries=8, efs=(16, 64), log=lambda _: None, graphs=graphs, peers=False)
    settings = {r["setting"] for r in data["rows"]}
    assert {r["backend"] for r in data["rows"]} == {"edge (ours)"}
    defaults = {f"default: {g.label}, breadth by size (ef=512)" for g in graphs}  # 12k points: the curve's floor
    assert settings == {"exact"} | {f"HNSW {g.label} ef={ef}" for g in graphs for ef in (16, 64)} | defaults
    assert set(data["build_s"]) == {f"edge {g.label}" for g in graphs}
    assert all(r["recall_at_10"] == 1.0 for r in data["rows"] if r["setting"] == "exact")


def test_rescore_bench_measures_each_oversampling_at_every_ef() -> None:
    """Above Qdrant's indexing threshold (so a graph is built and searched), every (ef, oversampling,
    query set) gets a row; re-ranking more of the int8 copy's candidates loses no recall overall."""
    from bench.rescore import markdown, rescore_bench

    data = rescore_bench(12_000, 16, n_queries=8, efs=(16, 64), oversampling=(1.0, 8.0))
    assert {(r["ef"], r["oversampling"], r["queries"]) for r in data["rows"]} == {
        (ef, o, k) for ef in (16, 64) for o in (1.0, 8.0) for k in ("near", "far")}
    rec = {(r["ef"], r["oversampling"], r["queries"]): r["recall_at_10"] for r in data["rows"]}
    assert all(0.0 <= v <= 1.0 for v in rec.values())
    assert sum(v for (_, o, _), v in rec.items() if o == 8.0) >= sum(v for (_, o, _), v in rec.items() if o == 1.0)
    assert "| 64 | 8.0 | far |" in markdown(data)


def test_machine_ceiling_by_hand() -> None:
    from bench.speed import machine_ceiling

    # the model alone 200 items/s on one thread, decoding 300/s: 5 + 3.33 ms of CPU per item; 2 cores
    assert machine_ceiling(200.0, 300.0, 2) == pytest.approx(2 / (1 / 200 + 1 / 300))
    assert machine_ceiling(200.0, 1e12, 1) == pytest.approx(200.0)  # free decoding: the model's own rate


def test_cpu_sampler_tells_the_coordinator_from_the_workers() -> None:
    """A child that spins and a grandchild that spins are a worker main and a worker pool process;
    this process sleeping is the coordinator, busy far less than they are."""
    import subprocess
    import sys

    from bench.speed import CpuSampler

    spin = "import time\nt = time.process_time()\nwhile time.process_time() - t < 1.5: pass\n"
    parent = f"import subprocess, sys\np = subprocess.Popen([sys.executable, '-c', {spin!r}])\n{spin}p.wait()\n"
    with CpuSampler(every_s=0.05) as cpu:
        started = time.monotonic() - cpu.t0
        subprocess.run([sys.executable, "-c", parent], check=True)
        ended = time.monotonic() - cpu.t0
    cores = cpu.cores(started, ended)
    assert set(cores) == {"coordinator", "worker main", "worker pool"}
    assert cores["worker main"] > cores["coordinator"]
    assert cores["worker pool"] > cores["coordinator"]


def modality_private(items: list[BenchItem]) -> Embedded:
    """Each modality clusters by species in its own block of dimensions: sound -> sound and photo ->
    photo are perfect, photo <-> sound similarity is 0 everywhere (towers that share no space)."""
    species = sorted({it.species for it in items})
    blocks = {m: k for k, m in enumerate(Modality)}
    v = np.zeros((len(items), len(species) * len(blocks)), np.float32)
    for i, it in enumerate(items):
        v[i, blocks[it.modality] * len(species) + species.index(it.species)] = 1.0
    return Embedded([it.key for it in items], v)


def test_hybrid_ranking_finds_the_species_through_labelled_neighbours_of_the_query_s_own_modality() -> None:
    from bench.hybrid import HeldOutEvidence, hybrid_species_scores

    items = world(n_families=20)
    tasks = sample_tasks(items, seed=5, ways=100, max_tasks=100)
    emb = modality_private(items)
    media = [it for it in items if it.modality is not Modality.TEXT]
    by_key = {it.key: it for it in items}
    plain = {r.scenario: r for r in score(items, emb, tasks, directions=("A2I", "I2A")) if r.tasks}
    held = HeldOutEvidence(media, emb)
    hybrid = {r.scenario: r for r in score(items, emb, tasks, hybrid_species_scores(held, by_key), ("A2I", "I2A"))
              if r.tasks}
    assert set(hybrid) == set(plain) == {f"{d}/{lv}/seen" for d in ("A2I", "I2A") for lv in LEVELS}
    for name, r in hybrid.items():
        assert plain[name].top1 == 0.0  # every candidate ties at similarity 0, and ties count against
        # the other clips of the query's species name it, though the query itself is left out
        assert r.top1 == 1.0, name
    # with nothing to learn from (a random space, one clip per species) it is chance, not better
    lonely = world(n_families=20, per_modality=1)
    rnd = random_embedding(lonely)
    ev = HeldOutEvidence([it for it in lonely if it.modality is not Modality.TEXT], rnd)
    blind = score(lonely, rnd, sample_tasks(lonely, seed=6, ways=100, max_tasks=100),
                  hybrid_species_scores(ev, {it.key: it for it in lonely}), ("A2I", "I2A"))
    species_rows = [r for r in blind if r.scenario.split("/")[1] == "species" and r.tasks]
    assert all(r.top1 < 0.2 for r in species_rows), [(r.scenario, r.top1) for r in species_rows]
    # "more like this" on a catalogued item: its own label is evidence, even with one clip per species
    known = HeldOutEvidence([it for it in lonely if it.modality is not Modality.TEXT], rnd, label_known=True)
    told = score(lonely, rnd, sample_tasks(lonely, seed=6, ways=100, max_tasks=100),
                 hybrid_species_scores(known, {it.key: it for it in lonely}), ("A2I", "I2A"))
    assert all(r.top1 == 1.0 for r in told if r.scenario.split("/")[1] == "species" and r.tasks)


def test_a_wrong_pick_is_the_best_scoring_wrong_candidate() -> None:
    """The Fig. 9 counts look at the wrong candidate that scored highest, wherever it is in the list."""
    from bench.retrieval import Task

    items = world(n_families=10)
    audio = next(it for it in items if it.modality is Modality.AUDIO and it.species == "G0_0 s0")
    # candidates: the right species, one of another genus, then the query's genus-mate
    tasks = TaskSet(0, 3, 1, "", {"A2I/species/seen": [Task(audio.key, ["G0_0 s0", "G5_1 s0", "G0_0 s1"])]})

    def mate_wins(sc: Scenario, ts: list, groups: dict[str, list[str]], species: list[str]) -> np.ndarray:
        out = np.zeros((len(ts), len(species)), np.float32)
        out[0, species.index("G0_0 s1")] = 1.0
        return out

    (row,) = score(items, oracle(items, "species"), tasks, mate_wins)
    assert row.top1 == 0.0
    assert row.errors_same_genus == 1.0
    assert row.errors_same_family == 1.0


def test_the_gpu_script_runs_the_same_code_on_a_cpu(tmp_path: Path) -> None:
    from bench.gpu import main

    out = main(["--preset", "tiny", "--device", "cpu", "--n", "4", "--batches", "2", "--out", str(tmp_path)])
    data = json.loads((out / "gpu.json").read_text())
    assert [(r["modality"], r["batch"]) for r in data["rows"]] == [("audio", 2), ("image", 2), ("text", 2)]
    assert all(r["items_per_s"] > 0 for r in data["rows"])
    assert 0 < data["rows"][0]["featurize_share"] < 1  # the featurizer is part of the audio path
    assert "| audio | fp32 | 2 |" in (out / "gpu.md").read_text()


def test_the_filtered_bench_measures_plain_acorn_and_exact_search() -> None:
    """A small store: every filter and query set has plain rows per breadth, ACORN rows only where a
    filter is set, and an exact row whose recall is 1 by construction."""
    from bench.filtered import markdown, measure

    data = measure(3000, 16, False, n_queries=5, efs=(16, 64), log=lambda *_: None)
    rows = data["rows"]
    assert {(r["filter"], r["queries"]) for r in rows} == {(f, q) for f in ("none", "family (1 of 60)", "class + trait")
                                                          for q in ("near", "far")}
    assert all(r["recall_at_10"] == 1.0 for r in rows if r["hnsw_ef"] == "exact")
    assert not [r for r in rows if r["acorn"] and r["filter"] == "none"]
    assert len([r for r in rows if r["acorn"]]) == 2 * 2 * 2  # two filters, two query sets, two breadths
    assert "ACORN" in markdown(data)
