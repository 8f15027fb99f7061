"""Decode and validate media: the one gate every file passes before it enters the catalog.

Audio: WAV/FLAC/OGG/MP3 through soundfile (libsndfile), M4A/AAC/MP4/WebM through PyAV;
mono by channel mean; resampling with soxr. Images: Pillow with a pixel limit, EXIF
orientation, and conversion of palette, alpha, CMYK and 16-bit modes to 8-bit RGB.

Every refusal raises `MediaError` with a sentence a curator can act on.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import soundfile as sf
import soxr
from PIL import Image, ImageOps

from catalog.tables import MediaKind

AUDIO_EXTENSIONS = {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac",
                    ".mp4", ".webm"}
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".tif", ".tiff", ".bmp"}
AUDIO_FORMATS = {"wav", "flac", "ogg", "mp3", "mp4", "aac", "webm"}
IMAGE_FORMATS = {"png", "jpeg", "gif", "webp", "tiff", "bmp"}
# MP3 goes through PyAV: libsndfile pads a truncated MP3 to the length its header claims.
_SOUNDFILE_FORMATS = {"wav", "flac", "ogg"}
_BLOCK = 1 << 16


class MediaError(Exception):
    """A file that cannot be ingested; `stage` says which check refused it."""

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(reason)
        self.stage = stage
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Limits:
    """The bad-input limits; the defaults here are the only ones (`Settings` reads its defaults from them)."""

    max_file_bytes: int = 2 * 1024**3
    max_audio_seconds: float = 4 * 3600.0
    min_audio_seconds: float = 0.05
    silence_peak: float = 1e-4
    max_image_pixels: int = 100_000_000
    min_image_side: int = 8


@dataclass(frozen=True, slots=True)
class MediaInfo:
    kind: MediaKind
    format: str
    size_bytes: int
    sha256: str
    duration_s: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    width: int | None = None
    height: int | None = None


def kind_for_extension(path: Path) -> MediaKind | None:
    ext = path.suffix.lower()
    if ext in AUDIO_EXTENSIONS:
        return MediaKind.AUDIO
    if ext in IMAGE_EXTENSIONS:
        return MediaKind.IMAGE
    return None


def sniff(head: bytes) -> str | None:
    """The container format from a file's first bytes, whatever its name says."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:3] == b"ID3":
        return "mp3"
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:  # MPEG frame sync
        return "aac" if head[1] & 0x06 == 0 else "mp3"  # ADTS has layer bits 00
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:2] == b"BM":
        return "bmp"
    return None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_file(path: Path, expected: MediaKind | None, limits: Limits) -> tuple[MediaKind, str]:
    """Existence, size and content sniffing; returns the kind and container format."""
    if not path.is_file():
        raise MediaError("file", "file not found" if not path.exists() else "not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise MediaError("file", "empty file (0 bytes)")
    if size > limits.max_file_bytes:
        raise MediaError("file", f"file is {size / 1024**2:.1f} MiB, over the "
                                 f"{limits.max_file_bytes / 1024**2:.1f} MiB limit")
    with path.open("rb") as fh:
        head = fh.read(64)
    fmt = sniff(head)
    kind = expected or kind_for_extension(path)
    if fmt is None:
        what = "text" if _looks_like_text(head) else "unrecognised binary data"
        raise MediaError("format", f"content is {what}, not a known audio or image format "
                                   f"(extension {path.suffix or 'none'})")
    actual = MediaKind.AUDIO if fmt in AUDIO_FORMATS else MediaKind.IMAGE
    if kind is not None and actual is not kind:
        raise MediaError("format", f"content is {fmt.upper()} ({actual.value}), but the "
                                   f"{'extension' if expected is None else 'record'} says {kind.value}")
    return actual, fmt


def _looks_like_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# ---------------------------------------------------------------- audio


def probe_audio(path: Path, fmt: str) -> tuple[float | None, int, int]:
    """(duration seconds or None if unknown, sample rate, channels) without decoding."""
    if fmt in _SOUNDFILE_FORMATS:
        try:
            info = sf.info(str(path))
            return info.frames / info.samplerate if info.frames > 0 else None, info.samplerate, info.channels
        except (sf.LibsndfileError, RuntimeError):
            pass  # fall through to PyAV (e.g. WAV flavours libsndfile refuses)
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0] if container.streams.audio else None
            if stream is None:
                raise MediaError("decode", "container has no audio stream")
            dur = None
            if stream.duration is not None and stream.time_base is not None:
                dur = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                dur = container.duration / 1_000_000
            return dur, int(stream.rate or stream.codec_context.sample_rate), int(stream.channels)
    except av.error.FFmpegError as exc:
        raise MediaError("decode", f"cannot decode audio: {exc}") from None


def _iter_blocks(path: Path, fmt: str) -> tuple[int, object]:
    """(sample rate, iterator of float32 mono blocks)."""
    if fmt in _SOUNDFILE_FORMATS:
        try:
            handle = sf.SoundFile(str(path))  # one open for the header and the samples

            def sf_blocks() -> Iterator[np.ndarray]:
                with handle:
                    for block in handle.blocks(blocksize=_BLOCK, dtype="float32", always_2d=True):
                        # a mono file's column is already the signal: a mean over one channel
                        # cost a fifth of a FLAC clip's decode
                        yield block[:, 0] if block.shape[1] == 1 else block.mean(axis=1)

            return handle.samplerate, sf_blocks()
        except (sf.LibsndfileError, RuntimeError):
            pass
    return _av_blocks(path)


def _av_blocks(path: Path) -> tuple[int, object]:
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise MediaError("decode", f"cannot decode audio: {exc}") from None
    stream = container.streams.audio[0] if container.streams.audio else None
    if stream is None:
        container.close()
        raise MediaError("decode", "container has no audio stream")
    sr = int(stream.rate or stream.codec_context.sample_rate)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sr)

    def blocks() -> Iterator[np.ndarray]:
        try:
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    yield out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
            for out in resampler.resample(None):
                yield out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
        finally:
            container.close()

    return sr, blocks()


def load_audio(path: Path | str, target_sr: int | None = None, *, max_seconds: float | None = None,
               fmt: str | None = None) -> tuple[np.ndarray, int]:
    """Decode to mono float32 in [-1, 1], optionally resampled; returns (samples, rate)."""
    path = Path(path)
    if fmt is None:
        with path.open("rb") as fh:
            fmt = sniff(fh.read(64)) or path.suffix.lower().lstrip(".")
    sr, blocks = _iter_blocks(path, fmt)
    parts: list[np.ndarray] = []
    total = 0
    limit = int(max_seconds * sr) if max_seconds else None
    try:
        for block in blocks:  # type: ignore[attr-defined]  # blocks is the iterator _iter_blocks returns as object
            parts.append(block)
            total += len(block)
            if limit is not None and total >= limit:
                break
    except (sf.LibsndfileError, RuntimeError, av.error.FFmpegError) as exc:
        raise MediaError("decode", f"decoding failed after {total / sr:.2f} s: {exc}") from None
    samples = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    if limit is not None:
        samples = samples[:limit]
    if target_sr and target_sr != sr:
        samples = soxr.resample(samples, sr, target_sr, quality="HQ").astype(np.float32, copy=False)
        sr = target_sr
    return samples, sr


def stream_audio(path: Path | str, target_sr: int | None = None) -> tuple[int, Iterator[np.ndarray]]:
    """(rate, mono float32 blocks), decoded and resampled a block at a time: an hours-long recording
    never sits whole in memory. Decoding errors surface as MediaError while iterating."""
    path = Path(path)
    with path.open("rb") as fh:
        fmt = sniff(fh.read(64)) or path.suffix.lower().lstrip(".")
    sr, blocks = _iter_blocks(path, fmt)
    out_sr = target_sr or sr

    def gen() -> Iterator[np.ndarray]:
        stream = soxr.ResampleStream(sr, out_sr, 1, dtype="float32", quality="HQ") if out_sr != sr else None
        done = 0.0
        try:
            for block in blocks:  # type: ignore[attr-defined]  # blocks is the iterator _iter_blocks returns as object
                done += len(block) / sr
                block = np.ascontiguousarray(block, np.float32)
                yield stream.resample_chunk(block) if stream is not None else block
        except (sf.LibsndfileError, RuntimeError, av.error.FFmpegError) as exc:
            raise MediaError("decode", f"decoding failed after {done:.2f} s: {exc}") from None
        if stream is not None:
            yield stream.resample_chunk(np.zeros(0, np.float32), last=True)

    return out_sr, gen()


def _wav_missing_bytes(path: Path) -> int:
    """Bytes the WAV `data` chunk declares beyond the end of the file (libsndfile hides this)."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        fh.seek(12)
        while True:
            header = fh.read(8)
            if len(header) < 8:
                return 0
            chunk, length = header[:4], int.from_bytes(header[4:], "little")
            if chunk == b"data":
                if length in (0, 0xFFFFFFFF):  # streaming writers leave it unset
                    return 0
                return max(0, fh.tell() + length - size)
            fh.seek(length + (length & 1), 1)


def validate_audio(path: Path, fmt: str, limits: Limits,
                   keep: list[np.ndarray] | None = None) -> tuple[float, int, int]:
    """Decode the whole file once, streaming; refuse long, short, truncated, NaN or silent audio.
    With `keep`, the decoded blocks are appended to it (a query file: checked and read in one pass)."""
    declared, sr, channels = probe_audio(path, fmt)
    if fmt == "wav" and (missing := _wav_missing_bytes(path)) > 0:
        raise MediaError("decode", f"truncated: the WAV header declares {missing} more bytes "
                                   "of audio than the file holds")
    if declared is not None and declared > limits.max_audio_seconds:
        raise MediaError("validate", f"recording is {declared / 3600:.1f} h long, over the "
                                     f"{limits.max_audio_seconds / 3600:.1f} h limit")
    _, blocks = _iter_blocks(path, fmt)
    frames, peak, nonfinite = 0, 0.0, 0
    try:
        for block in blocks:  # type: ignore[attr-defined]  # blocks is the iterator _iter_blocks returns as object
            frames += len(block)
            if keep is not None:
                keep.append(block)
            finite = np.isfinite(block)
            bad = int(block.size - np.count_nonzero(finite))
            nonfinite += bad
            if bad < block.size:
                peak = max(peak, float(np.abs(block[finite]).max()))
            if frames > limits.max_audio_seconds * sr:
                raise MediaError("validate", f"recording is over the "
                                             f"{limits.max_audio_seconds / 3600:.1f} h limit")
    except (sf.LibsndfileError, RuntimeError, av.error.FFmpegError) as exc:
        raise MediaError("decode", f"decoding failed after {frames / sr:.2f} s (truncated or "
                                   f"corrupt?): {exc}") from None
    duration = frames / sr
    if frames == 0:
        raise MediaError("decode", "no audio frames could be decoded (truncated or corrupt)")
    if declared is not None and duration < 0.9 * declared - 0.5:
        raise MediaError("decode", f"truncated: header says {declared:.2f} s, only "
                                   f"{duration:.2f} s decode")
    if nonfinite:
        raise MediaError("validate", f"{nonfinite} samples are NaN or infinite")
    if duration < limits.min_audio_seconds:
        raise MediaError("validate", f"recording is only {duration * 1000:.0f} ms long")
    if peak < limits.silence_peak:
        raise MediaError("validate", f"recording is silent (peak amplitude {peak:.2g})")
    return duration, sr, channels


# ---------------------------------------------------------------- images


def _open_image(path: Path, limits: Limits) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaError("validate", "image is too large (decompression bomb guard)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaError("decode", f"cannot open image: {exc}") from None
    w, h = img.size
    if w * h > limits.max_image_pixels:
        img.close()
        raise MediaError("validate", f"image is {w}x{h} = {w * h / 1e6:.0f} MP, over the "
                                     f"{limits.max_image_pixels / 1e6:.0f} MP limit")
    return img


def to_rgb(img: Image.Image) -> Image.Image:
    """EXIF-oriented 8-bit RGB; alpha is composited on white, 16-bit is rescaled."""
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = arr.max() if arr.size and arr.max() > 0 else 1.0
        img = Image.fromarray((arr / top * 255.0).clip(0, 255).astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("RGB") if img.mode != "RGB" else img


def load_image(path: Path | str, limits: Limits | None = None) -> Image.Image:
    """Decode an image to RGB, refusing bombs and truncated files."""
    limits = limits or Limits()
    img = _open_image(Path(path), limits)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaError("decode", f"image data is truncated or corrupt: {exc}") from None
    return to_rgb(img)


def checked_image(path: Path, limits: Limits) -> Image.Image:
    """The decoded RGB image, refused if it is too small to show an animal."""
    rgb = load_image(path, limits)
    w, h = rgb.size
    if min(w, h) < limits.min_image_side:
        raise MediaError("validate", f"image is only {w}x{h} pixels")
    return rgb


def validate_image(path: Path, limits: Limits) -> tuple[int, int]:
    size: tuple[int, int] = checked_image(path, limits).size
    return size


def load_checked(path: Path, kind: MediaKind, limits: Limits,
                 target_sr: int | None = None) -> np.ndarray | Image.Image:
    """A query file, checked like ingest input and decoded in the same pass: mono float32 samples
    at `target_sr` for audio, RGB for an image. Raises MediaError with the reason."""
    found, fmt = check_file(path, kind, limits)
    if found is MediaKind.IMAGE:
        return checked_image(path, limits)
    parts: list[np.ndarray] = []
    _, sr, _ = validate_audio(path, fmt, limits, keep=parts)
    samples = np.concatenate(parts).astype(np.float32, copy=False)
    if target_sr and target_sr != sr:
        samples = soxr.resample(samples, sr, target_sr, quality="HQ").astype(np.float32, copy=False)
    return samples


def safe_name(name: str, default: str = "upload") -> str:
    """A user's file name made safe to write under a directory of ours: no directories, no odd
    characters, the suffix lower-cased ("../../Frog (night).WAV" -> "Frog_night.wav")."""
    suffix = re.sub(r"[^a-z0-9.]+", "", Path(name).suffix.lower())[:10]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).stem).strip("._")[:80] or default
    return f"{stem}{suffix}"


def inspect(path: Path, expected: MediaKind | None, limits: Limits) -> MediaInfo:
    """All checks for one file; returns what the catalog records about it."""
    kind, fmt = check_file(path, expected, limits)
    size = path.stat().st_size
    if kind is MediaKind.AUDIO:
        duration, sr, channels = validate_audio(path, fmt, limits)
        return MediaInfo(kind, fmt, size, sha256_file(path), duration_s=round(duration, 4),
                         sample_rate=sr, channels=channels)
    w, h = validate_image(path, limits)
    return MediaInfo(kind, fmt, size, sha256_file(path), width=w, height=h)
