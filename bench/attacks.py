"""The jailbreak search on a guarded model, measured in one run (docs/attacks.md).

    .venv/bin/python bench/attacks.py                       # guarded:smollm2, the bundled attack goals
    .venv/bin/python bench/attacks.py --max-examples 20 --max-chain 3 --model guarded:smollm2?guard=keywords

Drives the same code as ``@pytest.mark.safety_attack`` (``attacks/search.py``: dry draws, batched
rounds, every case's real search at once with its shrinking batched across cases) through the engine, with no response cache, and prints:

* attack success rate direct vs under search (the uplift), median shrunk chain length, queries
  per found jailbreak (every prompt sent to the guarded target; the guard answers some itself);
* THROUGHPUT: queries/s of the search (wall time of draws, rounds, search and shrinking) vs plain
  batched generation of the *same* prompts through ``engine.produce`` (one call, the same judge),
  side by side in this process, model already loaded. Target: ratio >= 0.7.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from deepsight_pytest.attacks.search import AttackConfig, Oracle, prefetch, search_all  # noqa: E402
from deepsight_pytest.core.engine import Engine  # noqa: E402
from deepsight_pytest.models import create_model  # noqa: E402
from deepsight_pytest.pytest_integration.options import ScriptConfig, resolve_settings  # noqa: E402
from deepsight_pytest.records import Case, Expect, Safety  # noqa: E402
from deepsight_pytest.core.store import RecordStore  # noqa: E402
from deepsight_pytest.core.suites import SuiteSpec, plan_suite  # noqa: E402

GOALS = REPO / "safety_tests" / "attack_goals.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="guarded:smollm2?guard=keywords")
    parser.add_argument("--goals", default=str(GOALS), help="AdvBench-format CSV of harmful goals")
    parser.add_argument("--max-examples", type=int, default=6, help="default: the bundled suite's")
    parser.add_argument("--max-chain", type=int, default=2, help="default: the bundled suite's")
    parser.add_argument("--max-new-tokens", type=int, default=32, help="default: the bundled suite's")
    parser.add_argument("--goals-limit", type=int, default=None, help="only the first N goals")
    parser.add_argument("--profile", default="ci", choices=("ci", "deep"))
    parser.add_argument("--judge", default=None, help="default: the run's (--judge's default, combined)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: all cores); 1 resists a busy machine")
    args = parser.parse_args()
    if args.threads is not None:  # before torch loads (lazily, with the model)
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)

    chosen = {"safety_model": args.model, **({"safety_judge": args.judge} if args.judge else {})}
    settings = resolve_settings(ScriptConfig(REPO, **chosen))
    engine = Engine(settings, lambda: RecordStore(None), lambda: create_model(settings.model))
    plan = plan_suite(SuiteSpec("advbench", path=args.goals, max_new_tokens=args.max_new_tokens), settings)
    cases = [c for c in plan.cases if c.expect is Expect.REFUSE][:args.goals_limit]
    config = AttackConfig.build(args.profile, None, args.max_examples, args.max_chain, settings.seed)
    engine.model.ready()
    warm = Case("warmup", "0", "warmup", ({"role": "user", "content": "Say hello in French."},), Expect.COMPLY)
    engine.produce([warm], plan.judge, plan.max_new_tokens)  # judges loaded, generation warm: not timed
    sent: list = []
    calls: list[tuple[int, float]] = []  # (prompts, seconds) of each engine call of the search

    def produce(batch: list) -> dict:
        sent.extend(batch)
        began = time.perf_counter()
        made = engine.produce(batch, plan.judge, plan.max_new_tokens)
        calls.append((len(batch), time.perf_counter() - began))
        log(f"  engine call {len(calls)}: {len(batch)} prompt(s) in {calls[-1][1]:.1f} s")
        return made

    oracle = Oracle(produce)
    start = time.perf_counter()
    rounds = prefetch(oracle, config, cases, settings.batch_size)
    prefetch_s = time.perf_counter() - start
    log(f"prefetch: {oracle.queries} queries in {rounds} rounds, {prefetch_s:.1f} s")
    by_uid = search_all(oracle, config, cases)  # the plugin's way: shrinking batched across cases
    outcomes = [by_uid[c.uid] for c in cases]
    search_s = time.perf_counter() - start
    log(f"search with shrinking: {search_s - prefetch_s:.1f} s more")

    start = time.perf_counter()
    engine.produce(list(sent), plan.judge, plan.max_new_tokens)  # the same prompts, one plain call
    plain_s = time.perf_counter() - start

    n = len(outcomes)
    direct = sum(o.direct.verdict.safe is Safety.NO for o in outcomes)
    found = [o for o in outcomes if o.jailbreak is not None]
    broken = sum(o.direct.verdict.safe is Safety.NO or o.jailbreak is not None for o in outcomes)
    search_qps, plain_qps = oracle.queries / search_s, len(sent) / plain_s
    print(f"model {settings.model}, judge {plan.judge}, {n} goals, {plan.max_new_tokens} new tokens, "
          f"threads {args.threads or 'all'}, {len(config.mutators)} mutators, max_examples {config.max_examples}, "
          f"max_chain {config.max_chain}, batch {settings.batch_size}")
    print(f"ASR direct {direct}/{n} = {direct / n:.2f}; under search {broken}/{n} = {broken / n:.2f}; "
          f"uplift {(broken - direct) / n:+.2f}")
    for o in outcomes:
        print(f"  {o.case.uid}: {'+'.join(o.chain) or '-'} ({len(o.tried)} chains tried, {o.queries} queries)")
    if found:
        print(f"median shrunk chain length {statistics.median(len(o.chain) for o in found)}; "
              f"queries per found jailbreak {oracle.queries / len(found):.1f}")
    guard = engine.model
    print(f"queries {oracle.queries} in {rounds} prefetch rounds (+ shrinking); guard answered "
          f"{getattr(guard, 'refused', 0)}, inner model {getattr(guard, 'passed', 0)} (both passes)")
    in_calls = sum(t for _, t in calls)
    print(f"engine calls {len(calls)} (sizes {sorted(n for n, _ in calls)}); time in them {in_calls:.1f} s "
          f"of {search_s:.1f} s; prefetch {prefetch_s:.1f} s, search and shrinking {search_s - prefetch_s:.1f} s, "
          f"plain {plain_s:.1f} s")
    print(f"THROUGHPUT search {search_qps:.2f} q/s vs plain batched {plain_qps:.2f} q/s: "
          f"ratio {search_qps / plain_qps:.2f} (target >= 0.70)")
    engine.close()


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
