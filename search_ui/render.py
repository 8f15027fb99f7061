"""How one result looks: a card with the player (from the matched window) and its spectrogram,
or the photo; name, lineage, score, licence and attribution as plain text, never raw HTML."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from catalog.decode import load_audio
from indexer.search import Result

_MD = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$])")


def md(text: object) -> str:
    """Escape Markdown (and so HTML) in names and attribution that come from the outside world."""
    return _MD.sub(r"\\\1", str(text))


@lru_cache(maxsize=256)
def spectrogram(path: str, offset_s: float, duration_s: float, sr: int = 16000) -> Image.Image:
    """A log-power spectrogram of the matched window, as a small picture (low frequencies at the bottom)."""
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
    return Image.fromarray((rgb * 255).astype(np.uint8)).resize((320, 120))


def card(r: Result, key: str, on_more: object | None = None, on_label: object | None = None) -> None:
    with st.container(border=True):
        if r.rank:  # a taxon (text) result
            st.markdown(f"**{md(r.name)}** · {md(r.rank)}" + (f" · {md(r.common_name)}" if r.common_name else ""))
            st.caption(md(" > ".join(r.lineage.values())))
            st.text(f"score {r.score:.3f}")
            return
        title = f"**{md(r.common_name or r.species or r.name or '?')}**" + (f" · *{md(r.species)}*" if r.species else "")
        if not r.species and r.name:  # identified above species
            title += f" · *{md(r.name)}* (identified to {md(r.identified_to or '?')})"
        st.markdown(title)
        if r.why:
            st.caption(md(f"found: {r.why}"))
        if r.modality == "audio" and r.path and Path(r.path).exists():
            start = float(r.offset_s or 0.0)
            st.audio(r.path, start_time=int(start))
            try:
                st.image(spectrogram(r.path, start, float(r.duration_s or 0.0)), width="stretch",
                         caption=f"{start:.0f}-{start + float(r.duration_s or 0):.0f} s")
            except Exception as exc:
                st.caption(f"no spectrogram: {md(exc)}")
        elif r.modality == "image" and r.path and Path(r.path).exists():
            st.image(r.path, width="stretch")  # as wide as a spectrogram: a photo is not a thumbnail
        elif r.path:
            st.caption(f"file missing: {md(r.path)}")
        st.caption(md(" > ".join(r.lineage.values())))
        st.text((f"score {r.score:.3f} · " if r.score else "") + f"{r.modality} · media {r.media_id}")
        st.text(f"licence {r.license or '?'} · {r.attribution or r.rights_holder or 'no attribution'}")
        if on_more is not None and r.media_id is not None and st.button("More like this", key=f"more-{key}-{r.media_id}-{r.offset_s}"):
            on_more(r.media_id)  # type: ignore[operator]  # on_more is a callback stored as object
        label = st.session_state.get("annotate_label", "").strip()
        if on_label is not None and label and r.media_id is not None:
            yes, no = st.columns(2)
            if yes.button(f"👍 {label}", key=f"yes-{key}-{r.media_id}-{r.offset_s}"):
                on_label(r, True)  # type: ignore[operator]  # on_label is a callback stored as object
            if no.button(f"👎 {label}", key=f"no-{key}-{r.media_id}-{r.offset_s}"):
                on_label(r, False)  # type: ignore[operator]  # on_label is a callback stored as object
