"""Encoders: every preset's loader, tested on the released formats built here with random weights."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import save_file

from encoders.audio import onset_crop, random_crop, sliding_windows
from encoders.config import get_config, list_presets
from encoders.factory import CheckpointError, create_encoder, save_vita

TINY_AUDIO = {"depths": [1, 1, 1, 1], "num_attention_heads": [2, 2, 4, 4], "hidden_size": 128,
              "patch_embeds_hidden_size": 16, "projection_dim": 32, "spec_size": 128, "num_mel_bins": 32,
              "window_size": 4}
SMALL_AUDIO_PRESET = {"sample_rate": 16000, "window_s": 4.0,
                      "mel": {"n_mels": 32, "hop_length": 320, "fft_window": 512, "fmin": 50.0, "fmax": 8000.0},
                      "clap": TINY_AUDIO}
CLIP_CFG = {"embed_dim": 48, "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 8, "head_width": 32},
            "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1}}
PREPROCESS = {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}


def waves(n: int = 3, seconds: float = 3.0, sr: int = 16000) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    return [(0.3 * np.sin(2 * np.pi * (300 + 200 * i) * t) + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
            for i in range(n)]


def images(n: int = 3) -> list[Image.Image]:
    rng = np.random.default_rng(1)
    return [Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)) for _ in range(n)]


TEXTS = ["Hyla versicolor", "Aves Strigiformes, Strigidae Strix, Strix varia", "Gray Treefrog"]


def test_registry_lists_the_presets_with_their_settings() -> None:
    assert set(list_presets()) == {"biovita", "bioclip2", "clap", "field", "tiny"}  # the files of model_configs/
    with pytest.raises(ValueError, match="the presets are bioclip2, biovita, clap, field, tiny"):
        get_config("bioclip")
    bio = get_config("biovita")
    assert bio.dim == 768
    assert bio.audio.sample_rate == 48000
    assert bio.audio.window_s == 10.0
    assert bio.audio.mel.n_mels == 64
    assert bio.audio.weights_file == "clap_weights.pth"
    assert bio.modalities == ("audio", "image", "text")
    assert get_config("bioclip2").modalities == ("image", "text")
    assert get_config("clap").modalities == ("audio", "text")
    tiny = get_config("tiny", {"audio": {"clap": {"hidden_size": 64}}})
    assert tiny.audio.clap["hidden_size"] == 64
    assert tiny.audio.clap["depths"] == [1, 1, 1, 1]


def test_windows() -> None:
    sr = 1000
    x = np.zeros(10 * sr, np.float32)
    x[3 * sr:] = np.sin(np.arange(7 * sr))
    offset, crop = onset_crop(x, sr, 2.0)
    assert offset == pytest.approx(2.8, abs=0.011)
    assert len(crop) == 2 * sr
    wins = sliding_windows(np.ones(10 * sr + 300, np.float32), sr, 4.0, 3.0)
    assert [w.offset_s for w in wins] == [0.0, 3.0, 6.0, 6.3]
    assert all(len(w.samples) == 4 * sr for w in wins)
    assert len(sliding_windows(np.ones(500, np.float32), sr, 4.0, 3.0)) == 1
    assert len(random_crop(x, sr, 2.0, np.random.default_rng(0))) == 2 * sr


@pytest.mark.parametrize("preset", ["tiny", "biovita"])
def test_featurizer_is_clap_s_log_mel_computed_in_one_batch(preset: str) -> None:
    """The batched torch log-mel equals transformers' ClapFeatureExtractor (rand_trunc, repeatpad) on
    full, short, tiny, silent and longer inputs (a longer one draws the same random crop)."""
    from transformers import ClapFeatureExtractor

    from encoders.audio import Featurizer

    cfg = get_config(preset).audio
    ours = Featurizer(cfg)
    ref = ClapFeatureExtractor(feature_size=cfg.mel.n_mels, sampling_rate=cfg.sample_rate,
                               hop_length=cfg.mel.hop_length, max_length_s=cfg.window_s,
                               fft_window_size=cfg.mel.fft_window, frequency_min=cfg.mel.fmin,
                               frequency_max=cfg.mel.fmax, truncation="rand_trunc", padding="repeatpad")
    ref.nb_max_samples = ours.samples
    rng = np.random.default_rng(0)
    n = ours.samples
    inputs = [0.1 * rng.standard_normal(n), 0.5 * rng.standard_normal(n // 3 + 7), 0.2 * rng.standard_normal(9),
              np.zeros(n), 0.3 * rng.standard_normal(n + 1234)]
    inputs = [x.astype(np.float32) for x in inputs]
    np.random.seed(5)
    a = ours(inputs)
    np.random.seed(5)
    b = ref(inputs, sampling_rate=cfg.sample_rate, return_tensors="pt")["input_features"]
    assert a.shape == b.shape == (5, 1, n // cfg.mel.hop_length + 1, cfg.mel.n_mels)
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=0.05)  # dB; values span about 100 dB


def _assert_same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape
    assert a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_tiny_round_trip_in_vita_format(tmp_path: Path) -> None:
    model = create_encoder("tiny", device="cpu")
    before = (model.embed_audio(waves()), model.embed_image(images()), model.embed_text(TEXTS))
    assert before[0].shape == (3, 128)
    save_vita(model, tmp_path / "ckpt")
    assert not list((tmp_path / "ckpt").glob("*.pt*")), "no pickles in a VITA checkpoint"
    again = create_encoder(checkpoint=tmp_path / "ckpt", device="cpu")
    for x, y in zip(before, (again.embed_audio(waves()), again.embed_image(images()), again.embed_text(TEXTS))):
        _assert_same(x, y)
    # batching does not change an item's embedding
    _assert_same(again.embed_text(TEXTS[:1]), again.embed_text(TEXTS)[:1])


def _save_open_clip(model: torch.nn.Module, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(directory / "open_clip_model.safetensors"))
    (directory / "open_clip_config.json").write_text(json.dumps({"model_cfg": CLIP_CFG, "preprocess_cfg": PREPROCESS}))


def test_biovita_loads_its_released_format(tmp_path: Path) -> None:
    """open_clip hub layout + clap_weights.pth {'clap_audio': ClapModel state dict, 'audio_adapter': Linear}."""
    from transformers import ClapConfig, ClapModel

    torch.manual_seed(0)
    clap = ClapModel(ClapConfig(audio_config=TINY_AUDIO, projection_dim=32,
                                text_config={"vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 1,
                                             "num_attention_heads": 2, "intermediate_size": 64,
                                             "max_position_embeddings": 80, "projection_dim": 32})).eval()
    adapter = torch.nn.Linear(32, 48, bias=False)
    clip = open_clip.CLIP(**CLIP_CFG).eval()
    release = tmp_path / "BioVITA"
    _save_open_clip(clip, release)
    torch.save({"clap_audio": clap.state_dict(), "audio_adapter": adapter.state_dict()}, release / "clap_weights.pth")

    overrides = {"dim": 48, "audio": SMALL_AUDIO_PRESET}
    enc = create_encoder("biovita", checkpoint=release, overrides=overrides, device="cpu")
    feats = enc.audio_features(waves())
    with torch.no_grad():
        ref_audio = F.normalize(adapter(clap.get_audio_features(input_features=feats).pooler_output), dim=-1)
        pixels = torch.stack([enc.image_transform(im) for im in images()])
        ref_image = F.normalize(clip.encode_image(pixels), dim=-1)
        ref_text = F.normalize(clip.encode_text(open_clip.tokenize(TEXTS)), dim=-1)
    _assert_same(enc.embed_audio(waves()), ref_audio.numpy())
    _assert_same(enc.embed_image(images()), ref_image.numpy())
    _assert_same(enc.embed_text(TEXTS), ref_text.numpy())

    # what training writes (a VITA checkpoint) loads back without the released directory: the
    # architecture it was built with travels in its config
    save_vita(enc, tmp_path / "trained")
    shutil.rmtree(release.with_name("elsewhere"), ignore_errors=True)
    release.rename(release.with_name("elsewhere"))
    again = create_encoder(checkpoint=tmp_path / "trained", device="cpu")
    _assert_same(again.embed_audio(waves()), ref_audio.numpy())
    _assert_same(again.embed_image(images()), ref_image.numpy())
    _assert_same(again.embed_text(TEXTS), ref_text.numpy())
    release.with_name("elsewhere").rename(release)

    wrong = {"dim": 48, "audio": {**SMALL_AUDIO_PRESET, "clap": {**TINY_AUDIO, "depths": [1, 1, 2, 1]}}}
    with pytest.raises(CheckpointError, match="do not fit"):
        create_encoder("biovita", checkpoint=release, overrides=wrong, device="cpu")
    with pytest.raises(CheckpointError, match="clap_weights.pth"):
        (release / "clap_weights.pth").unlink()
        create_encoder("biovita", checkpoint=release, overrides=overrides, device="cpu")


def test_bioclip2_loads_an_open_clip_directory(tmp_path: Path) -> None:
    torch.manual_seed(1)
    clip = open_clip.CLIP(**CLIP_CFG).eval()
    _save_open_clip(clip, tmp_path / "bioclip-2")
    enc = create_encoder("bioclip2", checkpoint=tmp_path / "bioclip-2", overrides={"dim": 48}, device="cpu")
    assert enc.audio is None
    with torch.no_grad():
        ref = F.normalize(clip.encode_text(open_clip.tokenize(TEXTS)), dim=-1).numpy()
    _assert_same(enc.embed_text(TEXTS), ref)
    assert enc.embed_image(images()).shape == (3, 48)
    with pytest.raises(NotImplementedError, match="no audio tower"):
        enc.embed_audio(waves())


@pytest.mark.parametrize("form", ["Path", "str", "relative", "home"])
def test_a_released_directory_loads_the_same_in_any_path_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              form: str) -> None:
    torch.manual_seed(3)
    clip = open_clip.CLIP(**CLIP_CFG).eval()
    _save_open_clip(clip, tmp_path / "bioclip-2")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    where = {"Path": tmp_path / "bioclip-2", "str": str(tmp_path / "bioclip-2"), "relative": "bioclip-2",
             "home": "~/bioclip-2"}[form]
    enc = create_encoder("bioclip2", checkpoint=where, overrides={"dim": 48}, device="cpu")
    with torch.no_grad():
        ref = F.normalize(clip.encode_text(open_clip.tokenize(TEXTS)), dim=-1).numpy()
    _assert_same(enc.embed_text(TEXTS), ref)


def test_a_checkpoint_that_is_not_there_or_incomplete_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="nowhere/BioVITA: no such checkpoint"):
        create_encoder("bioclip2", checkpoint=str(tmp_path / "nowhere" / "BioVITA"), overrides={"dim": 48})
    _save_open_clip(open_clip.CLIP(**CLIP_CFG), tmp_path / "bioclip-2")
    (tmp_path / "bioclip-2" / "open_clip_model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="no image and text weights"):
        create_encoder("bioclip2", checkpoint=str(tmp_path / "bioclip-2"), overrides={"dim": 48}, device="cpu")
    (tmp_path / "bioclip-2" / "open_clip_config.json").unlink()
    with pytest.raises(CheckpointError, match="no open_clip_config.json"):
        create_encoder("bioclip2", checkpoint=tmp_path / "bioclip-2", overrides={"dim": 48}, device="cpu")


def test_training_from_a_directory_given_as_text_starts_from_its_weights(tmp_path: Path) -> None:
    from training.trainer import TrainConfig, _open_model

    model = create_encoder("tiny", device="cpu")
    save_vita(model, tmp_path / "start")
    started, state = _open_model(TrainConfig(preset="tiny", init=str(tmp_path / "start"), out_dir=tmp_path / "run"),
                                 "cpu")
    assert state["step"] == 0
    _assert_same(started.embed_text(TEXTS), model.embed_text(TEXTS))
    assert not np.allclose(create_encoder("tiny", device="cpu").embed_text(TEXTS), model.embed_text(TEXTS), atol=1e-3)


def test_clap_baseline_loads_a_transformers_directory(tmp_path: Path) -> None:
    from tokenizers import ByteLevelBPETokenizer
    from transformers import ClapConfig, ClapModel, RobertaTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(TEXTS * 20 + ["frog owl cricket bat"] * 20, vocab_size=300,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(tmp_path))
    tok = RobertaTokenizerFast(vocab_file=str(tmp_path / "vocab.json"), merges_file=str(tmp_path / "merges.txt"))
    torch.manual_seed(2)
    clap = ClapModel(ClapConfig(audio_config=TINY_AUDIO, projection_dim=32,
                                text_config={"vocab_size": len(tok), "hidden_size": 32, "num_hidden_layers": 1,
                                             "num_attention_heads": 2, "intermediate_size": 64,
                                             "max_position_embeddings": 80, "projection_dim": 32})).eval()
    clap.save_pretrained(tmp_path / "clap")
    tok.save_pretrained(tmp_path / "clap")
    enc = create_encoder("clap", checkpoint=tmp_path / "clap", overrides={"dim": 32, "audio": SMALL_AUDIO_PRESET},
                         device="cpu")
    feats = enc.audio_features(waves())
    with torch.no_grad():
        ref_audio = clap.get_audio_features(input_features=feats).pooler_output.numpy()
        batch = tok(TEXTS, padding=True, return_tensors="pt")
        ref_text = clap.get_text_features(input_ids=batch["input_ids"],
                                          attention_mask=batch["attention_mask"]).pooler_output.numpy()
    _assert_same(enc.embed_audio(waves()), ref_audio)
    _assert_same(enc.embed_text(TEXTS), ref_text)
