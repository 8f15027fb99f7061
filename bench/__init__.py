"""Benchmarks: what `vita bench <suite>` measures, each suite writing JSON, Markdown and PNGs.

- retrieval: BioVITA Bench (6 directions x species/genus/family x seen/unseen, 100-way)
- zeroshot:  AnimalCLAP's unseen-species classification per prompt type, and the prompt ablation
- traits:    per-trait accuracy / F1 of the probes on unseen species beside a majority baseline
- speed:     indexing throughput, query latency and recall, memory per million points
"""

from enum import Enum


class Suite(str, Enum):
    RETRIEVAL = "retrieval"
    ZEROSHOT = "zeroshot"
    TRAITS = "traits"
    SPEED = "speed"
    REAL = "real"  # real animal media (bench.real); not part of `all`, which is the demo world's suites
    ALL = "all"
