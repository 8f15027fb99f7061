"""Benchmarks: what `vita bench <suite>` measures, each suite writing JSON, Markdown and PNGs.

- retrieval: BioVITA Bench (6 directions x species/genus/family x seen/unseen, 100-way)
- zeroshot:  AnimalCLAP's unseen-species classification per prompt type, and the prompt ablation
- traits:    per-trait accuracy / F1 of the probes on unseen species beside a majority baseline
- speed:     indexing throughput, query latency and recall, memory per million points
- real:      real animal media (GCompris), precision and identification
- ann:       nearest-neighbour recall/latency beside faiss and usearch on the same vectors
"""

from enum import Enum


class Suite(str, Enum):
    RETRIEVAL = "retrieval"
    ZEROSHOT = "zeroshot"
    TRAITS = "traits"
    SPEED = "speed"
    REAL = "real"  # real animal media (bench.real); not part of `all`, which is the demo world's suites
    ANN = "ann"  # nearest-neighbour search beside faiss and usearch (bench.ann); needs no catalog, not in `all`
    ALL = "all"
