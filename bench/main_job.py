"""The main job's total wall time over its generation time, cold, measured side by side in one run.

    PYTHONPATH=$PWD .venv/bin/python bench/main_job.py                   # make safety's suites, on and off
    PYTHONPATH=$PWD .venv/bin/python bench/main_job.py --subset advbench --references 8 --sample 8
    PYTHONPATH=$PWD .venv/bin/python bench/main_job.py --select "safety_tests/test_over_refusal.py -k XSTest" \
        --sample 2 --model gemma3-270m --variants after,before,off

Each variant runs ``pytest safety_tests`` (``make safety``'s command; ``--subset advbench``: only
``test_harmful_behaviors.py -k TestAdvBench``, 16 cases; ``--select``: any pytest arguments, shell
quoted, that pick files, classes or ``-k`` expressions) in a fresh process with a fresh cache
folder, so everything is generated, judged and diagnosed (the reference bundle is built too):

* AFTER:  ``--diagnose=failures`` as shipped (states captured during generation);
* BEFORE: the same with ``-p separate_passes`` (the diagnostics' own prompt and conversation passes);
* OFF:    ``--diagnose=off``.

Printed per variant: wall time and peak RSS of the pytest process, the engine's ``generation_s``
(every generate call: the suites' cases and, with diagnostics on, the reference prompts),
``startup_s`` (loading weights) and ``diagnostics_s``; the figures are wall / generation_s (target
at most 1.6x with diagnostics on) and, with OFF in the run, wall and peak RSS of AFTER (and BEFORE)
over OFF: what switching diagnostics on costs the same cases. Variants alternate over ``--runs``;
medians.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
TARGET = 1.6
MEMORY_TARGET = 1.5
SUBSETS = {"all": ["safety_tests"],
           "advbench": ["safety_tests/test_harmful_behaviors.py", "-k", "TestAdvBench"]}
VARIANTS = {"after": ["--diagnose=failures"], "before": ["--diagnose=failures", "-p", "separate_passes"],
            "off": ["--diagnose=off"]}


def run(selection: list[str], model: str, variant: str, references: int | None,
        sample: int | None) -> dict[str, float]:
    """One cold pytest process of ``variant``: its wall time, peak RSS (GB) and the engine's timings."""
    with tempfile.TemporaryDirectory() as folder:
        extra = [] if references is None else [f"--diagnose-references={references}"]
        extra += [] if sample is None else [f"--safety-sample={sample}"]
        command = ["/usr/bin/time", "-f", "%M", "-o", f"{folder}/peak_kb", sys.executable, "-m", "pytest", *selection,
                   "-q", "-p", "no:cacheprovider", f"--model={model}", "--safety-text-only", *VARIANTS[variant], *extra, f"--safety-data={DATA}", f"--safety-cache-dir={folder}/cache",
                   f"--safety-artifacts={folder}/artifacts", f"--safety-json={folder}/results.json"]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "bench"),
                                                            os.environ.get("PYTHONPATH", "")])}
        started = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - started
        if done.returncode > 1:
            raise SystemExit(f"{variant}: pytest exit status {done.returncode}\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        engine = json.loads(Path(folder, "results.json").read_text())["engine"]
        peak = int(Path(folder, "peak_kb").read_text().split()[-1]) / 1e6
    return {"wall": wall, "peak": peak, "generation": engine["generation_s"], "startup": engine["startup_s"],
            "diagnostics": engine["diagnostics_s"], "generated": engine["generated"], "diagnosed": engine["diagnosed"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subset", choices=sorted(SUBSETS), default="all")
    parser.add_argument("--select", help="pytest arguments that pick the tests, shell quoted (instead of --subset), "
                        "e.g. \"safety_tests/test_harmful_behaviors.py -k 'AdvBench or HarmBench'\"")
    parser.add_argument("--model", default="smollm2", help="--model of every variant (default smollm2)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--variants", default="after,off", help="comma-separated, of " + ", ".join(VARIANTS))
    parser.add_argument("--references", type=int, help="--diagnose-references (default: the plugin's 32)")
    parser.add_argument("--sample", type=int, help="--safety-sample (default: each suite's own)")
    args = parser.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown or not variants:
        parser.error(f"--variants: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(VARIANTS)}")
    selection = shlex.split(args.select) if args.select else SUBSETS[args.subset]
    results: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    for _ in range(args.runs):  # alternate, so that load from other processes hits every variant
        for variant in variants:
            results[variant].append(run(selection, args.model, variant, args.references, args.sample))
    print(f"\nMain job ({shlex.join(selection)}), cold, --model={args.model}; medians of {args.runs} run(s)")
    print(f"{'variant':<10}{'wall s':>9}{'peak GB':>9}{'generation s':>14}{'start-up s':>12}{'diagnostics s':>15}"
          f"{'generated':>11}{'diagnosed':>11}{'wall/generation':>17}")
    for variant, rows in results.items():
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        ratio = statistics.median(r["wall"] / r["generation"] for r in rows)
        print(f"{variant.upper():<10}{med['wall']:>9.1f}{med['peak']:>9.2f}{med['generation']:>14.1f}"
              f"{med['startup']:>12.1f}{med['diagnostics']:>15.1f}{med['generated']:>11.0f}{med['diagnosed']:>11.0f}"
              f"{ratio:>16.2f}x")
    for variant in (v for v in ("after", "before") if v in results):
        ratio = statistics.median(r["wall"] / r["generation"] for r in results[variant])
        print(f"{variant.upper()}: wall / generation {ratio:.2f}x ({'meets' if ratio <= TARGET else 'MISSES'} the "
              f"<= {TARGET}x target)")
        if "off" in results:  # run i of each variant ran beside run i of OFF: pair them
            pairs = list(zip(results[variant], results["off"]))
            wall = statistics.median(on["wall"] / off["wall"] for on, off in pairs)
            peak = statistics.median(on["peak"] / off["peak"] for on, off in pairs)
            print(f"{variant.upper()} / OFF: wall {wall:.2f}x, peak RSS {peak:.2f}x "
                  f"({'meets' if peak <= MEMORY_TARGET else 'MISSES'} the <= {MEMORY_TARGET}x memory target)")


if __name__ == "__main__":
    sys.exit(main())
