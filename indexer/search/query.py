"""The query side of a search: read the text into filters, check an upload, and embed it.

A `Query` is what the search part needs: a vector, the filters and the target it implies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from catalog.decode import MediaError, load_checked
from catalog.facade import Catalog
from catalog.prompts import PromptStyle
from catalog.tables import MediaKind
from indexer.filters import Filter
from indexer.model_ref import load_model
from indexer.parse import Interpretation, Vocabulary
from indexer.search.request import QueryError, SearchRequest, Target
from indexer.store import VectorStore


@dataclass
class Query:
    kind: str  # text | audio | image | media
    vector: np.ndarray
    filters: Filter
    target: Target
    embedded_text: str | None = None
    interpretation: Interpretation | None = None
    data: Any = None  # the decoded upload (samples or an image), for the model's own heads


class QueryEncoder:
    """Turns a request into a vector; holds the model (loaded on first use) and the vocabulary."""

    def __init__(self, catalog: Catalog, store: VectorStore, media_c: str, model_ref: str, preset: str) -> None:
        self.catalog, self.store, self.media_c = catalog, store, media_c
        self.model_ref, self.preset = model_ref, preset
        self._vocab: Vocabulary | None = None
        #: where a text is embedded: the model's own `embed_text`, unless a server hands it to worker
        #: processes (`indexer.search.forward.TextForward`)
        self.text_forward: Callable[[list[str]], np.ndarray] | None = None

    @property
    def model(self) -> Any:
        return load_model(self.model_ref, self.preset)

    @property
    def vocabulary(self) -> Vocabulary:
        if self._vocab is None:
            names = self.catalog.names()
            with self.catalog.sessions() as s:
                self._vocab = Vocabulary.from_catalog(s, names)
        return self._vocab

    def encode(self, req: SearchRequest) -> Query:
        if sum(x is not None and x != [] for x in (req.text, req.audio, req.image, req.media_ids)) != 1:
            raise QueryError("give exactly one of: text, an audio file, an image file, media ids")
        if req.text is not None:
            return self._text(req)
        if req.audio is not None:
            wave = self.audio_data(Path(req.audio))
            return Query("audio", self.model.embed_audio([wave], crop="onset")[0], req.filters,
                         req.target or Target.IMAGE, data=wave)
        if req.image is not None:
            image = check_upload(Path(req.image), MediaKind.IMAGE, self.catalog.limits)
            return Query("image", self.model.embed_image([image])[0], req.filters, req.target or Target.AUDIO,
                         data=image)
        flt = req.filters.merged(Filter(exclude={"media_id": [str(m) for m in req.media_ids]}))
        return Query("media", self.media_vector(req.media_ids), flt, req.target or Target.ANY)

    def _text(self, req: SearchRequest) -> Query:
        """Taxon, trait and modality words become filters; what is left (or the named taxon's prompt) is embedded."""
        assert req.text is not None
        flt, target, interp, text = req.filters, req.target, None, req.text
        if req.parse:
            interp = self.vocabulary.parse(req.text)
            dropped = [m for m in interp.matches if (m.field, m.value) in set(req.ignore)]
            interp.matches = [m for m in interp.matches if m not in dropped]
            interp.remainder = " ".join([interp.remainder, *(m.phrase for m in dropped
                                                              if m.field != "target")]).strip()
            parsed = Filter()
            for key, values in interp.filters().items():
                parsed.add(key, *values)
            flt = flt.merged(parsed)
            target = target or (Target(interp.target) if interp.target else None)
            text = self.vocabulary.prompt_for(interp, PromptStyle(self.model.cfg.prompts)) or req.text
        embed = self.text_forward or self.model.embed_text
        return Query("text", embed([text])[0], flt, target or Target.ANY, text, interp)

    def audio_data(self, path: Path) -> np.ndarray:
        """An upload is checked like ingest input (size, format, length, silence) and decoded in one pass."""
        sr = self.model.cfg.audio.sample_rate if self.model.cfg.audio else None
        if sr is None:
            raise QueryError(f"model {self.preset} has no audio tower")
        return check_upload(path, MediaKind.AUDIO, self.catalog.limits, sr)

    def audio_vector(self, path: Path) -> np.ndarray:
        return self.model.embed_audio([self.audio_data(path)], crop="onset")[0]

    def image_vector(self, path: Path) -> np.ndarray:
        return self.model.embed_image([check_upload(path, MediaKind.IMAGE, self.catalog.limits)])[0]

    def media_vector(self, media_ids: list[int]) -> np.ndarray:
        """The mean of the items' stored vectors (all windows of a recording)."""
        hits = list(self.store.scroll(self.media_c, Filter({"media_id": [str(m) for m in media_ids]}),
                                      with_vector=True))
        if not hits:
            raise QueryError(f"media {media_ids} are not in the index (unknown ids, or not indexed yet)")
        v = np.mean([h.vector for h in hits if h.vector is not None], axis=0)
        return v / max(float(np.linalg.norm(v)), 1e-12)


def check_upload(path: Path, kind: MediaKind, limits: Any, target_sr: int | None = None) -> Any:
    """A query file is checked like ingest input (size, format, length, silence) and decoded in the
    same pass (samples at `target_sr`, or an RGB image); a refusal is a QueryError naming the file
    and the reason."""
    try:
        return load_checked(Path(path), kind, limits, target_sr)
    except MediaError as exc:
        raise QueryError(f"{path}: {exc.stage}: {exc.reason}") from None
    except FileNotFoundError:
        raise QueryError(f"{path}: no such file") from None
