"""How one result looks: a card with the player (from the matched window) and its spectrogram,
or the photo, and a download; name (linked to its species page), lineage, date and place,
traits, score, licence and attribution as plain text, never raw HTML."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import streamlit as st
from PIL import Image, ImageDraw, ImageFont

from catalog.decode import load_audio
from indexer.search import Result

_MD = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$])")


def md(text: object) -> str:
    """Escape Markdown (and so HTML) in names and attribution that come from the outside world."""
    return _MD.sub(r"\\\1", str(text))


FREQ_TICKS_KHZ = (0, 2, 4, 6, 8)  # up to Nyquist at 16 kHz
AXIS_GREY = (90, 90, 90)


@lru_cache(maxsize=256)
def spectrogram(path: str, offset_s: float, duration_s: float, sr: int = 16000) -> Image.Image:
    """A log-power spectrogram of the matched window (low frequencies at the bottom), with a time
    axis in seconds from the file's start and a frequency axis in kHz."""
    wave, _ = load_audio(Path(path), sr)
    seg = wave[int(offset_s * sr): int((offset_s + duration_s) * sr)] if duration_s else wave
    n_fft, hop = 512, 128
    if len(seg) < n_fft:
        seg = np.pad(seg, (0, n_fft - len(seg)))
    frames = np.lib.stride_tricks.sliding_window_view(seg, n_fft)[::hop] * np.hanning(n_fft)
    power = np.log10(np.abs(np.fft.rfft(frames, axis=1)) ** 2 + 1e-10).T[::-1]
    lo, hi = np.percentile(power, 5), power.max()
    x = np.clip((power - lo) / max(hi - lo, 1e-6), 0, 1)
    rgb = np.stack([x ** 0.5, x ** 1.5, 0.3 + 0.7 * x * (1 - x)], axis=-1)  # dark blue -> yellow
    plot = Image.fromarray((rgb * 255).astype(np.uint8)).resize((320, 120))
    return with_axes(plot, offset_s, len(seg) / sr, sr / 2000)


def with_axes(plot: Image.Image, start_s: float, span_s: float, top_khz: float) -> Image.Image:
    """The plot framed by a time axis (s) below and a frequency axis (kHz) on the left."""
    left, bottom, top = 34, 18, 6
    out = Image.new("RGB", (plot.width + left + 6, plot.height + bottom + top), "white")
    out.paste(plot, (left, top))
    draw = ImageDraw.Draw(out)
    font = ImageFont.load_default()
    y0, y1 = top, top + plot.height
    for khz in (k for k in FREQ_TICKS_KHZ if k <= top_khz):
        y = y1 - round(khz / top_khz * (plot.height - 1))
        draw.line([(left - 4, y), (left - 1, y)], fill=AXIS_GREY)
        draw.text((2, y - 5), f"{khz}k", fill=AXIS_GREY, font=font)
    step = _tick_step(span_s)
    t = np.ceil(start_s / step) * step
    while t <= start_s + span_s + 1e-9:
        xpos = left + round((t - start_s) / max(span_s, 1e-9) * (plot.width - 1))
        draw.line([(xpos, y1 + 1), (xpos, y1 + 4)], fill=AXIS_GREY)
        draw.text((xpos - 6, y1 + 5), f"{t:g}s", fill=AXIS_GREY, font=font)
        t += step
    draw.rectangle([(left - 1, y0 - 1), (left + plot.width, y1)], outline=AXIS_GREY)
    return out


def _tick_step(span_s: float) -> float:
    """A round tick spacing giving four to ten ticks across the span."""
    for step in (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60):
        if span_s / step <= 8:
            return step
    return 120.0


def species_link(name: str) -> str:
    """The address of a taxon's species page."""
    return "/species?" + urlencode({"species": name})


def card(r: Result, key: str, on_more: object | None = None, on_label: object | None = None) -> None:
    with st.container(border=True):
        if r.rank:  # a taxon (text) result
            st.markdown(f"**[{md(r.name)}]({species_link(str(r.name))})** · {md(r.rank)}"
                        + (f" · {md(r.common_name)}" if r.common_name else ""))
            st.caption(md(" > ".join(r.lineage.values())))
            st.text(f"score {r.score:.3f}")
            return
        taxon = r.species or r.name
        title = f"**{md(r.common_name or taxon or '?')}**" + (f" · *{md(r.species)}*" if r.species else "")
        if not r.species and r.name:  # identified above species
            title += f" · *{md(r.name)}* (identified to {md(r.identified_to or '?')})"
        if taxon:
            title += f" · [species page]({species_link(taxon)})"
        st.markdown(title)
        if r.why:
            st.caption(md(f"found: {r.why}"))
        exists = bool(r.path) and Path(str(r.path)).exists()
        if r.modality == "audio" and exists:
            start = float(r.offset_s or 0.0)
            st.audio(str(r.path), start_time=int(start))
            try:
                st.image(spectrogram(str(r.path), start, float(r.duration_s or 0.0)), width="stretch",
                         caption=f"{start:.0f}-{start + float(r.duration_s or 0):.0f} s")
            except Exception as exc:
                st.caption(f"no spectrogram: {md(exc)}")
        elif r.modality == "image" and exists:
            st.image(str(r.path), width="stretch")  # as wide as a spectrogram: a photo is not a thumbnail
        elif r.path:
            st.caption(f"file missing: {md(r.path)}")
        st.caption(md(" > ".join(r.lineage.values())))
        where_when = " · ".join(x for x in (r.observed_on, r.place, _coordinates(r)) if x)
        if where_when:
            st.text(where_when)
        if r.traits:
            st.caption("traits: " + md(", ".join(t.replace("=", ": ") for t in r.traits)))
        st.text((f"score {r.score:.3f} · " if r.score else "") + f"{r.modality} · media {r.media_id}")
        st.text(f"licence {r.license or '?'} · {r.attribution or r.rights_holder or 'no attribution'}")
        if r.modality == "image" and exists:  # a sound's player has its own download in its menu
            st.download_button("Download photo", Path(str(r.path)).read_bytes(), Path(str(r.path)).name,
                               key=f"dl-{key}-{r.media_id}", on_click="ignore")
        if on_more is not None and r.media_id is not None and st.button("More like this", key=f"more-{key}-{r.media_id}-{r.offset_s}"):
            on_more(r.media_id)  # type: ignore[operator]  # on_more is a callback stored as object
        label = st.session_state.get("annotate_label", "").strip()
        if on_label is not None and label and r.media_id is not None:
            yes, no = st.columns(2)
            if yes.button(f"👍 {label}", key=f"yes-{key}-{r.media_id}-{r.offset_s}"):
                on_label(r, True)  # type: ignore[operator]  # on_label is a callback stored as object
            if no.button(f"👎 {label}", key=f"no-{key}-{r.media_id}-{r.offset_s}"):
                on_label(r, False)  # type: ignore[operator]  # on_label is a callback stored as object


def _coordinates(r: Result) -> str | None:
    if r.lat is None or r.lon is None:
        return None
    return f"{abs(r.lat):.3f}°{'N' if r.lat >= 0 else 'S'} {abs(r.lon):.3f}°{'E' if r.lon >= 0 else 'W'}"
