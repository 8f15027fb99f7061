""""No good match": how high text that means nothing reaches in one index, per target; and how far
the hybrid ranking may trust the labelled neighbours of a query in this index.

Nonsense words still land somewhere in an embedding space, and their best cosine depends on the
model and the collection (the tiny model's text points sit close together; a CLIP-style space
spreads them). So each index is calibrated on its own: probe strings of random letters are
embedded with the index's model and searched like a query; the ceiling of "unrelated" is the best
score any of them reached plus half the spread (standard deviation) of their best scores, so that
one more nonsense word rarely clears it by chance. A text query that names nothing known and
whose best result does not clear that ceiling is answered with a "no good match" notice above its
results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from indexer.evidence import vote_reliability
from indexer.filters import Filter
from indexer.search.engine import VectorSearch
from indexer.search.request import GroupBy, Target

PROBES = 128
#: A stored calibration is redone once its collection's point count moved by more than this share.
STALE_SHARE = 0.2
_LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))


@dataclass(frozen=True)
class Calibration:
    points: int  # the collection's size when it was measured
    ceilings: dict[str, float]  # target -> the best score a probe reached
    probes: int = PROBES
    vote: dict[str, float] = field(default_factory=dict)  # modality -> how often the neighbour vote names the species

    def ceiling(self, target: Target) -> float | None:
        return self.ceilings.get(target.value)

    def stale(self, points: int) -> bool:
        return abs(points - self.points) > STALE_SHARE * max(self.points, 1)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Calibration | None:
        """What `to_json` stored; None when nothing (or something unreadable) was."""
        if not data:
            return None
        try:
            return cls(int(data["points"]), {str(k): float(v) for k, v in data["ceilings"].items()},
                       int(data.get("probes", PROBES)), {str(k): float(v) for k, v in data["vote"].items()})
        except (KeyError, TypeError, ValueError, AttributeError):
            return None


def probe_texts(n: int = PROBES, seed: int = 0) -> list[str]:
    """Strings of 4-10 random letters, the same for every index (seeded)."""
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(_LETTERS, size=int(rng.integers(4, 11)))) for _ in range(n)]


def calibrate(embed_text: Callable[[list[str]], np.ndarray], engine: VectorSearch, points: int,
              n: int = PROBES) -> Calibration:
    """Each probe searched against every target; the ceiling is the best score any probe reached
    plus half their spread. Beside it, per modality, the neighbour vote's reliability for the hybrid
    ranking (`indexer.evidence.vote_reliability`)."""
    vectors = embed_text(probe_texts(n))
    ceilings: dict[str, float] = {}
    for target in Target:
        best = [hits[0].score for v in vectors
                if (hits := engine.run(np.asarray(v), target, Filter(), 1, GroupBy.NONE))]
        if best:
            ceilings[target.value] = float(max(best) + 0.5 * np.std(best))
    vote = {m: r for m in ("audio", "image")
            if (r := vote_reliability(engine.store, engine.media_c, m)) is not None}
    return Calibration(points, ceilings, n, vote)
