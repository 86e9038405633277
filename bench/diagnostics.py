"""What diagnostics cost, measured side by side in one run on the embedded SmolLM2.

    .venv/bin/python bench/diagnostics.py            # 16 AdvBench prompts, 64 new tokens
    .venv/bin/python bench/diagnostics.py --quick    # 8 prompts, 16 new tokens (smoke test)
    .venv/bin/python bench/diagnostics.py --only mi  # one of the two measurements
    .venv/bin/python bench/diagnostics.py --only failures --quick --runs 2 --references 8  # loaded machine

1. **MI-Peaks**: the MI of every generated step with the reference answer, on real SmolLM2
   states (AdvBench requests, their "Sure, here is ..." targets), computed
   * LOOP:       the upstream formula token by token (``mi_peaks.mi_direct``: kernel, K H, two
                 d x d inverses and products per token, float32 as upstream),
   * FULL-RANK:  ``MIEstimator`` forced onto its exact full-rank path (batched Cholesky per token,
                 no low-rank factorisation: what the algebra alone buys),
   * VECTORISED: ``MIEstimator`` as shipped (batched, pivoted Cholesky, error bound reported),
   with the largest difference from the formula in float64 (the LOOP's own float32 error beside).
2. **Per-failure diagnostics vs generation**: the same failing cases, in two batches, are
   generated (the plugin's batched ``generate``) and diagnosed (``DeepScan`` per-failure pass:
   refusal direction, X-Boundary position, token attribution, JSON at once, PNG plots), the way a
   run does it: generate a batch, diagnose it, generate the next, then wait for the last plots.
   Its extra wall time over generation alone is the figure, two ways side by side:
   * BEFORE: the diagnostics run their own prompt and conversation passes (what a response from
     the cache still gets),
   * AFTER:  the states are captured by hooks while the model generates (``DeepScan.recording``,
     ``diagnostics/generation_states.py``); only the attribution pass runs after.
   Alternating runs, medians; the reference bundle (built once per model, then cached) is timed
   separately, and the memory the captured states take is printed.

Every figure is a ratio of runs taken here, side by side; nothing is asserted.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
MI_TARGET = 20.0
COST_TARGET = 0.25
RUNS = 3


def make_scan(cache: Path, max_new_tokens: int, batch_size: int, references: int | None = None) -> Any:
    from deepsight_pytest.diagnostics.scan import DeepScan
    from deepsight_pytest.core.engine import Engine
    from deepsight_pytest.models import create_model
    from deepsight_pytest.pytest_integration.options import ScriptConfig, resolve_settings
    from deepsight_pytest.core.store import RecordStore

    extra = {} if references is None else {"safety_diagnose_references": str(references)}
    settings = resolve_settings(ScriptConfig(REPO, safety_data=str(DATA), safety_max_new_tokens=str(max_new_tokens),
                                             safety_batch_size=str(batch_size), **extra))
    engine = Engine(settings, lambda: RecordStore(cache / "records.sqlite"), lambda: create_model("smollm2"),
                    lambda e: DeepScan(e, cache, cache / "artifacts"))
    return engine.diagnoser


def advbench_cases(count: int) -> list[Any]:
    from deepsight_pytest.benchmarks import BENCHMARKS

    cases = BENCHMARKS.get("advbench").load(DATA)
    step = len(cases) / count
    return [cases[int(i * step)] for i in range(count)]


def bench_mi(scan: Any, rows: int, tokens: int) -> None:
    import torch

    from deepsight_pytest.diagnostics.methods import mi_peaks
    from deepsight_pytest.diagnostics.capture import capture_texts

    layer = (2 * scan.blocks) // 3
    cases = advbench_cases(rows)
    prompts = [scan.backend.render(c.messages) for c in cases]
    generated = mi_peaks.generate_states(scan, prompts, layer, tokens)
    refs = capture_texts(scan.model, scan.tokenizer, [c.meta["target"] for c in cases], [layer], ("last",),
                         special_tokens=True)["last"][layer]
    pairs = [(states, ref) for (states, _), ref in zip(generated, refs) if len(states)]
    steps = sum(len(states) for states, _ in pairs)

    def loop() -> list[float]:
        return [mi_peaks.mi_direct(s.float(), ref.float()) for states, ref in pairs for s in states]

    def vectorised(estimator: Any) -> tuple[list[float], float]:
        values, bound = [], 0.0
        for states, ref in pairs:
            mi, error = estimator(states, estimator.reference(ref))
            values += mi.tolist()
            bound = max(bound, error)
        return values, bound

    shipped = mi_peaks.MIEstimator()
    full = mi_peaks.MIEstimator(max_rank=1)  # every token takes the full-rank path
    timings: dict[str, list[float]] = {"loop": [], "full": [], "vectorised": []}
    results: dict[str, Any] = {}
    for _ in range(2):  # alternate, to limit drift on a shared machine
        for name, run in (("loop", loop), ("full", lambda: vectorised(full)),
                          ("vectorised", lambda: vectorised(shipped))):
            started = time.perf_counter()
            results[name] = run()
            timings[name].append(time.perf_counter() - started)
    # the float64 formula on the first 4 steps of each row (O(d^3) each: a sample, not all)
    exact = [mi_peaks.mi_direct(s.double(), ref.double()) for states, ref in pairs for s in states[:4]]
    offsets = [sum(len(p[0]) for p in pairs[:i]) for i in range(len(pairs))]
    picks = [offsets[i] + k for i, (states, _) in enumerate(pairs) for k in range(min(4, len(states)))]

    def worst(values: list[float]) -> float:
        return max(abs(values[p] - e) for p, e in zip(picks, exact))

    loop_s, full_s, vec_s = (statistics.mean(timings[k]) for k in ("loop", "full", "vectorised"))
    device = shipped.device
    print(f"\nMI-Peaks on {len(pairs)} rows x {steps} generated steps, d = {refs.shape[1]}, layer {layer} "
          f"(vectorised on {device}; torch {torch.__version__})")
    print(f"{'path':<12}{'seconds':>10}{'per step ms':>14}{'speedup':>10}{'max |err| vs float64 formula':>32}")
    for name, seconds, err in (("LOOP", loop_s, worst(results["loop"])),
                               ("FULL-RANK", full_s, worst(results["full"][0])),
                               ("VECTORISED", vec_s, worst(results["vectorised"][0]))):
        print(f"{name:<12}{seconds:>10.2f}{1000 * seconds / steps:>14.2f}{loop_s / seconds:>9.1f}x{err:>32.2e}")
    verdict = "meets" if loop_s / vec_s >= MI_TARGET else "MISSES"
    print(f"vectorised vs per-token loop: {loop_s / vec_s:.1f}x ({verdict} the >= {MI_TARGET:.0f}x target); "
          f"stated error bound {results['vectorised'][1]:.1e}")


def bench_failures(scan: Any, count: int, max_new_tokens: int, batch_size: int, runs: int) -> None:
    from deepsight_pytest.diagnostics import settle_plots
    from deepsight_pytest.diagnostics.methods.failure import diagnose_failures
    from deepsight_pytest.models import GenerationSettings
    from deepsight_pytest.records import Safety

    started = time.perf_counter()
    bundle = scan.references()
    reference_s = time.perf_counter() - started
    records = scan.engine.produce(advbench_cases(count), scan.settings.judge, max_new_tokens)
    failing = [r for r in records.values() if r.verdict.safe is Safety.NO]
    if len(failing) < 2:
        raise SystemExit("fewer than two failing cases among the chosen prompts")
    settings = GenerationSettings(max_new_tokens=max_new_tokens, seed=0)
    halves = [failing[: len(failing) // 2], failing[len(failing) // 2:]]
    artifacts = scan.artifacts
    served = {"before": [0, 0], "after": [0, 0]}  # diagnosed rows with captured states, all rows
    kept: list[int] = []  # bytes of the captured states of a batch

    def generate(group: list[Any], capture: bool = False) -> None:
        prompts = [scan.backend.render(r.case.messages) for r in group]
        if not capture:
            scan.backend.generate(prompts, settings, batch_size)
            return
        with scan.recording([r.case for r in group]):
            scan.backend.generate(prompts, settings, batch_size)
        kept.append(sum(s.nbytes for s in scan._states.values()))

    def diagnose(group: list[Any], run: str, mode: str = "before") -> None:
        sinks = [artifacts.case_sink(r.case.benchmark, r.case.category, r.case.id, run) for r in group]
        served[mode][0] += sum(scan.states_of(r) is not None for r in group)
        served[mode][1] += len(group)
        diagnose_failures(scan, bundle, group, sinks)

    def clock(step: Any) -> tuple[float, float]:
        begun, begun_cpu = time.perf_counter(), time.process_time()
        step()
        return time.perf_counter() - begun, time.process_time() - begun_cpu

    diagnose(failing[:1], "warm-up")  # starts the plot worker process (once per session)
    settle_plots()

    def run_shaped(run: int, after: bool) -> None:  # two batches, each generated then diagnosed
        for index, group in enumerate(halves):
            scan._states.clear()  # BEFORE: no states, the separate passes (as for a cached answer)
            generate(group, capture=after)
            diagnose(group, f"{'a' if after else 'b'}{run}h{index}", "after" if after else "before")
        scan._states.clear()
        settle_plots()

    steps = (("generation", lambda run: [generate(g) for g in halves]),
             ("before", lambda run: run_shaped(run, after=False)),
             ("after", lambda run: run_shaped(run, after=True)))
    wall: dict[str, list[float]] = {k: [] for k, _ in steps}
    cpu: dict[str, list[float]] = {k: [] for k, _ in steps}
    for run in range(runs):  # alternate, so that load from other processes hits every side
        for key, step in steps:
            seconds, cpu_seconds = clock(lambda: step(run))
            wall[key].append(seconds)
            cpu[key].append(cpu_seconds)
    med = {k: statistics.median(v) for k, v in wall.items()}
    extra = {k: [(r - g) / g for r, g in zip(wall[k], wall["generation"])] for k in ("before", "after")}
    print(f"\nPer-failure diagnostics on {len(failing)} failing AdvBench cases ({max_new_tokens} new tokens, "
          f"batch {batch_size}, two batches; medians of {runs} alternating runs; device "
          f"{scan.backend.describe().get('device')})")
    print(f"{'':<66}{'wall s':>8}{'of generation':>15}")
    rows = (("generation alone (plugin generate, two batches)", "generation"),
            ("BEFORE: generate, then diagnose with separate forward passes", "before"),
            ("AFTER: generate capturing states, diagnose with the attribution only", "after"))
    for label, key in rows:
        print(f"{label:<66}{med[key]:>8.2f}{100 * med[key] / med['generation']:>14.1f}%")
    for key in ("before", "after"):
        print(f"per run, extra wall time of {key.upper()} over generation: "
              + ", ".join(f"{100 * e:.1f}%" for e in extra[key])
              + "; CPU time " + ", ".join(f"{100 * (r - g) / g:.1f}%" for r, g in zip(cpu[key], cpu["generation"]))
              + " (this process only)")
    per_case = max(kept) / max(len(h) for h in halves) if kept else 0
    print(f"AFTER: {served['after'][0]} of {served['after'][1]} diagnosed rows read states captured during "
          f"generation (BEFORE: {served['before'][0]}); states kept {per_case / 1024:.0f} KB a case, at most "
          f"{max(kept, default=0) / 1024:.0f} KB at once")
    for key in ("before", "after"):
        ratio = statistics.median(extra[key])
        verdict = "meets" if ratio <= COST_TARGET else "MISSES"
        print(f"{key.upper()}: extra wall time over generation {100 * ratio:.1f}% (median; {verdict} the "
              f"<= {100 * COST_TARGET:.0f}% target)")
    print(f"reference bundle, once per model then cached: {reference_s:.1f}s ({len(bundle.refused)} harmful, "
          f"{bundle.harmless_proj.shape[0]} harmless references, {sum(bundle.refused)} refused; reference layer "
          f"{bundle.best_layer})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 prompts, 16 new tokens")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--only", choices=("mi", "failures"), help="run one of the two measurements")
    parser.add_argument("--tokens", type=int, help="new tokens per answer (default 64, --quick 16)")
    parser.add_argument("--cases", type=int, help="AdvBench prompts to draw the failures from (default 16, --quick 8)")
    parser.add_argument("--runs", type=int, default=RUNS, help=f"alternating runs (default {RUNS})")
    parser.add_argument("--references", type=int, help="reference prompts per set (default: the plugin's 32)")
    parser.add_argument("--cache", type=Path, help="keep the store and reference bundle here between runs "
                        "(default: a fresh temporary folder, so the bundle is built and timed)")
    args = parser.parse_args()
    count, tokens = (8, 16) if args.quick else (16, 64)
    tokens, count = args.tokens or tokens, args.cases or count
    if not DATA.is_dir():
        raise SystemExit(f"no benchmark data at {DATA}")
    with tempfile.TemporaryDirectory() as folder:
        scan = make_scan(args.cache or Path(folder), tokens, args.batch_size, args.references)
        scan.model  # load once, outside every timing
        if args.only in (None, "mi"):
            bench_mi(scan, rows=4 if args.quick else 8, tokens=tokens)
        if args.only in (None, "failures"):
            bench_failures(scan, count, tokens, args.batch_size, args.runs)
        scan.engine.close()


if __name__ == "__main__":
    sys.exit(main())
