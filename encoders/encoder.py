"""`VitaEncoder`: audio, image and text into one L2-normalised space, batched; the one interface
every preset implements (`embed_*` for search, `encode_*` and `trainable` for training, `heads`
and `head_scores` for the towers' own classifiers where a preset has them).

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
from dataclasses import dataclass
from typing import Any

import numpy as np
import soxr
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from transformers import ClapAudioConfig, ClapAudioModelWithProjection

from encoders.audio import Featurizer, onset_crop, onset_window
from encoders.config import EncoderConfig


@dataclass(frozen=True)
class HeadLabel:
    """One class of a tower's own classifier."""

    name: str  # as shown: a common name ("Tawny Owl") or the class's own label ("tree frog")
    scientific: str | None = None  # the binomial, where the label is one
    event: bool = True  # False for a class that is no animal ("Engine", "Noise"): never an answer


@dataclass(frozen=True)
class Head:
    """A tower's own classifier: its labels, in the order of the scores `head_scores` returns."""

    name: str  # "birdnet", "imagenet"
    modality: str  # "audio" | "image"
    labels: tuple[HeadLabel, ...]
    window_s: float | None = None  # a sound head scores windows of this many seconds
    title: str = ""  # as shown to people: "BirdNET", "ImageNet"

    def events(self) -> np.ndarray:
        """(labels,) bool: the classes that may be an answer."""
        return np.array([lab.event for lab in self.labels], dtype=bool)


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
    """The towers of one preset, plus a learnable temperature for training.

    This class is the interface every preset implements; its own towers are HTS-AT (audio) and
    open_clip (image, text) or CLAP's text tower. A preset with other towers (`encoders.field`)
    subclasses it and overrides `encode_*`, `trainable`, and `heads`/`head_scores` where its towers
    have their own classifiers.
    """

    frozen_towers = False  # True where only adapters train over frozen towers (the field preset)

    def __init__(self, cfg: EncoderConfig, audio: AudioTower | None = None, clip: nn.Module | None = None,
                 tokenizer: Callable[[list[str]], Any] | None = None,
                 image_transform: Callable[[Image.Image], torch.Tensor] | None = None,
                 clap_text: nn.Module | None = None,
                 featurizer: Callable[[list[np.ndarray]], torch.Tensor] | None = None) -> None:
        """`featurizer`: waveforms at the preset's rate -> what `encode_audio` takes (default: the
        HTS-AT log-mel of `cfg.audio`)."""
        super().__init__()
        self.cfg = cfg
        self.audio = audio
        self.clip = clip
        self.clap_text = clap_text
        self.tokenizer = tokenizer
        self.image_transform = image_transform
        self.featurizer = featurizer or (Featurizer(cfg.audio) if cfg.audio is not None else None)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.batch_size = 32

    # ------------------------------------------------------------ the towers' own classifiers

    def heads(self) -> dict[str, Head]:
        """modality -> the tower's own classifier; empty for towers without one."""
        return {}

    def head_scores(self, modality: str, inputs: Sequence[Any]) -> np.ndarray:
        """(len(inputs), labels) probabilities of `heads()[modality]`: sound windows at the preset's
        rate of `window_s` seconds, or PIL images."""
        raise NotImplementedError(f"preset {self.cfg.name} has no {modality} classifier")

    # ------------------------------------------------------------ training

    def trainable(self, stage: int, text_trainable: str) -> list[nn.Parameter]:
        """Make the parameters a training stage updates trainable (and only those); returns them.
        Stage 0: the image tower (image-text); 1: the audio tower (ATC); 2: audio, and the text tower
        as `text_trainable` says ("none", "head": its projection and last norm, "all")."""
        for p in self.parameters():
            p.requires_grad = False
        self.logit_scale.requires_grad = True
        if stage == 0:
            assert self.clip is not None, f"preset {self.cfg.name} has no image tower to train"
            for p in self.clip.parameters():
                p.requires_grad = True
        else:
            assert self.audio is not None, f"preset {self.cfg.name} has no audio tower to train"
            for p in self.audio.parameters():
                p.requires_grad = True
            if stage == 2 and self.clip is not None and text_trainable != "none":
                names = ("text_projection", "ln_final") if text_trainable == "head" else ()
                for name, p in self.clip.named_parameters():
                    if not name.startswith("visual") and (not names or name.startswith(names)):
                        p.requires_grad = True
        return [p for p in self.parameters() if p.requires_grad]

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
        """Waveforms (any rate) -> mel input; long clips are onset-cropped (or 'start'-cropped), or
        every clip goes through BioVITA's `onset_window` where the preset's front end is "onset"."""
        if self.cfg.audio is None or self.featurizer is None:
            raise NotImplementedError(f"preset {self.cfg.name} has no audio tower")
        sr = self.cfg.audio.sample_rate
        ready = []
        for w in waveforms:
            w = np.asarray(w, dtype=np.float32).reshape(-1)
            if sample_rate and sample_rate != sr:
                w = soxr.resample(w, sample_rate, sr).astype(np.float32)
            if self.cfg.audio.front_end == "onset":  # every clip and window alike, zero-padded
                w = onset_window(w, sr, self.cfg.audio.window_s)[1]
            elif crop == "onset":
                w = onset_crop(w, sr, self.cfg.audio.window_s)[1]
            else:
                w = w[: int(self.cfg.audio.window_s * sr)]
            ready.append(w)
        return self.featurizer(ready)

    # ------------------------------------------------------------ the public interface

    def _autocast(self) -> Any:
        """The preset's GPU precision (float16 where the released model's code uses it); fp32 on CPU."""
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=getattr(torch, self.cfg.cuda_dtype))
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
