"""Audio windows and mel features.

- training: a random crop of `window_s` seconds (BioVITA crops 10 s at random);
- queries: an onset crop, starting 0.2 s before the first frame whose energy exceeds 1% of the
  loudest frame's;
- the `onset` front end (the biovita preset) instead treats every clip, window and training
  example as BioVITA's code does (`onset_window`): from 0.2 s before the first *sample* above 1%
  of the peak amplitude, one window long, zero-padded;
- indexing: sliding windows with a hop, each with its time offset, so a long recording becomes
  several searchable points.
Shorter clips are repeat-padded by the feature extractor (CLAP's 'repeatpad').
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from transformers import ClapFeatureExtractor

from encoders.config import AudioConfig


@dataclass(frozen=True, slots=True)
class Window:
    offset_s: float
    samples: np.ndarray


def random_crop(x: np.ndarray, sr: int, seconds: float, rng: np.random.Generator,
                grid_s: float | None = None) -> np.ndarray:
    """A random `seconds` of x; with `grid_s`, starting on a multiple of it (the last start is
    the file's end, so the tail is reachable too)."""
    n = int(seconds * sr)
    if len(x) <= n:
        return x
    if grid_s:
        step = int(grid_s * sr)
        starts = sorted({*range(0, len(x) - n + 1, step), len(x) - n})
        start = starts[int(rng.integers(len(starts)))]
    else:
        start = int(rng.integers(0, len(x) - n + 1))
    return x[start:start + n]


def onset_crop(x: np.ndarray, sr: int, seconds: float, threshold: float = 0.01,
               preroll_s: float = 0.2, frame_s: float = 0.01) -> tuple[float, np.ndarray]:
    """(offset seconds, crop) starting just before the first loud frame."""
    n = int(seconds * sr)
    if len(x) <= n:
        return 0.0, x
    frame = max(1, int(frame_s * sr))
    usable = len(x) // frame * frame
    energy = (x[:usable].reshape(-1, frame).astype(np.float64) ** 2).mean(axis=1)
    loud = np.flatnonzero(energy > threshold * energy.max()) if energy.max() > 0 else np.array([0])
    start = max(0, int(loud[0]) * frame - int(preroll_s * sr))
    start = min(start, len(x) - n)
    return start / sr, x[start:start + n]


def onset_window(x: np.ndarray, sr: int, seconds: float, threshold: float = 0.01,
                 preroll_s: float = 0.2) -> tuple[float, np.ndarray]:
    """(offset seconds, exactly `seconds` of samples): from `preroll_s` before the first sample whose
    magnitude exceeds `threshold` x the peak (the start when none does), zero-padded at the tail.
    BioVITA's training and evaluation read every clip this way, whatever its length."""
    n = int(seconds * sr)
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    mag = np.abs(x)
    loud = np.flatnonzero(mag > threshold * mag.max()) if len(x) else np.zeros(0, np.int64)
    start = max(0, int(loud[0]) - int(preroll_s * sr)) if len(loud) else 0
    out = np.zeros(n, np.float32)
    part = x[start:start + n]
    out[: len(part)] = part
    return start / sr, out


def sliding_windows(x: np.ndarray, sr: int, seconds: float, hop_s: float) -> list[Window]:
    """Windows every `hop_s`; the last one is aligned to the end so the tail is covered."""
    n, hop = int(seconds * sr), max(1, int(hop_s * sr))
    if len(x) <= n:
        return [Window(0.0, x)]
    starts = list(range(0, len(x) - n + 1, hop))
    if starts[-1] + n < len(x):
        starts.append(len(x) - n)
    return [Window(s / sr, x[s:s + n]) for s in starts]


def stream_windows(blocks: Iterable[np.ndarray], sr: int, seconds: float, hop_s: float) -> Iterator[Window]:
    """`sliding_windows` over a stream of blocks, window for window the same (the last one aligned
    to the end), holding at most a window and a block: for recordings too long to hold whole."""
    n, hop = int(seconds * sr), max(1, int(hop_s * sr))
    buf, start, nxt, total, last_end = np.zeros(0, np.float32), 0, 0, 0, 0
    for block in blocks:
        buf = np.concatenate([buf, np.asarray(block, np.float32).reshape(-1)])
        total += len(block)
        while nxt + n <= total:
            yield Window(nxt / sr, buf[nxt - start:nxt - start + n].copy())
            last_end, nxt = nxt + n, nxt + hop
        cut = max(0, min(nxt - start, len(buf) - n))  # keep the last window's worth for the end
        buf, start = buf[cut:], start + cut
    if last_end == 0:  # shorter than a window: the whole of it, once
        yield Window(0.0, buf.copy())
    elif last_end < total:
        yield Window((total - n) / sr, buf[len(buf) - n:].copy())


class Featurizer:
    """Waveforms at the preset's rate -> HTS-AT mel input (batch, 1, frames, n_mels).

    The same log-mel as transformers' `ClapFeatureExtractor` with `rand_trunc` and `repeatpad`
    (its Slaney filters, Hann window, centred reflect padding, power dB), computed as one batched
    `torch.stft` instead of its per-frame numpy loop, which took half of each forward pass on CPU.
    """

    def __init__(self, cfg: AudioConfig) -> None:
        self.cfg = cfg
        extractor = ClapFeatureExtractor(
            feature_size=cfg.mel.n_mels, sampling_rate=cfg.sample_rate, hop_length=cfg.mel.hop_length,
            max_length_s=cfg.window_s, fft_window_size=cfg.mel.fft_window, frequency_min=cfg.mel.fmin,
            frequency_max=cfg.mel.fmax, truncation="rand_trunc", padding="repeatpad",
        )
        self.samples = int(round(cfg.window_s * cfg.sample_rate))
        self.mel = torch.from_numpy(np.ascontiguousarray(extractor.mel_filters_slaney.T, np.float32))
        self.window = torch.hann_window(cfg.mel.fft_window, periodic=True)

    def fit(self, w: np.ndarray) -> np.ndarray:
        """One window's samples at exactly the window's length: a random crop of a longer clip (as
        `rand_trunc`), a shorter one repeated whole and zero-padded (as `repeatpad`)."""
        w, n = _nonempty(w), self.samples
        if len(w) > n:
            start = np.random.randint(0, len(w) - n + 1)
            return w[start:start + n]
        if len(w) < n:
            w = np.pad(np.tile(w, n // len(w)), (0, n - (n // len(w)) * len(w)))
        return w

    def __call__(self, waveforms: list[np.ndarray]) -> torch.Tensor:
        batch = torch.from_numpy(np.stack([self.fit(w) for w in waveforms]))
        spec = torch.stft(batch, self.cfg.mel.fft_window, self.cfg.mel.hop_length, window=self.window,
                          center=True, pad_mode="reflect", return_complex=True).abs().pow(2)
        mel = torch.clamp(self.mel @ spec, min=1e-10)
        return (10.0 * torch.log10(mel)).transpose(1, 2).unsqueeze(1).contiguous()


def _nonempty(w: np.ndarray) -> np.ndarray:
    w = np.asarray(w, dtype=np.float32).reshape(-1)
    return w if len(w) else np.zeros(1600, np.float32)
