"""One script for a lent GPU machine: the biovita-size architecture (HTS-AT as in
laion/clap-htsat-unfused, open_clip ViT-L/14) with random weights, no hub needed.

Measures, each in the preset's GPU precision and in fp32: embedding throughput per modality
(10 s clips, photos, prompts) at a few batch sizes, the peak GPU memory of each, and the share of
an audio embedding's time spent outside the tower (decode-free: the featurizer on the CPU) as the
index ratio's bound. Writes `<out>/gpu.json` and `gpu.md`.

    python -m bench.gpu --out bench/results/gpu-h100
    python -m bench.gpu --preset tiny --device cpu --n 8 --out /tmp/gpu-smoke   # the same code on a CPU
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image


@dataclass
class GpuRow:
    modality: str
    precision: str
    batch: int
    items_per_s: float
    peak_mib: float | None
    featurize_share: float | None = None  # audio: CPU featurizing time / total


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _peak(device: str) -> float | None:
    return torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None


def measure(model: Any, device: str, n: int, batches: list[int], dtype: str) -> list[GpuRow]:
    """Items per second of `embed_*` (after one warm-up batch) in `dtype` autocast ("float32": none)."""
    cfg = model.cfg
    model.cfg = replace(cfg, cuda_dtype=dtype) if dtype != "float32" else cfg
    rng = np.random.default_rng(0)
    rows = []
    sr = cfg.audio.sample_rate if cfg.audio else 16000
    clips = [(0.1 * rng.standard_normal(int(sr * (cfg.audio.window_s if cfg.audio else 10)))).astype(np.float32)
             for _ in range(n)]
    photos = [Image.fromarray(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)) for _ in range(n)]
    texts = [f"Aves Strigiformes Strigidae Strix Strix aluco {i} with common name Tawny Owl" for i in range(n)]
    for modality, items, fn in (("audio", clips, model.embed_audio), ("image", photos, model.embed_image),
                                ("text", texts, model.embed_text)):
        if modality not in cfg.modalities:
            continue
        for b in batches:
            model.batch_size = b
            if device.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            fn(items[:b])  # warm-up
            _sync(device)
            t0 = time.perf_counter()
            fn(items)
            _sync(device)
            total = time.perf_counter() - t0
            share = None
            if modality == "audio":
                t1 = time.perf_counter()
                model.audio_features(items)
                share = round((time.perf_counter() - t1) / total, 3)
            rows.append(GpuRow(modality, "fp32" if dtype == "float32" else dtype, b, round(n / total, 1),
                               _peak(device), share))
    model.cfg = cfg
    return rows


def markdown(data: dict[str, Any]) -> str:
    head = (f"Embedding throughput, {data['preset']} architecture with random weights on {data['device_name']} "
            f"({data['n']} items per run; peak: GPU memory allocated).\n\n"
            "| modality | precision | batch | items/s | peak MiB | featurize share |\n|---|---|---|---|---|---|")
    lines = [f"| {r['modality']} | {r['precision']} | {r['batch']} | {r['items_per_s']} | "
             f"{'–' if r['peak_mib'] is None else round(r['peak_mib'])} | "
             f"{'–' if r['featurize_share'] is None else r['featurize_share']} |" for r in data["rows"]]
    return "\n".join([head, *lines])


def main(argv: list[str] | None = None) -> Path:
    from encoders.factory import create_encoder

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="biovita")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--n", type=int, default=256, help="items per timed run")
    ap.add_argument("--batches", default="32,128")
    ap.add_argument("--out", type=Path, default=Path("bench/results/gpu"))
    args = ap.parse_args(argv)
    model = create_encoder(args.preset, pretrained=False, device=args.device)
    batches = [int(b) for b in args.batches.split(",")]
    rows: list[GpuRow] = []
    for dtype in ([model.cfg.cuda_dtype, "float32"] if args.device.startswith("cuda") else ["float32"]):
        rows += measure(model, args.device, args.n, batches, dtype)
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    data = {"preset": args.preset, "device": args.device, "device_name": name, "n": args.n,
            "rows": [asdict(r) for r in rows]}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu.json").write_text(json.dumps(data, indent=1))
    (args.out / "gpu.md").write_text(markdown(data) + "\n")
    print(markdown(data))
    return args.out


if __name__ == "__main__":
    main()
