"""The demo world: real taxonomy and traits, synthetic sounds and photos (see DESIGN.md).

Everything is deterministic from the seed: a file regenerated after a crash is byte-identical,
so its sha256 matches and re-runs add nothing twice. The media are synthetic; the README says so.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from enum import Enum
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from catalog.decode import MediaError
from catalog.sources.base import MediaRecord, Record, TaxonRecord, TraitRecord
from catalog.sources.demo import picture, sound
from catalog.sources.demo.world import DemoSpecies, latent, species_list, stable_seed, traits_of
from catalog.tables import MediaKind
from catalog.traits import TraitSource

LICENSES = ("cc0", "cc-by", "cc-by-nc", "cc-by-sa")


class DemoSize(str, Enum):
    """small: the tests' world; default: the demo; large: every species ten times over in sound
    (30,400 clips and 3,040 photos), for measuring indexing at scale."""

    SMALL = "small"
    DEFAULT = "default"
    LARGE = "large"


@dataclass(frozen=True, slots=True)
class DemoPreset:
    genera_per_family: int | None  # None: all
    species_per_genus: int | None
    audio_per_species: int
    images_per_species: int
    sample_rate: int
    audio_seconds: tuple[float, float]
    image_size: int


PRESETS: dict[DemoSize, DemoPreset] = {
    DemoSize.SMALL: DemoPreset(2, 3, 4, 2, 16000, (2.0, 4.0), 64),
    DemoSize.DEFAULT: DemoPreset(None, None, 6, 4, 22050, (4.0, 10.0), 160),
    DemoSize.LARGE: DemoPreset(None, None, 100, 10, 22050, (4.0, 10.0), 160),
}


def select_species(preset: DemoPreset) -> list[DemoSpecies]:
    """The preset's share of the world: the first genera of each family, first species of each genus."""
    out: list[DemoSpecies] = []
    genera: dict[str, list[str]] = {}
    per_genus: dict[str, int] = {}
    for s in species_list():
        fam = genera.setdefault(s.lineage.family, [])
        if s.lineage.genus not in fam:
            fam.append(s.lineage.genus)
        if preset.genera_per_family is not None and fam.index(s.lineage.genus) >= preset.genera_per_family:
            continue
        n = per_genus.get(s.lineage.genus, 0)
        if preset.species_per_genus is not None and n >= preset.species_per_genus:
            continue
        per_genus[s.lineage.genus] = n + 1
        out.append(s)
    return out


class DemoWorldSource:
    """Yields the world's taxa and traits, and media records whose files `fetch` synthesises."""

    name = "demo"

    def __init__(self, media_dir: Path, size: DemoSize | str = DemoSize.SMALL, seed: int = 0,
                 workers: int | None = None) -> None:
        self.size = DemoSize(size)
        self.workers = workers if workers is not None else min(4, os.cpu_count() or 1)
        self.preset = PRESETS[self.size]
        self.seed = seed
        self.root = media_dir / f"demo-{self.size.value}-{seed}"

    def params(self) -> dict[str, Any]:
        return {"size": self.size.value, "seed": self.seed, **asdict(self.preset)}

    def records(self) -> Iterator[Record]:
        chosen = select_species(self.preset)
        for s in chosen:
            yield TaxonRecord(s.lineage, s.common_name, {"demo": s.slug})
            yield TraitRecord(s.name, traits_of(s), TraitSource.DEMO, 1.0)
        media = [r for s in chosen for r in self._media(s)]
        missing = sum(1 for r in media if r.path is not None and not r.path.is_file())
        if self.workers < 2 or missing < 64:
            yield from media
            return
        # Synthesis is the slow part: run it ahead in worker processes (spawned: the parent holds
        # database connections and threads), yielding each record once its file exists.
        with ProcessPoolExecutor(self.workers, mp_context=get_context("spawn")) as pool:
            for record, _ in zip(media, pool.map(self._prefetch, media, chunksize=16)):
                yield record

    def _prefetch(self, record: MediaRecord) -> bool:
        """Make the file if possible; a failure is left for `fetch` to report on the record."""
        try:
            self.fetch(record)
            return True
        except Exception:
            return False

    def _media(self, s: DemoSpecies) -> Iterator[MediaRecord]:
        p = self.preset
        for obs in range(max(p.audio_per_species, p.images_per_species)):
            rng = np.random.default_rng(stable_seed(self.seed, s.name, "obs", obs))
            base = dict(
                species=s.name, license=LICENSES[obs % len(LICENSES)],
                rights_holder="VITA demo world (synthetic)",
                attribution=f"Synthetic {s.common_name}, VITA Search demo world (seed {self.seed})",
                observed_on=dt.date(2015, 1, 1) + dt.timedelta(days=int(rng.integers(0, 3650))),
                lat=round(float(rng.uniform(-40, 60)), 4), lon=round(float(rng.uniform(-120, 140)), 4),
                extra={"synthetic": True, "group": f"{s.slug}/{obs}"},
            )
            stem = self.root / s.slug / f"{obs:03d}"
            if obs < p.audio_per_species:
                ext = ".wav" if obs % 3 == 2 else ".flac"
                yield MediaRecord(source_id=f"{self.size.value}/{s.slug}/{obs:03d}a", kind=MediaKind.AUDIO,
                                  path=stem.with_name(stem.name + "_call" + ext), **base)  # type: ignore[arg-type]  # the shared fields of a mixed-type dict are MediaRecord fields
            if obs < p.images_per_species:
                yield MediaRecord(source_id=f"{self.size.value}/{s.slug}/{obs:03d}i", kind=MediaKind.IMAGE,
                                  path=stem.with_name(stem.name + "_photo.png"), **base)  # type: ignore[arg-type]  # the shared fields of a mixed-type dict are MediaRecord fields

    def fetch(self, record: MediaRecord) -> Path:
        """Synthesise the record's file unless it exists (it would be identical)."""
        assert record.path is not None
        if record.path.is_file() and record.path.stat().st_size > 0:
            return record.path
        s = next(x for x in species_list() if x.name == record.species)
        z = latent(s.lineage, self.seed)
        rng = np.random.default_rng(stable_seed(self.seed, record.source_id))
        record.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = record.path.with_name(record.path.name + ".tmp")
        try:
            data = io.BytesIO()  # encoded in memory, written by Python: a full disk says ENOSPC, not "System error"
            if record.kind is MediaKind.AUDIO:
                seconds = float(rng.uniform(*self.preset.audio_seconds))
                wave = sound.render(sound.params_for(s.lineage, z), seconds, self.preset.sample_rate, rng)
                sf.write(data, wave, self.preset.sample_rate, format=record.path.suffix[1:].upper(),
                         subtype="PCM_16")
            else:
                facts = traits_of(s)
                habitats = [lab for (cat, lab), v in facts.items() if cat == "habitat" and v]
                habitat = habitats[int(rng.integers(0, len(habitats)))] if habitats else "sea"
                img = picture.render(picture.looks_for(s.lineage, z), habitat, self.preset.image_size, rng)
                img.save(data, format="PNG")
            tmp.write_bytes(data.getvalue())
            tmp.replace(record.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise MediaError("generate", f"cannot write {record.path}: {exc}") from None
        return record.path
