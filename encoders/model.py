"""`VitaEncoder`: audio, image and text into one L2-normalised space, batched.

One HTS-AT implementation serves every preset: transformers' `ClapAudioModelWithProjection`,
whose parameters are exactly the `audio_model.*` and `audio_projection.*` entries of a
`ClapModel` state dict. BioVITA's released `clap_audio` weights therefore load into it
directly (the unused RoBERTa text tower is skipped), and the tiny preset is the same class
at a small size. laion-clap was not used: it pins numpy 1.x and pulls wandb, and BioVITA's
weights are in transformers' format anyway.

Audio path (BioVITA): mel -> HTS-AT -> CLAP projection -> L2 norm (as `get_audio_features`
returns it) -> bias-free linear adapter -> L2 norm.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import nullcontext

import numpy as np
import soxr
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from transformers import ClapAudioConfig, ClapAudioModelWithProjection

from encoders.audio import Featurizer, onset_crop
from encoders.config import EncoderConfig


class AudioTower(nn.Module):
    def __init__(self, clap_cfg: ClapAudioConfig, dim: int, adapter: bool = True) -> None:
        super().__init__()
        self.clap = ClapAudioModelWithProjection(clap_cfg)
        self.adapter = nn.Linear(clap_cfg.projection_dim, dim, bias=False) if adapter else None

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        z = F.normalize(self.clap(input_features=features).audio_embeds, dim=-1)
        if self.adapter is not None:
            z = F.normalize(self.adapter(z), dim=-1)
        return z


class VitaEncoder(nn.Module):
    """The three towers of one preset, plus a learnable temperature for training."""

    frozen_towers = False  # True where only adapters train over frozen towers (the field preset)

    def __init__(self, cfg: EncoderConfig, audio: AudioTower | None, clip: nn.Module | None,
                 tokenizer: Callable[[list[str]], torch.Tensor] | None,
                 image_transform: Callable[[Image.Image], torch.Tensor] | None,
                 clap_text: nn.Module | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.audio = audio
        self.clip = clip
        self.clap_text = clap_text
        self.tokenizer = tokenizer
        self.image_transform = image_transform
        self.featurizer = Featurizer(cfg.audio) if cfg.audio is not None else None
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.batch_size = 32

    # ------------------------------------------------------------ tensors in, tensors out

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def encode_audio(self, features: torch.Tensor) -> torch.Tensor:
        if self.audio is None:
            raise NotImplementedError(f"preset {self.cfg.name} has no audio tower")
        return self.audio(features)

    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        if self.clip is None:
            raise NotImplementedError(f"preset {self.cfg.name} has no image tower")
        return F.normalize(self.clip.encode_image(pixels), dim=-1)  # type: ignore[operator]  # open_clip types encode_image as a Tensor attribute

    def encode_text(self, tokens: torch.Tensor | dict[str, torch.Tensor]) -> torch.Tensor:
        if self.clip is not None:
            return F.normalize(self.clip.encode_text(tokens), dim=-1)  # type: ignore[operator]  # open_clip types encode_text as a Tensor attribute
        if self.clap_text is not None:
            assert isinstance(tokens, dict)
            return F.normalize(self.clap_text(**tokens).text_embeds, dim=-1)
        raise NotImplementedError(f"preset {self.cfg.name} has no text tower")

    def tokenize(self, texts: list[str]) -> torch.Tensor | dict[str, torch.Tensor]:
        assert self.tokenizer is not None, f"preset {self.cfg.name} has no tokenizer"
        return self.tokenizer(texts)

    def audio_features(self, waveforms: Sequence[np.ndarray], sample_rate: int | None = None,
                       crop: str = "onset") -> torch.Tensor:
        """Waveforms (any rate) -> mel input; long clips are onset-cropped (or 'start'-cropped)."""
        if self.cfg.audio is None or self.featurizer is None:
            raise NotImplementedError(f"preset {self.cfg.name} has no audio tower")
        sr = self.cfg.audio.sample_rate
        ready = []
        for w in waveforms:
            w = np.asarray(w, dtype=np.float32).reshape(-1)
            if sample_rate and sample_rate != sr:
                w = soxr.resample(w, sample_rate, sr).astype(np.float32)
            if crop == "onset":
                w = onset_crop(w, sr, self.cfg.audio.window_s)[1]
            else:
                w = w[: int(self.cfg.audio.window_s * sr)]
            ready.append(w)
        return self.featurizer(ready)

    # ------------------------------------------------------------ the public interface

    def _autocast(self):
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    @torch.inference_mode()
    def embed_audio(self, waveforms: Sequence[np.ndarray], sample_rate: int | None = None,
                    crop: str = "onset") -> np.ndarray:
        """(N, dim) float32, L2-normalised."""
        out = []
        for i in range(0, len(waveforms), self.batch_size):
            feats = self.audio_features(waveforms[i:i + self.batch_size], sample_rate, crop).to(self.device)
            with self._autocast():
                out.append(self.encode_audio(feats).float())
        return _finish(out, self.cfg.dim)

    @torch.inference_mode()
    def embed_image(self, images: Sequence[Image.Image]) -> np.ndarray:
        if self.image_transform is None:
            raise NotImplementedError(f"preset {self.cfg.name} has no image tower")
        out = []
        for i in range(0, len(images), self.batch_size):
            pixels = torch.stack([self.image_transform(im.convert("RGB")) for im in images[i:i + self.batch_size]])
            with self._autocast():
                out.append(self.encode_image(pixels.to(self.device)).float())
        return _finish(out, self.cfg.dim)

    @torch.inference_mode()
    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        out = []
        for i in range(0, len(texts), self.batch_size):
            tokens = self.tokenize(list(texts[i:i + self.batch_size]))
            tokens = {k: v.to(self.device) for k, v in tokens.items()} if isinstance(tokens, dict) else tokens.to(self.device)
            with self._autocast():
                out.append(self.encode_text(tokens).float())
        return _finish(out, self.cfg.dim)


def _finish(parts: list[torch.Tensor], dim: int) -> np.ndarray:
    if not parts:
        return np.zeros((0, dim), np.float32)
    x = torch.cat(parts).cpu().numpy().astype(np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
