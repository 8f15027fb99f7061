"""One factory for every preset and checkpoint kind (in the manner of open_clip's).

`create_encoder(preset, checkpoint)` where checkpoint is
- None: the preset's released weights from its hub repo (online), or random init for `tiny`
  (and whenever `pretrained=False`);
- 'hf-hub:org/repo': released weights from that repo (online);
- a directory, recognised by its files:
  - `vita_config.json` + `model.safetensors`: a VITA checkpoint (what `vita train` writes);
  - `open_clip_config.json` (+ `open_clip_model.safetensors`) and/or `clap_weights.pth`: the
    released BioVITA / BioCLIP 2 layout, i.e. a snapshot of the hub repo for air-gapped users;
  - `config.json` of a transformers `ClapModel` (+ tokenizer files): the CLAP baseline.
Everything loads without unpickling arbitrary objects: safetensors, or `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from catalog.errors import VitaError
from encoders.config import DEFAULT_PRESET, EncoderConfig, get_config
from encoders.encoder import AudioTower, VitaEncoder

VITA_CONFIG = "vita_config.json"
VITA_WEIGHTS = "model.safetensors"
PRESET_REF = "preset:"  # 'preset:field': a preset's own offline weights, untrained (field: ConSE adapters)
OPEN_CLIP_CONFIG = "open_clip_config.json"
OPEN_CLIP_WEIGHTS = "open_clip_model.safetensors"
OPEN_CLIP_WEIGHT_FILES = (OPEN_CLIP_WEIGHTS, "open_clip_pytorch_model.bin")  # what open_clip's local-dir: reads
CLAP_WEIGHTS = "clap_weights.pth"
CLAP_AUDIO_PREFIXES = ("audio_model.", "audio_projection.")


class CheckpointError(VitaError, ValueError):
    """A checkpoint that does not fit the preset, or a directory we cannot read as one."""


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def create_encoder(preset: str = DEFAULT_PRESET, checkpoint: str | Path | None = None, *,
                   pretrained: bool = True, overrides: dict[str, Any] | None = None,
                   device: str | None = None) -> VitaEncoder:
    source = checkpoint_source(checkpoint)
    if isinstance(source, Path) and (source / VITA_CONFIG).is_file():
        model = load_vita(source)
    else:
        cfg = get_config(preset, overrides)
        if cfg.field is not None:
            if checkpoint is not None:
                raise CheckpointError(f"{checkpoint}: a field checkpoint is a `vita train` directory ({VITA_CONFIG})")
            return _field(cfg, conse=True).eval().to(device or default_device())
        if source is None and pretrained and cfg.hub and cfg.name != DEFAULT_PRESET:
            source = f"hf-hub:{cfg.hub}"
        model = _build(cfg, source)
    model.eval()
    return model.to(device or default_device())


def checkpoint_source(checkpoint: str | Path | None) -> str | Path | None:
    """Any form of a checkpoint's place -> what the loaders take: an 'hf-hub:' id stays a string;
    a path (`str` or `Path`, `~`, relative) becomes an absolute `Path` that must be a directory."""
    if checkpoint is None:
        return None
    text = str(checkpoint)
    if text.startswith("hf-hub:"):
        return text
    path = Path(text).expanduser().resolve()
    if not path.exists():
        raise CheckpointError(f"{checkpoint}: no such checkpoint (not a directory here, nor an 'hf-hub:' id)")
    if not path.is_dir():
        raise CheckpointError(f"{checkpoint}: a checkpoint is a directory (what `vita train` writes, or a "
                              "released model's files)")
    return path


# ---------------------------------------------------------------- building blocks


def _clap_audio_config(cfg: EncoderConfig, source: str | Path | None) -> Any:
    from transformers import ClapAudioConfig, ClapConfig

    assert cfg.audio is not None
    base: dict[str, Any] = {}
    local = Path(source) / "clap_config.json" if isinstance(source, Path) else None
    if local is not None and local.is_file():
        data = json.loads(local.read_text())
        base = data.get("audio_config", data)
    elif isinstance(source, str) and source.startswith("hf-hub:") and cfg.audio.clap_hub:
        base = ClapConfig.from_pretrained(cfg.audio.clap_hub).audio_config.to_dict()  # type: ignore[union-attr]  # a ClapConfig always has its audio_config object
    fields = {**base, **cfg.audio.clap}
    fields.pop("model_type", None)
    return ClapAudioConfig(**fields)


def _released_open_clip_config(source: str | Path | None) -> dict[str, Any] | None:
    """`open_clip_config.json` of a released directory or hub repo (already fetched by open_clip)."""
    if isinstance(source, Path) and (source / OPEN_CLIP_CONFIG).is_file():
        return json.loads((source / OPEN_CLIP_CONFIG).read_text())
    if isinstance(source, str) and source.startswith("hf-hub:"):
        return json.loads(_hub_file(source.removeprefix("hf-hub:"), OPEN_CLIP_CONFIG).read_text())
    return None


def _as_built(cfg: EncoderConfig, source: str | Path | None, clap_cfg: Any) -> EncoderConfig:
    """The config with the architecture actually built from released weights written into it
    (HTS-AT fields, open_clip model config), so a VITA checkpoint of a fine-tuned biovita model
    rebuilds offline, without the hub or the released directory it started from."""
    if source is None:
        return cfg
    audio, vt = cfg.audio, cfg.vision_text
    if audio is not None and clap_cfg is not None:
        fields = clap_cfg.to_diff_dict()
        for key in ("model_type", "transformers_version"):
            fields.pop(key, None)
        audio = replace(audio, clap=fields)
    released = _released_open_clip_config(source) if vt is not None else None
    model_cfg = released.get("model_cfg") if released else None
    if vt is not None and model_cfg and not model_cfg.get("custom_text") and "hf_model_name" not in model_cfg.get(
            "text_cfg", {}):  # CLIP(**model_cfg) rebuilds exactly these; others keep their source
        vt = replace(vt, model_cfg=model_cfg, preprocess_cfg=released.get("preprocess_cfg", vt.preprocess_cfg))  # type: ignore[union-attr]  # the released config always has a model_cfg here
    return replace(cfg, audio=audio, vision_text=vt)


def _open_clip_parts(cfg: EncoderConfig, source: str | Path | None) -> tuple[nn.Module, Any, Any]:
    """(model, tokenizer, image transform) from a hub repo, a released directory, or a config."""
    import open_clip
    from open_clip.tokenizer import SimpleTokenizer

    vt = cfg.vision_text
    assert vt is not None
    name = None
    if isinstance(source, Path):
        if not (source / OPEN_CLIP_CONFIG).is_file():
            raise CheckpointError(f"{source}: no {OPEN_CLIP_CONFIG} for the image and text towers")
        if not any((source / f).is_file() for f in OPEN_CLIP_WEIGHT_FILES):
            raise CheckpointError(f"{source}: no image and text weights ({' or '.join(OPEN_CLIP_WEIGHT_FILES)})")
        name = f"local-dir:{source}"
    elif isinstance(source, str) and source.startswith("hf-hub:"):
        name = source
    if name is None and vt.model_cfg is None and vt.arch:  # random weights, released shape
        name = vt.arch
    if name is not None:
        try:  # open_clip loads a checkpoint strictly: keys missing or unexpected raise here
            model, _, preprocess = open_clip.create_model_and_transforms(name, weights_only=True)
        except RuntimeError as exc:
            raise CheckpointError(f"{source}: image and text weights do not fit their open_clip config: "
                                  f"{str(exc).splitlines()[0]}") from None
        return model, open_clip.get_tokenizer(name), preprocess
    if vt.model_cfg is None:
        raise CheckpointError(f"preset {cfg.name} has no open_clip architecture to build")
    model = open_clip.CLIP(**vt.model_cfg)
    size = vt.model_cfg["vision_cfg"]["image_size"]
    preprocess = open_clip.image_transform(size, is_train=False, mean=vt.preprocess_cfg.get("mean"),
                                           std=vt.preprocess_cfg.get("std"))
    context = vt.model_cfg.get("text_cfg", {}).get("context_length", 77)
    return model, SimpleTokenizer(context_length=context), preprocess


def _hub_file(repo: str, filename: str) -> Path:
    from huggingface_hub import hf_hub_download

    return Path(hf_hub_download(repo, filename))


def _load_clap_weights(tower: AudioTower, path: Path) -> None:
    """BioVITA's `clap_weights.pth`: {'clap_audio': ClapModel state dict, 'audio_adapter': Linear}."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(blob, dict) or "clap_audio" not in blob:
        raise CheckpointError(f"{path}: expected a dict with 'clap_audio' and 'audio_adapter'")
    audio = {k: v for k, v in blob["clap_audio"].items() if k.startswith(CLAP_AUDIO_PREFIXES)}
    try:
        missing, unexpected = tower.clap.load_state_dict(audio, strict=False)
    except RuntimeError as exc:  # shape mismatches raise even when strict=False
        raise CheckpointError(f"{path}: audio weights do not fit the preset's HTS-AT: "
                              f"{str(exc).splitlines()[1] if len(str(exc).splitlines()) > 1 else exc}") from None
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise CheckpointError(f"{path}: audio weights do not fit the preset's HTS-AT "
                              f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    if tower.adapter is not None:
        if "audio_adapter" not in blob:
            raise CheckpointError(f"{path}: no 'audio_adapter'")
        tower.adapter.load_state_dict(blob["audio_adapter"])


def _build(cfg: EncoderConfig, source: str | Path | None) -> VitaEncoder:
    if cfg.clap_text:
        return _build_clap(cfg, source)
    audio = clap_cfg = None
    if cfg.audio is not None:
        clap_cfg = _clap_audio_config(cfg, source)
        audio = AudioTower(clap_cfg, cfg.dim, adapter=True)
        weights = None
        if isinstance(source, Path) and (source / CLAP_WEIGHTS).is_file():
            weights = source / CLAP_WEIGHTS
        elif isinstance(source, str) and source.startswith("hf-hub:") and cfg.audio.weights_file:
            weights = _hub_file(source.removeprefix("hf-hub:"), cfg.audio.weights_file)
        elif isinstance(source, Path):
            raise CheckpointError(f"{source}: no {CLAP_WEIGHTS} for the audio tower")
        if weights is not None:
            _load_clap_weights(audio, weights)
    clip = tokenizer = transform = None
    if cfg.vision_text is not None:
        clip, tokenizer, transform = _open_clip_parts(cfg, source)
    return VitaEncoder(_as_built(cfg, source, clap_cfg), audio, clip, tokenizer, transform)


def _build_clap(cfg: EncoderConfig, source: str | Path | None) -> VitaEncoder:
    """The CLAP baseline: transformers' ClapModel (audio and RoBERTa text) in its own 512-d space."""
    from transformers import AutoTokenizer, ClapModel, ClapTextModelWithProjection

    if source is None:
        raise CheckpointError("preset clap needs a ClapModel directory or hub id")
    where = str(source).removeprefix("hf-hub:")
    loaded: Any = ClapModel.from_pretrained(where, output_loading_info=True)  # (model, loading info)
    clap: ClapModel = loaded[0]
    info = {k: sorted(map(str, v)) for k, v in loaded[1].items() if k != "error_msgs"}
    missing = [k for k in info["missing_keys"] if not k.endswith(("num_batches_tracked", "position_ids"))]
    if missing or info["unexpected_keys"] or info["mismatched_keys"]:
        raise CheckpointError(f"{source}: weights do not fit the ClapModel (missing {missing[:3]}, unexpected "
                              f"{info['unexpected_keys'][:3]}, mismatched {info['mismatched_keys'][:3]})")
    tok = AutoTokenizer.from_pretrained(where)
    audio = AudioTower(clap.config.audio_config, cfg.dim, adapter=False)  # type: ignore[arg-type]  # transformers types sub-configs loosely
    audio.clap.audio_model = clap.audio_model
    audio.clap.audio_projection = clap.audio_projection
    text = ClapTextModelWithProjection(clap.config.text_config)  # type: ignore[arg-type]  # transformers types sub-configs loosely
    text.text_model = clap.text_model
    text.text_projection = clap.text_projection

    def tokenizer(texts: list[str]) -> dict[str, torch.Tensor]:
        enc = tok(texts, padding=True, truncation=True, max_length=77, return_tensors="pt")
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}

    return VitaEncoder(cfg, audio, None, tokenizer, None, clap_text=text)


def _field(cfg: EncoderConfig, conse: bool) -> VitaEncoder:
    from encoders.field import FieldEncoder

    return FieldEncoder(cfg, conse=conse)


# ---------------------------------------------------------------- VITA checkpoints


def save_vita(model: VitaEncoder, directory: Path, extra: dict[str, Any] | None = None) -> Path:
    """config + safetensors; what `vita train` writes and `load_vita` reads (no pickle)."""
    directory.mkdir(parents=True, exist_ok=True)
    if model.clip is None and model.cfg.vision_text is not None and model.cfg.vision_text.model_cfg is None:
        raise CheckpointError("only presets with an explicit open_clip model_cfg can be saved as VITA checkpoints")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(directory / VITA_WEIGHTS))
    meta = {"config": model.cfg.to_dict(), **(extra or {})}
    if model.cfg.field is not None:  # only the adapters are saved: record which tower files they fit
        from encoders.field import tower_identities

        meta["towers"] = tower_identities()
    (directory / VITA_CONFIG).write_text(json.dumps(meta, indent=1))
    return directory


def load_vita(directory: Path) -> VitaEncoder:
    meta = json.loads((directory / VITA_CONFIG).read_text())
    cfg = EncoderConfig.from_dict(meta["config"])
    if cfg.field is not None:
        from encoders.field import check_towers

        if not meta.get("towers"):
            raise CheckpointError(f"{directory}: a field checkpoint without the identity of its tower files")
        check_towers(meta["towers"])
        model: VitaEncoder = _field(cfg, conse=False)
    else:
        model = _build(cfg, None)
    state = load_file(str(directory / VITA_WEIGHTS))
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        raise CheckpointError(f"{directory}: checkpoint does not fit its config: {exc}") from None
    if missing or unexpected:
        raise CheckpointError(f"{directory}: checkpoint does not fit its config "
                              f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model.eval()
