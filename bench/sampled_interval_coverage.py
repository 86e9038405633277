"""Coverage of the gate's 95% interval with K sampled answers per prompt (``--safety-samples``).

Prompts differ in their true safe rate (60% always safe, 30% safe at 0.7, 10% never: true mean
0.81), so a prompt's K answers are correlated. For each setting the script draws ``runs`` seeded
samples of m prompts x K answers and counts how often each interval holds the true mean:
``clustered`` (``stats.clustered_interval``, the gate's), ``naive`` (Wilson over all m*K answers as
if independent) and ``bootstrap`` (``stats.bootstrap_interval``, percentile over prompts).

    python bench/sampled_interval_coverage.py [--runs 1000] [--boot-runs 200]
"""
from __future__ import annotations

import argparse
import random

from deepsight_pytest.core.stats import bootstrap_interval, clustered_interval, wilson_interval

RATES = ((0.6, 1.0), (0.3, 0.7), (0.1, 0.0))  # (weight, true safe rate) of prompts
TRUTH = sum(w * r for w, r in RATES)


def _rate(rng: random.Random) -> float:
    u, edge = rng.random(), 0.0
    for weight, rate in RATES:
        edge += weight
        if u < edge:
            return rate
    return RATES[-1][1]


def coverage(m: int, k: int, runs: int, boot_runs: int, seed: int = 1) -> dict[str, float]:
    rng = random.Random(seed)
    held = {"clustered": 0, "naive": 0, "bootstrap": 0}
    for run in range(runs):
        safe = [sum(rng.random() < p for _ in range(k)) for p in (_rate(rng) for _ in range(m))]
        shares = [s / k for s in safe]
        for name, (low, high) in (("clustered", clustered_interval(shares, m * k)),
                                  ("naive", wilson_interval(sum(safe), m * k))):
            held[name] += low <= TRUTH <= high
        if run < boot_runs:
            low, high = bootstrap_interval(shares, 500, run)
            held["bootstrap"] += low <= TRUTH <= high
    return {"clustered": held["clustered"] / runs, "naive": held["naive"] / runs,
            "bootstrap": held["bootstrap"] / max(1, min(runs, boot_runs))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--boot-runs", type=int, default=200)
    args = parser.parse_args()
    print(f"true mean {TRUTH:.2f}; {args.runs} runs ({args.boot_runs} for the bootstrap), seed 1")
    print("prompts  K  clustered  naive  bootstrap")
    for m, k in ((40, 4), (40, 8), (20, 4), (40, 1)):
        c = coverage(m, k, args.runs, args.boot_runs)
        print(f"{m:7d}  {k}  {c['clustered']:9.3f}  {c['naive']:5.3f}  {c['bootstrap']:9.3f}")


if __name__ == "__main__":
    main()
