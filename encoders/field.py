"""The `field` preset: three real pretrained towers, frozen, each with a trainable adapter into
one shared, L2-normalised space.

- audio: BirdNET V2.4 (3 s at 48 kHz) -> 1024-d embedding + 6,522 species logits
- image: EfficientNet-Lite0 (ImageNet) -> 1280-d features + 1,000 class logits
- text: all-MiniLM-L6-v2 -> 384-d sentence embedding (the shared space is this one's size)

The towers share no space and we have no large real paired corpus, so their own heads are the
bridge (ConSE, Norouzi et al. 2014): a sound or photo starts as the probability-weighted mean of
the text embeddings of its top predicted labels. Each audio/image adapter is
    z = normalize(W_e . embedding + W_p . p_topk)
with W_p initialised to the labels' text embeddings and W_e to zero, so an untrained adapter is
exactly ConSE and training (the BioVITA recipe) refines both. The text adapter starts as the
identity.

The bridge (`field.bridge`) says what a label's text embedding is. `names`: the label's own name
("Strix nebulosa with a common name Great Gray Owl", "great grey owl"). `taxonomy`: the mean of prompts broad to
narrow, class, order, family, genus, then the name (AnimalCLAP's taxonomy-aware prompts): BirdNET's
binomials are placed by the eBird/Clements checklist or WordNet, ImageNet's classes by WordNet
(`catalog.names.lineage`, `encoders.towers.imagenet_species`), so a sound head and a photo head
that disagree on the species still meet at genus, family and order.

Inputs handed to `encode_*` are what the towers take (windows, pixels, strings' features); the
frozen towers' outputs are memoised while training, so an epoch trains adapters only.
A checkpoint holds the adapters and each tower file's identity and sha256; loading refuses a
tower file that differs.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from catalog.prompts import sci_com
from encoders.config import EncoderConfig
from encoders.encoder import Head, HeadLabel, VitaEncoder
from encoders.towers.files import TowerFile

TOP_K = 10  # labels that vote in ConSE (Norouzi et al. use the top T = 10)
BRIDGES = ("names", "taxonomy")
BROAD_TO_NARROW = ("class", "order", "family", "genus")


def cache_dir() -> Path:
    """Where the label banks are kept between runs (like the hub's cache, outside the project)."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vita" / "field"


class ConseAdapter(nn.Module):
    """[features | logits] -> unit vector: W_e . features + W_p . (top-k probabilities, summing to 1)."""

    def __init__(self, feat_dim: int, n_labels: int, dim: int, activation: str, top_k: int = TOP_K,
                 valid: np.ndarray | None = None) -> None:
        super().__init__()
        self.feat_dim, self.activation, self.top_k = feat_dim, activation, top_k
        self.embed = nn.Linear(feat_dim, dim, bias=False)
        self.labels = nn.Linear(n_labels, dim, bias=False)
        nn.init.zeros_(self.embed.weight)
        mask = torch.ones(n_labels, dtype=torch.bool) if valid is None else torch.as_tensor(valid, dtype=torch.bool)
        self.register_buffer("valid", mask)

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        p = torch.sigmoid(logits) if self.activation == "sigmoid" else torch.softmax(logits, dim=-1)
        valid: torch.Tensor = self.valid  # type: ignore[assignment]  # a registered buffer
        return p * valid.to(p.dtype)

    def conse(self, logits: torch.Tensor) -> torch.Tensor:
        p = self.probabilities(logits)
        top = p.topk(min(self.top_k, p.shape[-1]), dim=-1)
        sparse = torch.zeros_like(p).scatter_(-1, top.indices, top.values)
        return sparse / sparse.sum(-1, keepdim=True).clamp(min=1e-9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats, logits = x[:, : self.feat_dim], x[:, self.feat_dim:]
        return F.normalize(self.embed(feats) + self.labels(self.conse(logits)), dim=-1)

    def init_labels(self, bank: np.ndarray) -> None:
        """The labels' text embeddings (n_labels, dim) as W_p: the adapter is then ConSE."""
        with torch.no_grad():
            self.labels.weight.copy_(torch.as_tensor(bank, dtype=torch.float32).T)


class _Memo:
    """Frozen tower outputs by input digest, bounded (oldest dropped first), kept as float16."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._d: OrderedDict[bytes | str, torch.Tensor] = OrderedDict()

    def run(self, keys: list[bytes | str], compute: Callable[[list[int]], torch.Tensor]) -> torch.Tensor:
        missing = [i for i, k in enumerate(keys) if k not in self._d]
        if missing:
            fresh = compute(missing)
            for i, row in zip(missing, fresh):
                self._d[keys[i]] = row.to(torch.float16)
                if len(self._d) > self.capacity:
                    self._d.popitem(last=False)
        return torch.stack([self._d[k].float() for k in keys])


def _digest(t: torch.Tensor) -> bytes:
    return hashlib.blake2b(t.detach().cpu().numpy().tobytes(), digest_size=16).digest()


class _Towers:
    """The frozen networks, held outside the module tree so that state_dict (the checkpoint)
    is the adapters alone."""

    def __init__(self) -> None:
        from transformers.utils import logging as hf_logging

        from encoders.towers.birdnet import BirdNET
        from encoders.towers.efficientnet import EfficientNetLite0
        from encoders.towers.minilm import MiniLM

        hf_logging.disable_progress_bar()
        self.birdnet = BirdNET()
        self.image = EfficientNetLite0()
        self.text = MiniLM()

    @staticmethod
    def files() -> dict[str, TowerFile]:
        from encoders.towers import birdnet, efficientnet, minilm

        return {"audio": birdnet.MODEL, "image": efficientnet.WEIGHTS, "text": minilm.WEIGHTS}


def tower_identities() -> dict[str, dict[str, str]]:
    return {k: f.identity() for k, f in _Towers.files().items()}


def check_towers(recorded: dict[str, dict[str, str]]) -> None:
    """Raise TowerMismatch when an installed tower file is not the one the adapters were trained on."""
    for key, f in _Towers.files().items():
        if key in recorded:
            f.check(recorded[key])


class FieldEncoder(VitaEncoder):
    """Same interface as every preset (`embed_audio / embed_image / embed_text`, `encode_*` for training)."""

    frozen_towers = True

    def __init__(self, cfg: EncoderConfig, conse: bool = True) -> None:
        from encoders.towers.birdnet import NON_EVENTS
        from encoders.towers.efficientnet import image_transform, imagenet_classes

        assert cfg.audio is not None, "the field preset has an audio window"
        # BirdNET takes raw windows, not mel; MiniLM takes strings (its features are memoised)
        super().__init__(cfg, tokenizer=self._text_features, image_transform=image_transform(),
                         featurizer=self._windows)
        self.towers = _Towers()
        self._heads: dict[str, Head] | None = None
        self.audio_labels = self.towers.birdnet.labels
        self.image_labels = imagenet_classes()
        dim, top_k = cfg.dim, int((cfg.field or {}).get("top_k", TOP_K))
        self.audio_adapter = ConseAdapter(1024, len(self.audio_labels), dim, "sigmoid", top_k,
                                          np.array([lab.scientific not in NON_EVENTS for lab in self.audio_labels]))
        self.image_adapter = ConseAdapter(1280, len(self.image_labels), dim, "softmax", top_k)
        self.text_adapter = nn.Linear(384, dim, bias=False)
        with torch.no_grad():
            self.text_adapter.weight.copy_(torch.eye(dim, 384))
        self._memo = {"audio": _Memo(30_000), "image": _Memo(30_000)}
        self._text_memo = _Memo(50_000)
        if conse:
            self._init_banks(str((cfg.field or {}).get("bridge", "names")))

    def _init_banks(self, bridge: str) -> None:
        """W_p of both adapters: the labels' text embeddings under the chosen bridge."""
        from catalog.names.lineage import label_lineages
        from catalog.names.wordnet import WordNet
        from encoders.towers.imagenet_species import imagenet_lineages

        if bridge not in BRIDGES:
            raise ValueError(f"field.bridge: one of {', '.join(BRIDGES)}, not {bridge!r}")
        audio_names = [sci_com(lab.scientific, lab.common) for lab in self.audio_labels]
        if bridge == "names":
            self.audio_adapter.init_labels(label_bank(audio_names, self.towers.text))
            self.image_adapter.init_labels(label_bank(self.image_labels, self.towers.text))
            return
        wordnet = WordNet.find()
        audio_lineages = label_lineages([(lab.scientific, lab.common) for lab in self.audio_labels], wordnet)
        self.audio_adapter.init_labels(taxonomy_bank(audio_names, audio_lineages, self.towers.text))
        self.image_adapter.init_labels(taxonomy_bank(self.image_labels, imagenet_lineages(wordnet), self.towers.text))

    def _apply(self, fn: Any, recurse: bool = True) -> FieldEncoder:
        """`.to(device)` moves the torch towers too (BirdNET runs on the CPU through TFLite)."""
        super()._apply(fn, recurse)
        self.towers.image._apply(fn, recurse)
        self.towers.text._apply(fn, recurse)
        return self

    # ------------------------------------------------------------ inputs the frozen towers take

    def _windows(self, waves: list[np.ndarray]) -> torch.Tensor:
        """Waveforms at 48 kHz -> (n, 144000): each one window, zero-padded when shorter."""
        from encoders.towers.birdnet import WINDOW

        out = np.zeros((len(waves), WINDOW), np.float32)
        for i, w in enumerate(waves):
            w = np.asarray(w, np.float32)[:WINDOW]
            out[i, : len(w)] = w
        return torch.from_numpy(out)

    def _text_features(self, texts: list[str]) -> torch.Tensor:
        return self._text_memo.run(list(texts), lambda idx: self.towers.text([texts[i] for i in idx]).cpu())

    # ------------------------------------------------------------ frozen towers, memoised in training

    def _frozen(self, kind: str, x: torch.Tensor, run: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        if not self.training:
            return run(x)
        return self._memo[kind].run([_digest(row) for row in x], lambda idx: run(x[idx]))

    def _birdnet(self, windows: torch.Tensor) -> torch.Tensor:
        emb, logits = self.towers.birdnet(windows.detach().float().cpu().numpy())
        return torch.from_numpy(np.concatenate([emb, logits], axis=1))

    def _efficientnet(self, pixels: torch.Tensor) -> torch.Tensor:
        dev = next(self.towers.image.parameters()).device
        feats, logits = self.towers.image(pixels.detach().float().to(dev))
        return torch.cat([feats, logits], dim=1).cpu()

    def tower_audio(self, windows: torch.Tensor) -> torch.Tensor:
        """(n, 144000) -> BirdNET's [embedding | logits] (n, 1024 + 6522)."""
        return self._frozen("audio", windows, self._birdnet)

    def tower_image(self, pixels: torch.Tensor) -> torch.Tensor:
        return self._frozen("image", pixels, self._efficientnet)

    # ------------------------------------------------------------ the adapters (what trains)

    def encode_audio(self, features: torch.Tensor) -> torch.Tensor:
        return self.audio_adapter(self.tower_audio(features).to(self.device))

    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.image_adapter(self.tower_image(pixels).to(self.device))

    def encode_text(self, tokens: torch.Tensor | dict[str, torch.Tensor]) -> torch.Tensor:
        assert isinstance(tokens, torch.Tensor)
        return F.normalize(self.text_adapter(tokens.to(self.device).float()), dim=-1)

    def trainable(self, stage: int, text_trainable: str) -> list[nn.Parameter]:
        """Stage 0: image adapter (image-text); 1: audio adapter (ATC); 2: audio and text adapters."""
        parts: list[nn.Module] = [self.image_adapter] if stage == 0 else [self.audio_adapter]
        if stage == 2 and text_trainable != "none":
            parts.append(self.text_adapter)
        for p in self.parameters():
            p.requires_grad_(False)
        params = [p for m in parts for p in m.parameters()] + [self.logit_scale]
        for p in params:
            p.requires_grad_(True)
        return params

    # ------------------------------------------------------------ the towers' own heads ("what is this?")

    def heads(self) -> dict[str, Head]:
        """BirdNET's 6,522 classes for a sound (3 s windows), ImageNet's 1,000 for a photo."""
        if self._heads is None:
            audio = tuple(HeadLabel(lab.common, lab.scientific, lab.event) for lab in self.audio_labels)
            window = self.cfg.audio.window_s if self.cfg.audio else None
            self._heads = {"audio": Head("birdnet", "audio", audio, window, "BirdNET"),
                           "image": Head("imagenet", "image", tuple(HeadLabel(lab) for lab in self.image_labels),
                                         title="ImageNet")}
        return self._heads

    def head_scores(self, modality: str, inputs: Sequence[Any]) -> np.ndarray:
        if modality == "audio":
            return self.audio_head(inputs)
        if modality == "image":
            return self.image_head(inputs)
        return super().head_scores(modality, inputs)

    @torch.inference_mode()
    def audio_head(self, windows: Sequence[np.ndarray]) -> np.ndarray:
        """(n windows at 48 kHz) -> BirdNET confidences (n, 6522)."""
        from encoders.towers.birdnet import sigmoid

        if not len(windows):
            return np.zeros((0, len(self.audio_labels)), np.float32)
        _, logits = self.towers.birdnet(self._windows(list(windows)).numpy())
        return sigmoid(logits)

    @torch.inference_mode()
    def image_head(self, images: Sequence[Any]) -> np.ndarray:
        """PIL images -> ImageNet class probabilities (n, 1000)."""
        transform = self.image_transform
        assert transform is not None
        pixels = torch.stack([transform(im.convert("RGB")) for im in images])
        return torch.softmax(self._efficientnet(pixels)[:, 1280:], dim=-1).numpy()


def label_bank(texts: list[str], text_tower: Callable[[list[str]], torch.Tensor]) -> np.ndarray:
    """The text embeddings of a head's labels, computed once per machine and kept in `cache_dir()`."""
    from encoders.towers.minilm import WEIGHTS

    key = hashlib.sha256(json.dumps([WEIGHTS.sha256(), texts]).encode()).hexdigest()[:20]
    path = cache_dir() / f"labels-{key}.npy"
    if path.is_file():
        bank = np.load(path)
        if bank.shape[0] == len(texts):
            return bank
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths pad less
    bank = np.zeros((len(texts), 384), np.float32)
    for i in range(0, len(order), 128):
        idx = order[i:i + 128]
        bank[idx] = text_tower([texts[j] for j in idx]).cpu().numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, bank)
    tmp.replace(path)
    return bank


def taxonomy_bank(names: list[str], lineages: list[dict[str, str]],
                  text_tower: Callable[[list[str]], torch.Tensor]) -> np.ndarray:
    """Each label's point: the unit mean of its lineage's prompts ("order Strigiformes", broad to
    narrow) and its own name; a label no source places keeps its name's point alone."""
    own = label_bank(names, text_tower)
    prompts = sorted({f"{r} {lin[r]}" for lin in lineages for r in BROAD_TO_NARROW if r in lin})
    if not prompts:
        return own
    ranks = label_bank(prompts, text_tower)
    at = {p: i for i, p in enumerate(prompts)}
    out = own.copy()
    for i, lin in enumerate(lineages):
        rows = [ranks[at[f"{r} {lin[r]}"]] for r in BROAD_TO_NARROW if r in lin]
        if rows:
            v = np.mean([*rows, own[i]], axis=0)
            out[i] = v / max(float(np.linalg.norm(v)), 1e-9)
    return out
