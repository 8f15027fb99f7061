"""Training on the small demo world: the loss falls, held-out species beat chance, runs resume."""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from catalog.facade import Catalog
from catalog.sources.demo import DemoWorldSource
from catalog.tables import MediaKind, Split
from encoders.factory import create_encoder, save_vita
from tests.support import make_settings
from training.data import MediaCache, examples, species_table
from training.evaluate import a2t_report
from training.probe_run import embed_items, training_scores
from training.probes import species_traits
from training.prompts import Template
from training.trainer import TrainConfig, a2t_accuracy, lr_factor, train
from vita.settings import Settings


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    settings = make_settings(tmp_path_factory.mktemp("train"))
    cat = settings.open_catalog()
    assert cat.ingest(DemoWorldSource(settings.media_dir, "small")).failed == 0
    yield cat
    cat.close()


def _settings_of(cat: Catalog) -> Settings:
    """The test world's settings: its catalog file lives in its data directory."""
    return make_settings(Path(cat.url.removeprefix("sqlite:///")).parent.parent)


def test_a_run_resumes_where_it_stopped(world: Catalog, tmp_path: Path) -> None:
    # the recipe's schedule (warm-up, cosine): its learning rates must survive the safe checkpoint load
    cfg = TrainConfig(stage=0, out_dir=tmp_path / "run", epochs=1, batch_size=32, lr=1e-3, max_steps_per_epoch=2,
                      warmup_steps=1, schedule="cosine")
    first = train(world, cfg)
    assert [h["epoch"] for h in first.history] == [1]
    state = json.loads((tmp_path / "run/last/trainer_state.json").read_text())
    assert state == {"epoch": 1, "step": 2, "best": pytest.approx(-first.history[0]["loss"])}
    cfg.epochs = 2
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*lr_scheduler.step.*")  # no replay of the schedule
        second = train(world, cfg)  # picks up from last/, runs only epoch 2
    assert [h["epoch"] for h in second.history] == [2]
    assert json.loads((tmp_path / "run/last/trainer_state.json").read_text())["step"] == 4
    # the schedule went on from step 2, not from 0: after 4 of 4 steps the cosine is at its floor
    saved = torch.load(tmp_path / "run/last/optimizer.pt", weights_only=True)["param_groups"][0]["lr"]
    assert saved == pytest.approx(1e-3 * lr_factor(4, cfg, 4))
    assert lr_factor(4, cfg, 4) == pytest.approx(0.1)
    lines = (tmp_path / "run/metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2]


@pytest.mark.timeout(1800)  # ~3 min on 2 idle cores; the limit only guards against hangs
@pytest.mark.slow
def test_recipe_lowers_the_loss_and_beats_chance_on_unseen_species(world: Catalog, tmp_path: Path) -> None:
    """Trained with the Tax template only, the one way to reach an unseen species is its taxonomy."""
    plan = {0: 12, 1: 10, 2: 2}
    stages = {}
    init = None
    for stage, epochs in plan.items():
        cfg = TrainConfig(stage=stage, out_dir=tmp_path / f"s{stage}", init=init, epochs=epochs,
                          batch_size=64 if stage == 0 else 32, lr=2e-3 if stage == 0 else 1e-3,
                          templates=["tax"], warmup_steps=20, schedule="cosine")
        stages[stage] = train(world, cfg)
        init = str(tmp_path / f"s{stage}" / ("last" if stage == 0 else "best"))
    for stage in (0, 1):
        history = stages[stage].history
        assert len(history) == plan[stage] and history[-1]["loss"] < history[0]["loss"], (stage, history)
    # stage 2 adds the ramped image terms to ATC: the loss is never below its ATC part, lambda rises
    # towards 0.1, and ATC stays far below where stage 1 started (stage 2 keeps what stage 1 learned)
    s2 = stages[2].history
    assert len(s2) == 2 and 0 < s2[0]["lambda"] < s2[1]["lambda"] <= 0.1, s2
    assert all(h["loss"] >= h["atc"] and h["aic"] > 0 and h["itc"] > 0 for h in s2), s2
    assert s2[-1]["atc"] < stages[1].history[0]["loss"], (s2, stages[1].history[0])
    model = create_encoder(checkpoint=init, device="cpu")
    with world.sessions() as s:
        table = species_table(s)
        unseen = examples(s, table, MediaKind.AUDIO, [Split.TEST_UNSEEN])
    acc = a2t_accuracy(model, table, unseen, MediaCache(model.cfg.audio.sample_rate), Template.TAX)
    chance_top5 = 5 / len(table)
    assert acc["n"] > 50
    assert acc["top5"] > 2 * chance_top5, acc
    rows = {(r.split, r.template): r for r in a2t_report(world, init)}
    assert len(rows) == 6
    tax = rows[("test-unseen", "tax+com")]
    assert tax.n == acc["n"]
    assert tax.chance_top1 == pytest.approx(1 / len(table))
    assert tax.top1_family >= tax.top1_genus >= tax.top1


@pytest.mark.timeout(1800)
@pytest.mark.slow
def test_cli_train_and_train_traits(world: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from training.probes import TraitProbes
    from vita.cli import app

    monkeypatch.setenv("VITA_DATA_DIR", str(_settings_of(world).data_dir))
    monkeypatch.setenv("VITA_DATABASE_URL", _settings_of(world).resolved_database_url)
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--stage", "0", "--stage", "1", "--stage", "2", "--epochs", "1",
                                 "--max-steps", "2", "--name", "smoke"])
    assert result.exit_code == 0, result.output
    model_dir = _settings_of(world).data_dir / "models" / "smoke"
    assert (model_dir / "vita_config.json").is_file()
    assert not (model_dir / "optimizer.pt").exists()
    stages = [json.loads(line)["stage"] for r in ("stage0", "stage1", "stage2")
              for line in (_settings_of(world).data_dir / "runs/smoke" / r / "metrics.jsonl").read_text().splitlines()]
    assert stages == [0, 1, 2]
    traits = runner.invoke(app, ["train-traits", "--model", str(model_dir)])
    assert traits.exit_code == 0, traits.output
    probes = TraitProbes.load(model_dir / "probes-audio")
    meta = json.loads((model_dir / "probes-audio" / "probes.json").read_text())
    with world.sessions() as s:
        table = species_table(s)
        items = examples(s, table, MediaKind.AUDIO, [Split.TRAIN])
        facts = species_traits(s, table.names)
    assert probes.dim == 128
    assert meta["modality"] == "audio"
    assert meta["n_train"] == len(items)
    # the saved probes are the ones the command scored: their training scores are the table it printed
    model = create_encoder(checkpoint=model_dir, device="cpu")
    x = embed_items(model, items, MediaCache(model.cfg.audio.sample_rate), MediaKind.AUDIO)
    scores = training_scores(probes, x, [facts[table.names[e.species]] for e in items])
    assert "activity" in scores
    for key, value in scores.items():
        assert re.search(rf"{key}\s.*{value:.3f}", traits.output), (key, value, traits.output)


@pytest.mark.timeout(1800)
@pytest.mark.slow
def test_trainer_under_torchrun_with_two_gloo_ranks(world: Catalog, tmp_path: Path) -> None:
    """The real trainer, launched as users would (`torchrun --nproc_per_node 2`); ranks stay in sync."""
    import socket
    import subprocess
    import sys

    init = tmp_path / "init"
    save_vita(create_encoder("tiny", device="cpu"), init)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "VITA_DATA_DIR": str(_settings_of(world).data_dir),
           "VITA_DATABASE_URL": _settings_of(world).resolved_database_url, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--master_addr", "127.0.0.1", "--master_port", str(port),
                           str(Path(__file__).with_name("ddp_train_script.py")), str(tmp_path), str(init)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["checksum"] == pytest.approx(ranks[1]["checksum"], rel=1e-9)
    assert (tmp_path / "run/last/vita_config.json").is_file()
    assert len((tmp_path / "run/metrics.jsonl").read_text().splitlines()) == 1
