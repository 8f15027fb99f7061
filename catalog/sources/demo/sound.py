"""Synthetic animal calls whose parameters are inherited down the tree.

class (or order) -> kind of call (bird song, frog pulses, insect stridulation, mammal howl,
bat sweeps); the latent vector (family, then genus, then species) -> frequency band,
rhythm, contour, harmonics and pattern; each recording adds jitter and background noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from catalog.sources.demo.world import sig
from catalog.taxonomy import Lineage


@dataclass(frozen=True, slots=True)
class CallKind:
    f0: tuple[float, float]  # Hz, low..high over the latent range
    syllable_s: tuple[float, float]
    gap_s: tuple[float, float]
    pulse_hz: tuple[float, float]  # amplitude pulses inside a syllable; (0, 0) = none
    noise: float  # share of noisy carrier
    sweep: bool = False  # bat-like fast downward sweeps


KINDS: dict[str, CallKind] = {
    "song": CallKind((1400, 5200), (0.06, 0.35), (0.04, 0.25), (0, 0), 0.05),
    "pulsed": CallKind((350, 2600), (0.08, 0.6), (0.1, 0.6), (15, 120), 0.15),
    "stridulation": CallKind((2800, 6800), (0.15, 1.2), (0.05, 0.5), (25, 160), 0.25),
    "howl": CallKind((180, 1100), (0.25, 1.4), (0.2, 0.9), (0, 0), 0.3),
    "sweep": CallKind((3800, 6800), (0.004, 0.014), (0.06, 0.16), (0, 0), 0.05, sweep=True),
}


def kind_for(lineage: Lineage) -> CallKind:
    if lineage.order == "Chiroptera":
        return KINDS["sweep"]
    return KINDS[{"Aves": "song", "Amphibia": "pulsed", "Insecta": "stridulation"}.get(lineage.class_, "howl")]


@dataclass(frozen=True, slots=True)
class CallParams:
    kind: CallKind
    f0: float
    syllable_s: float
    gap_s: float
    slope_oct: float
    arch_oct: float
    vibrato_hz: float
    vibrato_oct: float
    h2: float
    h3: float
    pulse_hz: float
    noise: float
    n_types: int
    type_step_oct: float
    bout_len: int


def _span(lo: float, hi: float, x: float) -> float:
    return lo * (hi / lo) ** sig(x) if lo > 0 else 0.0


def params_for(lineage: Lineage, z: np.ndarray) -> CallParams:
    """Audio uses latent dims 0..11."""
    k = kind_for(lineage)
    return CallParams(
        kind=k,
        f0=_span(*k.f0, z[0]),
        syllable_s=_span(*k.syllable_s, z[1]),
        gap_s=_span(*k.gap_s, z[2]),
        slope_oct=0.9 * float(np.tanh(z[3])) * (3.0 if k.sweep else 1.0),
        arch_oct=0.6 * float(np.tanh(z[4])),
        vibrato_hz=30.0 * sig(z[5]),
        vibrato_oct=0.08 * sig(z[6]) ** 2,
        h2=0.7 * sig(z[7]),
        h3=0.45 * sig(z[8]),
        pulse_hz=_span(*k.pulse_hz, z[9]) if k.pulse_hz[0] else 0.0,
        noise=min(0.8, k.noise * 2 * sig(z[10])),
        n_types=1 + int(3.999 * sig(z[11])),
        type_step_oct=0.35 * float(np.tanh(z[11] * 2.0)),
        bout_len=2 + int(6 * sig(z[3] - z[11])),
    )


def _syllable(p: CallParams, f0: float, dur: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    n = max(8, int(dur * sr))
    t = np.arange(n) / sr
    u = t / dur
    slope = -abs(p.slope_oct) - 0.6 if p.kind.sweep else p.slope_oct
    log_f = (np.log2(f0) + slope * u + p.arch_oct * 4 * u * (1 - u)
             + p.vibrato_oct * np.sin(2 * np.pi * p.vibrato_hz * t))
    freq = np.minimum(2.0**log_f, 0.45 * sr)
    phase = 2 * np.pi * np.cumsum(freq) / sr
    wave = np.sin(phase)
    for h, amp in ((2, p.h2), (3, p.h3)):
        wave += amp * np.sin(h * phase) * (h * freq < 0.45 * sr)
    if p.noise > 0:  # noise narrowed to about a fifth of f0 around the carrier
        wave = (1 - p.noise) * wave + p.noise * _lowpass(rng.standard_normal(n), sr / (0.2 * f0)) * np.sin(phase)
    env = np.sin(np.pi * np.clip(u, 0, 1)) ** 0.6
    if p.pulse_hz > 0:
        env = env * np.maximum(0.0, np.sin(2 * np.pi * p.pulse_hz * t)) ** 2
    return (wave * env).astype(np.float32)


def _lowpass(x: np.ndarray, width: float) -> np.ndarray:
    """Moving average over `width` samples (cumsum), rescaled to unit peak."""
    w = max(1, int(width))
    c = np.cumsum(np.concatenate([np.zeros(w), x]))
    y = (c[w:] - c[:-w]) / w
    return y / (np.abs(y).max() + 1e-9)


def _pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """1/f noise; made at a power-of-two length (fast FFT) and cut to n."""
    m = 1 << max(1, (n - 1).bit_length())
    spectrum = np.fft.rfft(rng.standard_normal(m))
    spectrum /= np.sqrt(np.arange(1, len(spectrum) + 1))
    noise = np.fft.irfft(spectrum, m)[:n]
    return (noise / (np.abs(noise).max() + 1e-9)).astype(np.float32)


def render(p: CallParams, seconds: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """One recording: bouts of syllables with per-recording jitter, in background noise."""
    n = int(seconds * sr)
    out = np.zeros(n, np.float32)
    f_scale = float(np.exp(0.03 * rng.standard_normal()))  # this individual's pitch
    tempo = float(np.exp(0.08 * rng.standard_normal()))
    cursor = float(rng.uniform(0.05, 0.6))
    i = 0
    while cursor < seconds - 0.05:
        k = i % p.n_types
        f0 = p.f0 * f_scale * 2.0 ** (p.type_step_oct * (k - (p.n_types - 1) / 2))
        dur = p.syllable_s * tempo * float(np.exp(0.1 * rng.standard_normal())) * (1 + 0.25 * (k % 2))
        syl = _syllable(p, f0, dur, sr, rng)
        start = int(cursor * sr)
        seg = syl[: max(0, n - start)]
        out[start:start + len(seg)] += seg * float(rng.uniform(0.7, 1.0))
        cursor += dur + p.gap_s * tempo * float(np.exp(0.15 * rng.standard_normal()))
        i += 1
        if i % p.bout_len == 0:
            cursor += float(rng.uniform(0.3, 1.2)) * (0.3 if p.kind.sweep else 1.0)
    peak = float(np.abs(out).max()) or 1.0
    out /= peak
    snr_db = float(rng.uniform(8, 28))
    noise = _pink_noise(n, rng) * 10 ** (-snr_db / 20)
    mix = out + noise
    return (mix / (np.abs(mix).max() + 1e-9) * float(rng.uniform(0.3, 0.9))).astype(np.float32)
