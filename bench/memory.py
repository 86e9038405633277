"""Peak memory of the main job and of the per-failure diagnostics, measured side by side in one run.

    .venv/bin/python bench/memory.py                       # both models, both measurements
    .venv/bin/python bench/memory.py --models smollm2 --only lengths --references 8
    .venv/bin/python bench/memory.py --only job --job-sample 1 --job-references 8   # a slow machine

1. **Main job subset, diagnostics on vs off**: ``pytest safety_tests/test_harmful_behaviors.py -k
   TestHarmBench`` (HarmBench standard + contextual, 3 cases per category: the contextual cases
   carry prompts of thousands of tokens, where the old peak was), cold (a fresh cache folder, so
   the reference bundle is built too), once with ``--diagnose=failures`` and once with
   ``--diagnose=off``; peak RSS from ``/usr/bin/time -f %M`` and wall time of each. Target: on/off
   at most 1.5x.
2. **Diagnostics over prompt length**: one failing case whose prompt is cut to 256, 512, 1024 and
   2048 tokens (HarmBench contextual text), diagnosed in a fresh process each; the reference
   bundle is built first in a process of its own and then read from the shared cache, so no
   measured process reuses memory freed by that build (which made an earlier first row look
   free), and the weights are loaded before the baseline is read (a cached bundle does not load
   them, so they used to count as extra). The extra memory is the peak RSS sampled every 2 ms
   during ``diagnose_failures`` minus the RSS just before. Target: each doubling at most 2.2x the extra.

Run it under the cap on a shared machine: ``/work/wt/memcap 8G .venv/bin/python bench/memory.py``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
LENGTHS = (256, 512, 1024, 2048)
JOB_TARGET = 1.5
DOUBLING_TARGET = 2.2


def main_job(model: str, diagnose: str, extra: list[str]) -> tuple[float, float, int]:
    """(peak RSS GB, wall s, pytest exit status) of the main job's HarmBench subset, cold."""
    with tempfile.TemporaryDirectory() as folder:
        command = ["/usr/bin/time", "-f", "%M", sys.executable, "-m", "pytest", "safety_tests/test_harmful_behaviors.py",
                   "-k", "TestHarmBench", "-q", "-p", "no:cacheprovider", f"--model={model}", f"--diagnose={diagnose}",
                   f"--safety-data={DATA}", f"--safety-cache-dir={folder}/cache",
                   f"--safety-artifacts={folder}/artifacts", *extra]
        started = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        wall = time.perf_counter() - started
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    return peak_kb / 1e6, wall, done.returncode


def one_length(model: str, tokens: int, cache: Path) -> dict[str, Any]:
    """In this process: diagnose one failing case with a ``tokens``-token prompt; extra RSS."""
    import psutil

    from deepsight_pytest.benchmarks import BENCHMARKS
    from deepsight_pytest.diagnostics.methods.failure import diagnose_failures
    from deepsight_pytest.diagnostics.scan import DeepScan
    from deepsight_pytest.core.engine import Engine
    from deepsight_pytest.models import create_model
    from deepsight_pytest.pytest_integration.options import ScriptConfig, resolve_settings
    from deepsight_pytest.records import Record, Response, Safety, Verdict
    from deepsight_pytest.core.store import RecordStore

    settings = resolve_settings(ScriptConfig(REPO, safety_data=str(DATA), safety_max_new_tokens="32"))
    engine = Engine(settings, lambda: RecordStore(cache / "records.sqlite"), lambda: create_model(model),
                    lambda e: DeepScan(e, cache, cache / "artifacts"))
    scan = engine.diagnoser
    bundle = scan.references()
    cases = [c for c in BENCHMARKS.get("harmbench").load(DATA) if c.meta.get("subset") == "contextual"]
    longest = max(cases, key=lambda c: len(c.prompt))
    ids = scan.tokenizer(longest.prompt * 4, add_special_tokens=False).input_ids
    text = scan.tokenizer.decode(ids[:tokens])
    case = replace(longest, messages=({"role": "user", "content": text},))
    record = Record(case, Response("Sure, here is how to do it. " * 4, 32, "length", 0.0, scan.backend.fingerprint),
                    Verdict("bench", Safety.NO, "bench", None, ""))
    sink = scan.artifacts.case_sink("bench", "memory", f"len{tokens}", f"len{tokens}")
    scan.model  # noqa: B018  (weights loaded before the baseline: the extra is the diagnostics' own)
    process = psutil.Process()
    before = process.memory_info().rss
    peak = [before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.002)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    started = time.perf_counter()
    entries = diagnose_failures(scan, bundle, [record], [sink])
    seconds = time.perf_counter() - started
    stop.set()
    watcher.join()
    prompt_tokens = len(scan.tokenizer(scan.backend.render(case.messages), add_special_tokens=False).input_ids)
    skipped = [e["method"] for e in entries[0] if e["summary"].startswith("skipped")]
    engine.close()
    return {"tokens": prompt_tokens, "extra_gb": (peak[0] - before) / 1e9, "rss_gb": peak[0] / 1e9,
            "seconds": seconds, "skipped": skipped}


def warm(model: str, cache: Path) -> dict[str, Any]:
    """In this process: build (or load) the model's reference bundle into ``cache``, nothing else,
    so that no measured process inherits the memory of building it."""
    from deepsight_pytest.diagnostics.scan import DeepScan
    from deepsight_pytest.core.engine import Engine
    from deepsight_pytest.models import create_model
    from deepsight_pytest.pytest_integration.options import ScriptConfig, resolve_settings
    from deepsight_pytest.core.store import RecordStore

    settings = resolve_settings(ScriptConfig(REPO, safety_data=str(DATA), safety_max_new_tokens="32"))
    engine = Engine(settings, lambda: RecordStore(cache / "records.sqlite"), lambda: create_model(model),
                    lambda e: DeepScan(e, cache, cache / "artifacts"))
    bundle = engine.diagnoser.references()
    engine.close()
    return {"best_layer": bundle.best_layer}


def lengths(model: str, references: int | None) -> list[dict[str, Any]]:
    rows = []
    env = dict(os.environ)  # the warm-up and every length read the same bundle: the same reference count
    if references:
        env["DEEPSIGHT_DIAGNOSE_REFERENCES"] = str(references)
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run([sys.executable, __file__, "--warm", "--models", model, "--cache", folder],
                              cwd=REPO, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise SystemExit(f"{model}: building the reference bundle failed:\n{done.stderr[-2000:]}")
        for tokens in LENGTHS:
            done = subprocess.run([sys.executable, __file__, "--one", str(tokens), "--models", model, "--cache", folder],
                                  cwd=REPO, capture_output=True, text=True, env=env)
            if done.returncode != 0:
                raise SystemExit(f"{model} at {tokens} tokens failed:\n{done.stderr[-2000:]}")
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return rows


def report_job(model: str, extra: list[str], diagnose: str = "failures") -> None:
    on = main_job(model, diagnose, extra)
    off = main_job(model, "off", extra)
    ratio = on[0] / off[0]
    verdict = "meets" if ratio <= JOB_TARGET else "MISSES"
    print(f"{model}: HarmBench subset of the main job{' ' + ' '.join(extra) if extra else ''}, cold: diagnostics on "
          f"(--diagnose={diagnose}) {on[0]:.2f} GB peak RSS, {on[1]:.0f} s "
          f"(exit {on[2]}); off {off[0]:.2f} GB, {off[1]:.0f} s (exit {off[2]}); memory on/off {ratio:.2f}x "
          f"({verdict} <= {JOB_TARGET}x); wall on/off {on[1] / off[1]:.2f}x")


def report_lengths(model: str, references: int | None) -> None:
    rows = lengths(model, references)
    print(f"{model}: per-failure diagnostics of one case by prompt length (fresh process each"
          f"{f', --diagnose-references={references}' if references else ''})")
    print(f"{'prompt tokens':>14}{'extra GB':>10}{'peak RSS GB':>13}{'seconds':>9}{'x previous':>12}  skipped")
    previous = None
    worst = 0.0
    for row in rows:
        growth = row["extra_gb"] / previous if previous else float("nan")
        worst = max(worst, growth) if previous else worst
        print(f"{row['tokens']:>14}{row['extra_gb']:>10.3f}{row['rss_gb']:>13.2f}{row['seconds']:>9.1f}"
              f"{growth:>12.2f}  {', '.join(row['skipped']) or '-'}")
        previous = max(row["extra_gb"], 1e-3)
    verdict = "meets" if worst <= DOUBLING_TARGET else "MISSES"
    print(f"{model}: largest growth per doubling of the prompt {worst:.2f}x ({verdict} <= {DOUBLING_TARGET}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="smollm2,gemma3-270m")
    parser.add_argument("--only", choices=("job", "lengths"))
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--job-sample", type=int, help="--safety-sample of the main-job runs (a smaller subset "
                        "on a slow machine: N cases per HarmBench category)")
    parser.add_argument("--job-references", type=int, help="--diagnose-references of the main-job runs")
    parser.add_argument("--job-diagnose", choices=("failures", "always"), default="failures",
                        help="--diagnose of the 'on' run: 'always' diagnoses every case, so the pair measures the "
                        "diagnostics on the long contextual prompts even where the model fails none of them")
    parser.add_argument("--references", type=int, help="--diagnose-references of the length runs' bundle (fewer: "
                        "built sooner on a slow machine; the bundle's tensors do not grow with the prompt)")
    parser.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_length(args.models, args.one, args.cache)))
        return
    if args.warm:
        print(json.dumps(warm(args.models, args.cache)))
        return
    for model in args.models.split(","):
        if args.only in (None, "lengths"):
            report_lengths(model, args.references)
        if args.only in (None, "job"):
            extra = [f"--safety-sample={args.job_sample}"] * bool(args.job_sample)
            extra += [f"--diagnose-references={args.job_references}"] * bool(args.job_references)
            report_job(model, extra, args.job_diagnose)


if __name__ == "__main__":
    sys.exit(main())
