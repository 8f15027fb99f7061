"""Presets: model configs as JSON files in a registry (in the manner of open_clip's model_configs).

The registry is the directory `model_configs/`: one JSON file per preset, its name the file's.
A preset names everything an encoder needs to be rebuilt: sample rate, window length, mel
settings, the HTS-AT shape, the open_clip image/text model config, the shared dimension, and
where released weights live. `get_config(name, **overrides)` applies typed overrides, so a
test (or a user) can build the same architecture at another size.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

#: The preset that trains here on a CPU, and the default everywhere a preset is asked for.
DEFAULT_PRESET = "tiny"


@dataclass(frozen=True)
class MelConfig:
    n_mels: int = 64
    hop_length: int = 480
    fft_window: int = 1024
    fmin: float = 50.0
    fmax: float = 14000.0


@dataclass(frozen=True)
class AudioConfig:
    sample_rate: int = 48000
    window_s: float = 10.0
    hop_s: float = 5.0  # sliding windows when indexing long recordings
    mel: MelConfig = field(default_factory=MelConfig)
    clap: dict[str, Any] = field(default_factory=dict)  # ClapAudioConfig fields (HTS-AT shape)
    clap_hub: str | None = None  # where the full ClapConfig comes from when online
    weights_file: str | None = None  # released audio weights inside the preset's hub repo
    #: what a clip becomes before the mel: "clap" (a long query onset-cropped by frame energy, a short
    #: clip repeat-padded, training crops at random) or "onset" (BioVITA's code: to embed, every clip
    #: and window from 0.2 s before the first sample above 1% of the peak, zero-padded to the window;
    #: to train, a random window of a long clip, a short one zero-padded)
    front_end: str = "clap"


@dataclass(frozen=True)
class VisionTextConfig:
    hub: str | None = None  # open_clip 'hf-hub:' repo with open_clip_config.json
    arch: str | None = None  # open_clip built-in config of the same shape (random weights)
    model_cfg: dict[str, Any] | None = None  # or an explicit open_clip model config
    preprocess_cfg: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EncoderConfig:
    name: str
    dim: int
    about: str = ""
    hub: str | None = None
    audio: AudioConfig | None = None
    vision_text: VisionTextConfig | None = None
    clap_text: bool = False  # text through CLAP's own RoBERTa tower (the clap baseline)
    field: dict[str, Any] | None = None  # frozen packaged towers + adapters (encoders.field): their names, top_k
    prompts: str = "vita"  # the wording of text prompts (catalog.prompts.PromptStyle): "vita" or "biovita"
    cuda_dtype: str = "bfloat16"  # autocast on a GPU; the released models' own code runs float16

    @property
    def modalities(self) -> tuple[str, ...]:
        if self.field is not None:
            return ("audio", "image", "text")
        out = []
        if self.audio is not None:
            out.append("audio")
        if self.vision_text is not None:
            out += ["image", "text"]
        elif self.clap_text:
            out.append("text")
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EncoderConfig:
        d = copy.deepcopy(data)
        if d.get("audio") is not None:
            a = d["audio"]
            a["mel"] = MelConfig(**a.get("mel", {}))
            d["audio"] = AudioConfig(**a)
        if d.get("vision_text") is not None:
            d["vision_text"] = VisionTextConfig(**d["vision_text"])
        return cls(**d)


def _configs_dir() -> Path:
    return Path(str(resources.files("encoders").joinpath("model_configs")))


def list_presets() -> list[str]:
    return sorted(p.stem for p in _configs_dir().glob("*.json"))


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def get_config(name: str, overrides: dict[str, Any] | None = None) -> EncoderConfig:
    """A preset by name (a file of the registry, `model_configs/<name>.json`), with nested overrides,
    e.g. {'audio': {'clap': {'hidden_size': 64}}}. Raises ValueError for a name the registry lacks."""
    if name not in list_presets():
        raise ValueError(f"{name!r} is not a preset; the presets are {', '.join(list_presets())}")
    path = _configs_dir() / f"{name}.json"
    data = json.loads(path.read_text())
    if overrides:
        data = deep_merge(data, overrides)
    return EncoderConfig.from_dict(data)
