"""Writers for test media: real files in real formats, good and hostile."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import soundfile as sf
from PIL import Image


def tone(seconds: float = 1.0, sr: int = 22050, freq: float = 440.0, amp: float = 0.3,
         channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    x = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def write_audio(path: Path, seconds: float = 1.0, sr: int = 22050, freq: float = 440.0, **kw: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    x = tone(seconds, sr, freq, **kw)  # type: ignore[arg-type]
    ext = path.suffix.lower()
    if ext in (".m4a", ".mp4", ".aac"):
        with av.open(str(path), "w", format="mp4" if ext != ".aac" else "adts") as c:
            st = c.add_stream("aac", rate=sr)
            st.layout = "mono"
            frame = av.AudioFrame.from_ndarray(x.reshape(1, -1), format="flt", layout="mono")
            frame.sample_rate = sr
            for p in st.encode(frame):
                c.mux(p)
            for p in st.encode(None):
                c.mux(p)
    else:
        fmt = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".mp3": "MP3"}[ext]
        subtype = {"OGG": "VORBIS", "MP3": "MPEG_LAYER_III"}.get(fmt)
        sf.write(path, x, sr, format=fmt, subtype=subtype)
    return path


def write_image(path: Path, size: tuple[int, int] = (48, 32), color: tuple[int, int, int] = (200, 80, 40),
                mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", size, color)
    img.paste((10, 10, 10), (0, 0, size[0] // 2, size[1] // 2))
    if mode != "RGB":
        img = img.convert(mode)
    img.save(path)
    return path


def truncate(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path
