"""Which model an index is built with, and the short key that names its collections.

A checkpoint directory's key hashes its weights, so a retrained model gets new collections
(and the alias moves when it is indexed) instead of mixing two embedding spaces in one.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from catalog.errors import ConfigError, NotFoundError
from encoders.config import EncoderConfig, get_config, list_presets
from encoders.encoder import VitaEncoder
from encoders.factory import CLAP_WEIGHTS, OPEN_CLIP_WEIGHTS, PRESET_REF, VITA_CONFIG, VITA_WEIGHTS, create_encoder


def _offline_preset(ref: str) -> EncoderConfig:
    name = ref.removeprefix(PRESET_REF)
    if name not in list_presets():
        raise ConfigError(f"{ref}: no such preset (one of {', '.join(list_presets())})")
    cfg = get_config(name)
    if cfg.field is None:
        raise ConfigError(f"{ref}: preset {name} has no offline weights to use untrained; train it "
                          f"(`vita train --preset {name}`) or pass its checkpoint")
    return cfg


@dataclass(frozen=True)
class ModelSpec:
    ref: str  # a checkpoint directory, 'hf-hub:org/repo' or 'preset:field'
    preset: str
    key: str
    config: EncoderConfig

    @property
    def dim(self) -> int:
        return self.config.dim

    @property
    def modalities(self) -> tuple[str, ...]:
        return self.config.modalities


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        with p.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:10]


def describe_model(ref: str | Path, preset: str = "tiny") -> ModelSpec:
    """Read a model's config and key without building it."""
    text = str(ref)
    if text.startswith(PRESET_REF):
        cfg = _offline_preset(text)
        from encoders.field import tower_identities

        towers = json.dumps(tower_identities(), sort_keys=True).encode()
        return ModelSpec(text, cfg.name, f"{cfg.name}-conse-{hashlib.sha256(towers).hexdigest()[:10]}", cfg)
    if text.startswith("hf-hub:"):
        cfg = get_config(preset)
        return ModelSpec(text, cfg.name, f"{cfg.name}-{re.sub(r'[^a-z0-9]+', '-', text[7:].lower())[:40]}", cfg)
    path = Path(ref).resolve()
    if (path / VITA_CONFIG).is_file():
        cfg = EncoderConfig.from_dict(json.loads((path / VITA_CONFIG).read_text())["config"])
        return ModelSpec(str(path), cfg.name, f"{cfg.name}-{_digest([path / VITA_CONFIG, path / VITA_WEIGHTS])}", cfg)
    weights = [path / f for f in (OPEN_CLIP_WEIGHTS, CLAP_WEIGHTS, "model.safetensors") if (path / f).is_file()]
    if not weights:
        raise NotFoundError(f"{path}: no model here (want a `vita train` checkpoint or a released "
                                "BioVITA / CLAP directory); run `vita train` or pass --model")
    cfg = get_config(preset)
    return ModelSpec(str(path), cfg.name, f"{cfg.name}-{_digest(weights)}", cfg)


@lru_cache(maxsize=2)
def load_model(ref: str, preset: str = "tiny") -> VitaEncoder:
    """One encoder per (process, model): workers and the search module load it once."""
    if ref.startswith(PRESET_REF):
        return create_encoder(_offline_preset(ref).name)
    if ref.startswith("hf-hub:"):
        return create_encoder(preset, ref)
    path = Path(ref)
    return create_encoder(preset, path)
