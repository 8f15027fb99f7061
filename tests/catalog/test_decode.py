"""Decoding and validation of every audio and image format the sources bring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from catalog.decode import Limits, MediaError, inspect, load_audio, load_image, sniff
from catalog.tables import MediaKind
from tests.support import tone, truncate, write_audio, write_image


def dominant_hz(x: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * sr / len(x))


@pytest.mark.parametrize("ext", [".wav", ".flac", ".ogg", ".mp3", ".m4a"])
def test_audio_formats_decode_mono_and_resample(tmp_path: Path, ext: str) -> None:
    path = write_audio(tmp_path / f"a{ext}", seconds=1.5, sr=22050, freq=440.0)
    info = inspect(path, None, Limits())
    assert info.kind is MediaKind.AUDIO
    assert info.sample_rate == 22050
    assert info.duration_s == pytest.approx(1.5, abs=0.1)
    samples, sr = load_audio(path, 48000)
    assert sr == 48000
    assert samples.dtype == np.float32
    assert samples.ndim == 1
    assert len(samples) == pytest.approx(1.5 * 48000, rel=0.08)
    assert dominant_hz(samples, sr) == pytest.approx(440.0, abs=3.0)


def test_stereo_is_mixed_to_mono(tmp_path: Path) -> None:
    left = tone(1.0, 16000, 300.0)
    right = tone(1.0, 16000, 300.0) * -1.0  # cancels in the mean
    stereo = np.stack([left, right + tone(1.0, 16000, 1000.0)], axis=1)
    sf.write(tmp_path / "s.wav", stereo, 16000)
    x, sr = load_audio(tmp_path / "s.wav")
    assert inspect(tmp_path / "s.wav", None, Limits()).channels == 2
    assert dominant_hz(x, sr) == pytest.approx(1000.0, abs=3.0)


def test_sniffing_ignores_the_extension() -> None:
    assert sniff(b"RIFF\x00\x00\x00\x00WAVEfmt ") == "wav"
    assert sniff(b"fLaC\x00") == "flac"
    assert sniff(b"\x89PNG\r\n\x1a\n....") == "png"
    assert sniff(b"\x00\x00\x00\x20ftypM4A ") == "mp4"
    assert sniff(b"ID3\x04") == "mp3"
    assert sniff(b"hello") is None


def hostile(tmp_path: Path) -> dict[str, tuple[Path, str, str]]:
    """name -> (file, expected stage, a word the reason must contain)."""
    files: dict[str, tuple[Path, str, str]] = {}
    empty = tmp_path / "empty.wav"
    empty.touch()
    files["empty"] = (empty, "file", "empty")
    text = tmp_path / "notes.wav"
    text.write_text("these are my field notes, not a recording\n" * 5)
    files["text as wav"] = (text, "format", "text")
    png = write_image(tmp_path / "photo.png")
    files["png as flac"] = (png.rename(tmp_path / "photo.flac"), "format", "PNG")
    wav_as_jpg = write_audio(tmp_path / "call.wav").rename(tmp_path / "call.jpg")
    files["wav as jpg"] = (wav_as_jpg, "format", "WAV")
    files["truncated flac"] = (truncate(write_audio(tmp_path / "t.flac", seconds=3)), "decode", "")
    files["truncated wav"] = (truncate(write_audio(tmp_path / "t.wav", seconds=3)), "decode", "truncated")
    files["truncated mp3"] = (truncate(write_audio(tmp_path / "t.mp3", seconds=3), 0.3), "decode", "truncated")
    files["truncated png"] = (truncate(write_image(tmp_path / "t.png", size=(300, 300))), "decode", "")
    sf.write(tmp_path / "silent.wav", np.zeros(16000, np.float32), 16000)
    files["silent"] = (tmp_path / "silent.wav", "validate", "silent")
    nan = tone(1.0, 16000)
    nan[100:200] = np.nan
    sf.write(tmp_path / "nan.wav", nan, 16000, subtype="FLOAT")
    files["nan"] = (tmp_path / "nan.wav", "validate", "NaN")
    files["too long"] = (write_audio(tmp_path / "long.flac", seconds=12, sr=8000), "validate", "limit")
    big = tmp_path / "huge.wav"
    with big.open("wb") as fh:  # sparse: large on paper, nothing written
        fh.write(b"RIFF")
        fh.truncate(3 * 1024**2)
    files["huge"] = (big, "file", "limit")
    files["bomb"] = (write_image(tmp_path / "bomb.png", size=(4000, 3000)), "validate", "MP")
    files["tiny image"] = (write_image(tmp_path / "tiny.png", size=(4, 4)), "validate", "4x4")
    files["missing"] = (tmp_path / "nowhere.wav", "file", "not found")
    return files


def test_hostile_files_are_refused_with_a_reason(tmp_path: Path) -> None:
    limits = Limits(max_file_bytes=2 * 1024**2, max_audio_seconds=10.0, max_image_pixels=5_000_000)
    for name, (path, stage, word) in hostile(tmp_path).items():
        with pytest.raises(MediaError) as caught:
            inspect(path, None, limits)
        assert caught.value.stage == stage, (name, caught.value.reason)
        assert word in caught.value.reason, (name, caught.value.reason)


def test_image_modes_become_rgb(tmp_path: Path) -> None:
    palette = Image.new("P", (20, 10))
    palette.putpalette([255, 0, 0] * 256)
    palette.info["transparency"] = 0
    palette.save(tmp_path / "p.png", transparency=0)
    rgba = Image.new("RGBA", (20, 10), (0, 0, 255, 0))
    rgba.save(tmp_path / "a.png")
    Image.new("CMYK", (20, 10), (0, 255, 255, 0)).save(tmp_path / "c.jpg")
    deep = (np.arange(200, dtype=np.uint16).reshape(10, 20) * 300)
    Image.fromarray(deep).save(tmp_path / "d.png")
    for name in ("p.png", "a.png", "c.jpg", "d.png"):
        img = load_image(tmp_path / name)
        assert img.mode == "RGB" and img.size == (20, 10), name
    # fully transparent pixels composite onto white, not black
    assert load_image(tmp_path / "a.png").getpixel((0, 0)) == (255, 255, 255)
    assert load_image(tmp_path / "p.png").getpixel((0, 0)) == (255, 255, 255)
    # 16-bit is rescaled, so the brightest pixel is white and the darkest black
    px = np.asarray(load_image(tmp_path / "d.png"))
    assert px.max() == 255
    assert px.min() == 0
    # CMYK red-ish stays red-ish
    r, g, b = load_image(tmp_path / "c.jpg").getpixel((5, 5))
    assert r > 200
    assert g < 60
    assert b < 60


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = Image.new("RGB", (40, 20), (0, 200, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    img.save(tmp_path / "o.jpg", exif=exif)
    assert load_image(tmp_path / "o.jpg").size == (20, 40)
