"""Trait probes learn linearly decodable traits and beat the majority class; save/load round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from catalog.traits import BY_KEY
from training.probes import TraitProbes, fit_probes, targets


def synthetic(n: int, rng: np.random.Generator) -> tuple[np.ndarray, list[dict[tuple[str, str], bool]]]:
    x = rng.standard_normal((n, 16)).astype(np.float32)
    facts = []
    for row in x:
        act = "nocturnal" if row[0] > 0.3 else "diurnal" if row[0] < -0.3 else "crepuscular"
        f = {("activity", lab): lab == act for lab in BY_KEY["activity"].labels}
        f[("habitat", "wetland")] = bool(row[1] > 0)
        f[("habitat", "forest")] = bool(row[2] > 0.5)
        f[("trophic", "predator")] = bool(row[3] + row[4] > 0)
        facts.append(f)
    return x, facts


def test_probes_learn_traits_and_beat_the_majority(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x, facts = synthetic(600, rng)
    xt, ft = synthetic(300, rng)
    result = fit_probes(x, facts)
    assert result.losses[-1] < 0.5 * result.losses[0]
    pred = result.probes.predict(xt)
    y, _ = targets(ft)["activity"]
    labels = BY_KEY["activity"].labels
    acc = np.mean([labels.index(p["activity"][0][0]) == t for p, t in zip(pred, y)])
    majority = np.bincount(y).max() / len(y)
    assert acc > 0.85
    assert acc > majority + 0.3
    wet = np.array([dict(p["habitat"])["wetland"] > 0.5 for p in pred])
    truth = np.array([f[("habitat", "wetland")] for f in ft])
    assert (wet == truth).mean() > 0.9
    # a label never seen (unknown everywhere) does not break training or prediction
    assert set(dict(pred[0]["climate"])) == set(BY_KEY["climate"].labels)
    result.probes.save(tmp_path / "p", {"preset": "tiny"})
    again = TraitProbes.load(tmp_path / "p")
    assert again.predict(xt[:3]) == result.probes.predict(xt[:3])
