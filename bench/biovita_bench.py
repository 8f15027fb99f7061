"""The released BioVITA Bench, read as the paper's evaluation reads it (Table 3's protocol).

A benchmark directory holds
- `ids/audio_index.csv`, `ids/image_index.csv` (`id`, `file_path`) and `ids/text_index.csv` (`id`,
  `species`, `genus`, `family`, `class`, ...): every item once, by id;
- `species/`, `genus/`, `family/`, each with `test_{audio_to_image, image_to_audio, audio_to_text,
  text_to_audio, image_to_text, text_to_image}.csv`: one task per row, `query_payload_id`,
  `candidates_target_ids` (a JSON list of id lists, one per candidate taxon), `candidates_taxa`,
  `correct_taxon` and, where present, `taxon_class`.
A text item is embedded as its row's name at the task's level (the species, genus or family
string); a candidate taxon scores its best item; a task whose right taxon is not among its
candidates is skipped and counted; top-k is the right taxon among the k best, ties counted against
the model (the paper's `torch.topk` leaves their order unspecified; a constant model scores chance).
Relative file paths are read against the benchmark directory.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from catalog.errors import ConfigError

LEVELS = ("species", "genus", "family")
TASKS = {"A2I": "audio_to_image", "I2A": "image_to_audio", "A2T": "audio_to_text", "T2A": "text_to_audio",
         "I2T": "image_to_text", "T2I": "text_to_image"}
MODALITY = {"A": "audio", "I": "image", "T": "text"}
KS = (1, 5, 10)
Log = Callable[[str], None]


@dataclass(frozen=True)
class BenchTask:
    query: int
    candidates: list[list[int]]  # item ids per candidate taxon
    taxa: list[str]
    correct: str
    taxon_class: str | None = None


@dataclass
class BenchRow:
    task: str  # "A2I"
    level: str
    n: int
    top: dict[int, float]
    skipped_not_in_candidates: int = 0
    per_class: dict[str, float] = field(default_factory=dict)  # top-1 by the query's class


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _need(path: Path) -> Path:
    if not path.is_file():
        raise ConfigError(f"{path}: missing (a BioVITA Bench directory has ids/ and species|genus|family/ task files)")
    return path


def load_tasks(root: Path) -> dict[tuple[str, str], list[BenchTask]]:
    """(task, level) -> its tasks, for every task file present."""
    out: dict[tuple[str, str], list[BenchTask]] = {}
    for level in LEVELS:
        for task, stem in TASKS.items():
            path = root / level / f"test_{stem}.csv"
            if not path.is_file():
                continue
            try:
                out[(task, level)] = [BenchTask(int(r["query_payload_id"]), json.loads(r["candidates_target_ids"]),
                                                json.loads(r["candidates_taxa"]), r["correct_taxon"],
                                                r.get("taxon_class") or None) for r in _rows(path)]
            except (KeyError, ValueError) as exc:
                raise ConfigError(f"{path}: not a BioVITA Bench task file ({exc})") from None
    if not out:
        raise ConfigError(f"{root}: no task files (species|genus|family/test_*.csv)")
    return out


def _media(root: Path, modality: str) -> dict[int, Path]:
    out = {}
    for r in _rows(_need(root / "ids" / f"{modality}_index.csv")):
        p = Path(r["file_path"])
        out[int(r["id"])] = p if p.is_absolute() else root / p
    return out


def _texts(root: Path) -> dict[int, dict[str, str]]:
    return {int(r["id"]): r for r in _rows(_need(root / "ids" / "text_index.csv"))}


def embed(model: Any, root: Path, tasks: dict[tuple[str, str], list[BenchTask]], log: Log = print
          ) -> dict[tuple[str, str | None], dict[int, np.ndarray]]:
    """(modality, text level or None) -> id -> vector, for the ids the tasks name."""
    from catalog.decode import load_audio, load_image

    want: dict[tuple[str, str | None], set[int]] = {}
    for (task, level), ts in tasks.items():
        q, t = MODALITY[task[0]], MODALITY[task[2]]
        want.setdefault((q, level if q == "text" else None), set()).update(x.query for x in ts)
        want.setdefault((t, level if t == "text" else None), set()).update(i for x in ts for g in x.candidates for i in g)
    out: dict[tuple[str, str | None], dict[int, np.ndarray]] = {}
    texts = _texts(root) if any(m == "text" for m, _ in want) else {}
    paths = {m: _media(root, m) for m in ("audio", "image") if any(k == m for k, _ in want)}
    rate = model.cfg.audio.sample_rate if getattr(model.cfg, "audio", None) else None
    for (modality, text_level), ids in want.items():
        ids_s = sorted(i for i in ids if (modality == "text" and i in texts) or i in paths.get(modality, {}))
        log(f"embedding {len(ids_s)} {modality} items" + (f" ({text_level} names)" if text_level else ""))
        vecs: list[np.ndarray] = []
        for i in range(0, len(ids_s), 64):
            part = ids_s[i:i + 64]
            if modality == "audio":
                vecs.append(model.embed_audio([load_audio(paths["audio"][j], rate)[0] for j in part]))
            elif modality == "image":
                vecs.append(model.embed_image([load_image(paths["image"][j]) for j in part]))
            else:
                vecs.append(model.embed_text([texts[j][text_level or "species"] for j in part]))
        out[(modality, text_level)] = dict(zip(ids_s, np.concatenate(vecs))) if vecs else {}
    return out


def score(tasks: dict[tuple[str, str], list[BenchTask]], vectors: dict[tuple[str, str | None], dict[int, np.ndarray]],
          ks: Sequence[int] = KS) -> list[BenchRow]:
    """Top-k per (task, level) as the paper's evaluation counts it."""
    rows = []
    for (task, level), ts in tasks.items():
        q_mod, t_mod = MODALITY[task[0]], MODALITY[task[2]]
        qv = vectors.get((q_mod, level if q_mod == "text" else None), {})
        tv = vectors.get((t_mod, level if t_mod == "text" else None), {})
        hits = {k: 0 for k in ks}
        by_class: dict[str, list[bool]] = {}
        n = skipped = 0
        for t in ts:
            if t.correct not in t.taxa:
                skipped += 1
                continue
            q = qv.get(t.query)
            scores = np.array([max((float(tv[i] @ q) for i in g if i in tv), default=-np.inf) if q is not None
                               else -np.inf for g in t.candidates])
            at = t.taxa.index(t.correct)
            right = int((np.delete(scores, at) >= scores[at]).sum())  # candidates ranked at or above it
            n += 1
            for k in ks:
                hits[k] += right < k
            if t.taxon_class:
                by_class.setdefault(t.taxon_class, []).append(right < 1)
        rows.append(BenchRow(task, level, n, {k: hits[k] / n if n else float("nan") for k in ks}, skipped,
                             {c: float(np.mean(v)) for c, v in sorted(by_class.items())}))
    return rows


def run_biovita_bench(model: Any, root: Path, log: Log = print) -> dict[str, Any]:
    tasks = load_tasks(root)
    rows = score(tasks, embed(model, root, tasks, log))
    return {"bench_dir": str(root), "rows": [asdict(r) for r in rows]}


def markdown(data: dict[str, Any], model: str) -> str:
    from bench.results import pct, table

    rows = {(r["task"], r["level"]): r for r in data["rows"]}
    body = []
    for level in LEVELS:
        cells = []
        for task in TASKS:
            r = rows.get((task, level))
            top = {int(k): v for k, v in r["top"].items()} if r else {}
            cells.append(f"{pct(top[1])} / {pct(top[5])} ({r['n']})" if r else "–")
        body.append([level, *cells])
    return "\n".join([f"BioVITA Bench ({data['bench_dir']}), {model}: top-1 / top-5 (%) per task, tasks in brackets "
                      "(the paper's protocol: a candidate taxon scores its best item).", "",
                      table(["level", *TASKS], body)])
