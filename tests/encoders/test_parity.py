"""Parity with the released models' own code paths, on random weights in the released layouts.

The references here are written from what upstream's code does (BioVITA's
`eval/extract_features.py`: `load_audio_onset_10s`, CLAP's processor, `get_audio_features`, the
adapter) with transformers' own `ClapFeatureExtractor` and `ClapModel`; they call nothing of this
project's crop or featurizer. The biovita release is full size: LAION CLAP's HTS-AT (the shape of
laion/clap-htsat-unfused) and open_clip's ViT-L/14 (BioCLIP 2's shape), with random weights.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import save_file

from encoders.factory import create_encoder

SR = 48000
SECONDS = 10.0
DIM = 768
CLIP_CFG = {"embed_dim": DIM, "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 8, "head_width": 32},
            "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1}}
SMALL_TEXT = {"vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
              "intermediate_size": 64, "max_position_embeddings": 80}
TEXTS = ["Strix aluco", "Aves Strigiformes Strigidae Strix Strix aluco with common name Tawny Owl"]


def _call(seconds: float, at: float, length: float = 1.5, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """`seconds` of audio with a warbling call starting at `at`, over white noise of amplitude `noise`."""
    rng = np.random.default_rng(seed)
    x = noise * rng.standard_normal(int(seconds * SR))
    t = np.arange(int(length * SR)) / SR
    call = 0.5 * np.sin(2 * np.pi * (2500 + 800 * np.sin(2 * np.pi * 6 * t)) * t) * np.hanning(len(t))
    start = int(at * SR)
    x[start:start + len(call)] += call[: len(x) - start]
    return x.astype(np.float32)


CLIPS = {
    "4 s": _call(4.0, 0.5),
    "10 s, silent for 3 s": _call(10.0, 3.0),
    "25 s, call at 12 s over noise": _call(25.0, 12.0, noise=0.01, seed=1),
    "30 s, call at 25 s": _call(30.0, 25.0),
}


def upstream_onset_10s(wave: np.ndarray, n: int, sr: int, thr_ratio: float = 0.01, preroll: float = 0.2) -> np.ndarray:
    """BioVITA's `load_audio_onset_10s` after decoding, in torch as upstream writes it."""
    wf = torch.from_numpy(wave).to(torch.float32)
    energy = wf.abs()
    th = float(energy.max().item()) * thr_ratio
    nz = (energy > th).nonzero(as_tuple=True)[0]
    start0 = 0 if len(nz) == 0 else max(0, int(nz[0].item()) - int(preroll * sr))
    t = wf[start0: start0 + n]
    if t.numel() < n:
        t = F.pad(t, (0, n - t.numel()))
    return t[:n].numpy()


def clap_processor() -> object:
    """laion/clap-htsat-unfused's feature extractor settings (its preprocessor_config.json)."""
    from transformers import ClapFeatureExtractor

    return ClapFeatureExtractor(feature_size=64, sampling_rate=SR, hop_length=480, max_length_s=10, fft_window_size=1024,
                                frequency_min=50, frequency_max=14000, truncation="rand_trunc", padding="repeatpad")


def _write_open_clip(clip: open_clip.CLIP, model_cfg: dict[str, object], where: Path) -> None:
    """open_clip's hub layout: `open_clip_config.json` + `open_clip_model.safetensors`."""
    where.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in clip.state_dict().items()}, str(where / "open_clip_model.safetensors"))
    (where / "open_clip_config.json").write_text(json.dumps({"model_cfg": model_cfg, "preprocess_cfg": {}}))


def _assert_open_clip_parity(enc: object, clip: open_clip.CLIP, where: Path, photo: Image.Image) -> None:
    """Image and text as open_clip itself reads the directory: its transform, tokenizer and towers."""
    _, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{where}")
    with torch.no_grad():
        ref_image = F.normalize(clip.encode_image(preprocess(photo)[None]), dim=-1).numpy()
        ref_text = F.normalize(clip.encode_text(open_clip.get_tokenizer(f"local-dir:{where}")(TEXTS)), dim=-1).numpy()
    np.testing.assert_allclose(enc.embed_image([photo]), ref_image, atol=1e-5)  # type: ignore[attr-defined]  # an encoder
    np.testing.assert_allclose(enc.embed_text(TEXTS), ref_text, atol=1e-5)  # type: ignore[attr-defined]  # an encoder


def _release(tmp_path: Path) -> tuple[Path, object, torch.nn.Linear, open_clip.CLIP]:
    """Random weights in BioVITA's released layout: open_clip's files + clap_weights.pth."""
    from transformers import ClapConfig, ClapModel

    torch.manual_seed(0)
    clap = ClapModel(ClapConfig(text_config=SMALL_TEXT)).eval()  # full-size HTS-AT (the unfused default)
    adapter = torch.nn.Linear(clap.config.projection_dim, DIM, bias=False)
    full = open_clip.get_model_config("ViT-L-14")  # BioCLIP 2's architecture
    clip = open_clip.CLIP(**full).eval()
    out = tmp_path / "BioVITA"
    _write_open_clip(clip, full, out)
    torch.save({"clap_audio": clap.state_dict(), "audio_adapter": adapter.state_dict()}, out / "clap_weights.pth")
    return out, clap, adapter, clip


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object, torch.nn.Linear, open_clip.CLIP]:
    return _release(tmp_path_factory.mktemp("release"))


@pytest.mark.parametrize("form", [str, Path])
def test_biovita_gives_upstream_s_embeddings(release: tuple[Path, object, torch.nn.Linear, open_clip.CLIP],
                                            form: type) -> None:
    where, clap, adapter, clip = release
    enc = create_encoder("biovita", checkpoint=form(where), device="cpu")
    n = int(SR * SECONDS)
    waves = [upstream_onset_10s(w, n, SR) for w in CLIPS.values()]
    with torch.no_grad():
        feats = clap_processor()(waves, sampling_rate=SR, return_tensors="pt", padding=True)["input_features"]
        ref = F.normalize(adapter(clap.get_audio_features(input_features=feats).pooler_output), dim=-1).numpy()  # type: ignore[attr-defined]  # a ClapModel
    got = enc.embed_audio(list(CLIPS.values()))
    for name, a, b in zip(CLIPS, got, ref):
        np.testing.assert_allclose(a, b, atol=1e-5, err_msg=name)
    photo = Image.fromarray(np.random.default_rng(2).integers(0, 255, (300, 240, 3), dtype=np.uint8))
    _assert_open_clip_parity(enc, clip, where, photo)


def test_the_onset_rule_is_upstream_s_for_every_length() -> None:
    """Where each clip starts: a short clip and a noisy one from the start, a silent lead-in skipped."""
    from encoders.audio import onset_window

    starts = {name: onset_window(w, SR, SECONDS)[0] for name, w in CLIPS.items()}
    assert starts["4 s"] == pytest.approx(0.3, abs=0.06)  # its call at 0.5 s (faded in), less the 0.2 s preroll
    assert starts["10 s, silent for 3 s"] == pytest.approx(2.8, abs=0.06)
    assert starts["25 s, call at 12 s over noise"] == 0.0  # the noise is above 1% of the peak
    assert starts["30 s, call at 25 s"] == pytest.approx(24.8, abs=0.06)  # 5.2 s of sound, then zeros
    n = int(SR * SECONDS)
    for name, w in CLIPS.items():
        np.testing.assert_array_equal(onset_window(w, SR, SECONDS)[1], upstream_onset_10s(w, n, SR), err_msg=name)


def test_clap_gives_transformers_embeddings(tmp_path: Path) -> None:
    """The clap preset on a ClapModel directory: CLAP's own feature extractor (repeat-padding a
    short clip) and `get_audio_features` / `get_text_features`, for clips up to one window."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import ClapConfig, ClapModel, RobertaTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(TEXTS * 20, vocab_size=300, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(tmp_path))
    tok = RobertaTokenizerFast(vocab_file=str(tmp_path / "vocab.json"), merges_file=str(tmp_path / "merges.txt"))
    torch.manual_seed(3)
    clap = ClapModel(ClapConfig(text_config={**SMALL_TEXT, "vocab_size": len(tok)})).eval()
    clap.save_pretrained(tmp_path / "clap")
    tok.save_pretrained(tmp_path / "clap")
    enc = create_encoder("clap", checkpoint=str(tmp_path / "clap"), device="cpu")
    waves = [CLIPS["4 s"], CLIPS["10 s, silent for 3 s"]]
    with torch.no_grad():
        feats = clap_processor()(waves, sampling_rate=SR, return_tensors="pt", padding=True)["input_features"]
        ref = F.normalize(clap.get_audio_features(input_features=feats).pooler_output, dim=-1).numpy()
        ids = tok(TEXTS, padding=True, return_tensors="pt")
        ref_text = F.normalize(clap.get_text_features(**ids).pooler_output, dim=-1).numpy()
    np.testing.assert_allclose(enc.embed_audio(waves), ref, atol=1e-5)
    np.testing.assert_allclose(enc.embed_text(TEXTS), ref_text, atol=1e-5)


def test_training_reads_audio_as_biovita_s_training_code_does() -> None:
    """A short clip is zero-padded (not repeated) under the onset front end; a long one gives a
    random window of it, as the clap front end does."""
    from training.data import MediaCache

    cache = MediaCache(SR)
    short, long = CLIPS["4 s"], CLIPS["30 s, call at 25 s"]
    cache._audio.update({"short": short, "long": long})
    seen: list[np.ndarray] = []

    def featurize(waves: list[np.ndarray]) -> torch.Tensor:
        seen.extend(waves)
        return torch.zeros(1, 1)

    rng = np.random.default_rng(0)
    cache.features(featurize, "short", SECONDS, rng, front_end="onset")
    n = int(SR * SECONDS)
    assert len(seen[0]) == n
    assert np.array_equal(seen[0][: len(short)], short)
    assert not seen[0][len(short):].any()
    cache.features(featurize, "long", SECONDS, rng, front_end="onset")
    assert len(seen[1]) == n
    start = (seen[1].__array_interface__["data"][0] - long.__array_interface__["data"][0]) // long.itemsize
    assert 0 <= start <= len(long) - n
    assert np.array_equal(seen[1], long[start:start + n])  # a window of it
    cache._features.clear()
    cache.features(featurize, "short", SECONDS, rng)  # the clap front end: the featurizer repeat-pads it
    assert np.array_equal(seen[2], short)


def test_biovita_words_its_prompts_as_its_training_code_does() -> None:
    """'{sci} with common name {com}', '{tax} with common name {com}', tax = class order family genus
    binomial; the other presets keep their own wording."""
    from catalog.prompts import PromptStyle, Template, render
    from catalog.taxonomy import Lineage
    from encoders.config import get_config

    lin = Lineage("Amphibia", "Anura", "Hylidae", "Hyla", "Hyla versicolor")
    upstream = PromptStyle(get_config("biovita").prompts)
    tax = "Amphibia Anura Hylidae Hyla Hyla versicolor"
    assert render(Template.SCI_COM, lin, "Gray Treefrog", style=upstream) == "Hyla versicolor with common name Gray Treefrog"
    assert render(Template.TAX_COM, lin, "Gray Treefrog", style=upstream) == f"{tax} with common name Gray Treefrog"
    assert render(Template.TAX, lin, None, style=upstream) == tax
    assert render(Template.COM, lin, "Gray Treefrog", style=upstream) == "Gray Treefrog"
    ours = PromptStyle(get_config("tiny").prompts)
    assert render(Template.TAX_COM, lin, "Gray Treefrog", style=ours) == \
        "Amphibia Anura Hylidae Hyla versicolor, with a common name Gray Treefrog"


def test_a_clap_directory_that_leaves_weights_unloaded_is_an_error(tmp_path: Path) -> None:
    from safetensors.torch import load_file
    from transformers import ClapConfig, ClapModel

    from encoders.factory import CheckpointError

    small = {"depths": [1, 1, 1, 1], "num_attention_heads": [2, 2, 4, 4], "hidden_size": 128,
             "patch_embeds_hidden_size": 16, "projection_dim": 32, "spec_size": 128, "num_mel_bins": 32, "window_size": 4}
    ClapModel(ClapConfig(audio_config=small, text_config=SMALL_TEXT, projection_dim=32)).save_pretrained(tmp_path / "clap")
    weights = tmp_path / "clap" / "model.safetensors"
    state = load_file(str(weights))
    state.pop(next(k for k in state if k.startswith("audio_model.") and k.endswith(".weight")))
    save_file(state, str(weights), metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="do not fit the ClapModel"):
        create_encoder("clap", checkpoint=tmp_path / "clap", device="cpu")


@pytest.mark.parametrize("form", [str, Path])
def test_bioclip2_gives_open_clip_s_embeddings(tmp_path: Path, form: type) -> None:
    """A BioCLIP 2 directory (open_clip's hub layout): open_clip's own transform, tokenizer and towers."""
    from encoders.factory import CheckpointError

    torch.manual_seed(4)
    clip = open_clip.CLIP(**CLIP_CFG).eval()
    where = tmp_path / "bioclip-2"
    _write_open_clip(clip, CLIP_CFG, where)
    enc = create_encoder("bioclip2", checkpoint=form(where), device="cpu")
    photo = Image.fromarray(np.random.default_rng(5).integers(0, 255, (60, 45, 3), dtype=np.uint8))
    _assert_open_clip_parity(enc, clip, where, photo)
    # weights that leave a key of the config unloaded are refused, not left at random
    state = {k: v.contiguous() for k, v in clip.state_dict().items() if not k.startswith("ln_final")}
    save_file(state, str(where / "open_clip_model.safetensors"))
    with pytest.raises(CheckpointError, match="do not fit their open_clip config"):
        create_encoder("bioclip2", checkpoint=form(where), device="cpu")
