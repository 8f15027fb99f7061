"""The tiny checkpoint that ships in the package: the preset's architecture, small, and as good as
it was when `make tiny-checkpoint` made it; `vita demo` uses it instead of training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from encoders.config import EncoderConfig, get_config
from encoders.factory import VITA_CONFIG, VITA_WEIGHTS, create_encoder, load_vita
from encoders.pretrained import SCORES, install, shipped


def test_the_shipped_tiny_checkpoint_is_the_tiny_preset_in_fp16(tmp_path: Path) -> None:
    path = shipped("tiny")
    assert path is not None, "encoders/pretrained/tiny is missing: run `make tiny-checkpoint`"
    assert (path / VITA_WEIGHTS).stat().st_size < 20 * 2**20
    meta = json.loads((path / VITA_CONFIG).read_text())
    # the preset as it is now (fields added since the checkpoint was made read as their defaults)
    assert EncoderConfig.from_dict(meta["config"]).to_dict() == get_config("tiny").to_dict()
    with safe_open(str(path / VITA_WEIGHTS), "pt") as fh:
        dtypes = {fh.get_tensor(k).dtype for k in fh.keys()}  # noqa: SIM118  # safe_open has no iterator
    assert torch.float16 in dtypes
    assert torch.float32 not in dtypes
    model, fresh = load_vita(path), create_encoder("tiny", pretrained=False)
    ours, theirs = model.state_dict(), fresh.state_dict()
    assert ours.keys() == theirs.keys()
    assert all(ours[k].shape == theirs[k].shape and ours[k].dtype == theirs[k].dtype for k in ours)
    assert all(torch.isfinite(v).all() for v in ours.values() if v.is_floating_point())
    assert not all(torch.equal(ours[k], theirs[k]) for k in ours)  # trained, not the random init
    installed = install("tiny", tmp_path / "models")
    assert installed is not None
    for name in (VITA_CONFIG, VITA_WEIGHTS):  # byte for byte: the index key is a hash of these files
        assert (installed / name).read_bytes() == (path / name).read_bytes()


@pytest.mark.slow
def test_the_shipped_tiny_checkpoint_still_scores_what_it_shipped_with(tmp_path: Path) -> None:
    from tests.support import small_world
    from training.evaluate import a2t_report

    path = shipped("tiny")
    assert path is not None
    recorded = {(r["split"], r["template"]): r for r in json.loads((path / SCORES).read_text())["a2t"]}
    cat, _, _ = small_world(tmp_path)
    try:
        rows = a2t_report(cat, path)
    finally:
        cat.close()
    assert {(r.split, r.template) for r in rows} == set(recorded)
    for r in rows:
        want = recorded[(r.split, r.template)]
        assert r.n == want["n"]
        assert r.top1 == pytest.approx(want["top1"], abs=0.02)
        assert r.top5 == pytest.approx(want["top5"], abs=0.02)
    seen = next(r for r in rows if r.split == "test-seen" and r.template == "tax+com")
    assert seen.top5 > 5 * 5 * seen.chance_top1  # far above chance on species it was trained on
