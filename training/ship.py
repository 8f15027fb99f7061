"""Make the shipped tiny checkpoint from a trained one: `python -m training.ship <model dir>`.

`make tiny-checkpoint` runs the whole chain (ingest the default demo world into a scratch data dir,
`vita train --preset tiny`, then this). It writes fp16 weights and the config to
`encoders/pretrained/tiny/`, and the A2T scores of the result on a freshly built small demo world
(`scores.json`), which the tests check the shipped checkpoint still reaches.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import asdict
from pathlib import Path

from safetensors.torch import load_file, save_file

from catalog.facade import Catalog
from catalog.sources.demo import DemoWorldSource
from encoders.factory import VITA_CONFIG, VITA_WEIGHTS
from encoders.pretrained import ROOT, SCORES


def half(src: Path, dst: Path) -> Path:
    """The checkpoint with fp16 floats (the config as it is)."""
    dst.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in load_file(str(src / VITA_WEIGHTS)).items()}
    save_file(state, str(dst / VITA_WEIGHTS))
    (dst / VITA_CONFIG).write_text((src / VITA_CONFIG).read_text())
    return dst


def small_world_scores(checkpoint: Path) -> list[dict[str, object]]:
    """A2T of this checkpoint on the small demo world (seed 0), built in a scratch directory."""
    from training.evaluate import a2t_report

    with tempfile.TemporaryDirectory(prefix="vita-ship-") as tmp:
        cat = Catalog(f"sqlite:///{tmp}/catalog.sqlite")
        try:
            report = cat.ingest(DemoWorldSource(Path(tmp) / "media", "small"))
            if report.failed:
                raise RuntimeError(f"the small demo world failed to build ({report.failed} failures)")
            return [asdict(r) for r in a2t_report(cat, checkpoint)]
        finally:
            cat.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path, help="a trained tiny checkpoint (<data>/models/tiny)")
    ap.add_argument("--out", type=Path, default=ROOT / "tiny")
    args = ap.parse_args()
    out = half(args.model, args.out)
    scores = small_world_scores(out)
    (out / SCORES).write_text(json.dumps({"world": "demo small, seed 0 (synthetic media)", "a2t": scores}, indent=1))
    size = (out / VITA_WEIGHTS).stat().st_size
    print(f"{out}: {size / 2**20:.1f} MiB of fp16 weights; A2T on the small world:")
    for r in scores:
        print(f"  {r['split']:12} {r['template']:8} top-1 {r['top1']:.3f} top-5 {r['top5']:.3f}")


if __name__ == "__main__":
    main()
