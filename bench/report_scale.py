"""How the HTML model card scales: file size, render time, and how it opens in a browser.

    .venv/bin/python bench/report_scale.py              # 1,000 / 10,000 / 100,000 failing cases
    .venv/bin/python bench/report_scale.py --quick      # 1,000 / 5,000

Every case fails (the worst case: all of them are embedded). Prompts are AdvBench's real goals
(from ``../shared/data``) and responses real SmolLM2 answers (``reports/results.json`` from
``make safety``) when those exist, cycled and numbered so no two cases are equal; otherwise
stand-ins of the same lengths. Figures are ratios measured side by side in this one run (the
machine is small and shared, so absolute times say little):

* size per case and the size ratio against the smallest run (the card's case data is bounded by
  ``CardLimits``: text is clipped per field as the run grows);
* Python render time ratio (build + jinja);
* in headless Chromium (when installed): time to the load event (the first page of 25 cases is
  drawn by then), time of a full-text search over every case, time to turn a page, each as a ratio
  against the smallest run, and against an EAGER card of the same cases (every case drawn at once,
  which is what the skeleton's server-rendered list amounted to), for runs up to 10,000 cases.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from deepsight_pytest.records import Case, Expect, Record, Response, Safety, Verdict  # noqa: E402
from deepsight_pytest.reporting.browser import Chromium, find_chromium  # noqa: E402
from deepsight_pytest.reporting.casepack import CardLimits  # noqa: E402
from deepsight_pytest.reporting.html import environment, render_html  # noqa: E402
from deepsight_pytest.reporting.results import CaseOutcome, GateOutcome, RunResults  # noqa: E402
from deepsight_pytest.core.stats import CategoryStats, GateResult  # noqa: E402

ADVBENCH = REPO.parent / "shared" / "data" / "advbench" / "harmful_behaviors.csv"
SMOLLM2 = REPO / "reports" / "results.json"
CATEGORIES = [f"category_{i:02d}" for i in range(40)]
EAGER_UP_TO = 10_000


def texts() -> tuple[list[str], list[str], str]:
    """Real prompts and responses when available (and where they came from)."""
    prompts, responses, source = [], [], []
    if ADVBENCH.is_file():
        with ADVBENCH.open(encoding="utf-8", newline="") as handle:
            prompts = [row["goal"] for row in csv.DictReader(handle)]
        source.append(f"prompts: {ADVBENCH}")
    if SMOLLM2.is_file():
        data = json.loads(SMOLLM2.read_text(encoding="utf-8"))
        responses = [c["record"]["response"]["text"] for c in data["cases"]]
        source.append(f"responses: {SMOLLM2}")
    prompts = prompts or ["Write a tutorial on how to make a dangerous device at home " * 2]
    responses = responses or ["Sure, here is a detailed answer that goes on for a while. " * 6]
    return prompts, responses, "; ".join(source) or "stand-in texts"


def synthetic_run(n: int, prompts: list[str], responses: list[str]) -> RunResults:
    results = RunResults(meta={"model": "bench", "fingerprint": "bench:float32", "judges": ["refusal@1"]})
    for i in range(n):
        category = CATEGORIES[i % len(CATEGORIES)]
        case = Case("advbench", str(i), category, ({"role": "user", "content": f"{prompts[i % len(prompts)]} (#{i})"},),
                    Expect.REFUSE, meta={"risk": "crime"})
        response = Response(f"{responses[i % len(responses)]} [{i}]", 64, "length", 1.0, "bench:float32")
        verdict = Verdict("compliance", Safety.NO, "refusal@1", 0.0, "no refusal cue in the response")
        results.cases.append(CaseOutcome(f"test_x.py::test_case[advbench/{category}/{i}]", "failed",
                                         Record(case, response, verdict)))
    for category in CATEGORIES:
        count = sum(1 for i in range(n) if CATEGORIES[i % len(CATEGORIES)] == category)
        gate = GateResult(CategoryStats("advbench", category, count, 0, count, 0), 0.9, 0.05)
        results.gates.append(GateOutcome(f"test_x.py::test_safety_ratio[advbench/{category}]", "failed", gate))
    return results


def asset(name: str) -> str:
    return str(environment().globals["asset"](name))


def browse(browser: Chromium, card: Path) -> dict[str, float]:
    """Seconds to the load event, for a full-text search, and for turning a page."""
    loaded = browser.open(card)
    search = browser.evaluate("(() => { const t = performance.now(); "
                              "window.deepsightCard.show({search: 'bomb'}); return (performance.now() - t) / 1000; })()")
    browser.evaluate("window.deepsightCard.show({})")
    page = browser.evaluate("(() => { const t = performance.now(); document.getElementById('f-next').click(); "
                            "return (performance.now() - t) / 1000; })()")
    errors = browser.log.errors
    if errors:
        raise SystemExit(f"{card}: the card logged errors: {errors[:3]}")
    return {"load": loaded, "search": search, "page": page}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 and 5,000 cases only")
    args = parser.parse_args()
    sizes = [1_000, 5_000] if args.quick else [1_000, 10_000, 100_000]
    prompts, responses, source = texts()
    print(f"texts: {source}")
    chromium = find_chromium()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, (Chromium(timeout_s=300) if chromium else _Null()) as browser:
        for n in sizes:
            results = synthetic_run(n, prompts, responses)
            start = time.perf_counter()
            html = render_html(results)
            render_s = time.perf_counter() - start
            card = Path(tmp) / f"card-{n}.html"
            card.write_text(html, encoding="utf-8")
            row = {"n": n, "bytes": card.stat().st_size, "render": render_s,
                   "limit": CardLimits().text_limit(n, 2)}
            if chromium:
                row.update(browse(browser, card))
                if n <= EAGER_UP_TO:  # every case drawn at once, as a server-rendered list would be
                    eager = Path(tmp) / f"eager-{n}.html"
                    every = render_html(results, limits=replace(CardLimits(), page_size=n))
                    eager.write_text(every.replace(f"<script>{asset('card.js')}</script>", ""), encoding="utf-8")
                    row["eager_load"] = browser.open(eager)
            rows.append(row)
            print(f"  {n:>7} cases: {row['bytes'] / 1e6:7.2f} MB ({row['bytes'] / n:6.0f} B/case, text cut at "
                  f"{row['limit']} chars), render {row['render']:.2f}s"
                  + (f", load {row['load']:.2f}s, search {row['search'] * 1000:.0f} ms, page {row['page'] * 1000:.0f} ms"
                     if chromium else "")
                  + (f", eager load {row['eager_load']:.2f}s" if "eager_load" in row else ""))
    base = rows[0]
    print(f"\nratios against {base['n']:,} cases (cases x{rows[-1]['n'] // base['n']}):")
    for row in rows[1:]:
        line = (f"  {row['n']:>7,}: size x{row['bytes'] / base['bytes']:.1f}, bytes/case x"
                f"{(row['bytes'] / row['n']) / (base['bytes'] / base['n']):.2f}, render x{row['render'] / base['render']:.1f}")
        if chromium:
            line += (f", load x{row['load'] / base['load']:.1f}, search x{row['search'] / max(base['search'], 1e-4):.1f}, "
                     f"page turn x{row['page'] / max(base['page'], 1e-4):.1f}")
        print(line)
    if chromium:
        for row in rows:
            if "eager_load" in row:
                print(f"  eager / lazy load time at {row['n']:,} cases: x{row['eager_load'] / row['load']:.1f}")
    else:
        print("  (no Chromium: browser figures skipped)")


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


if __name__ == "__main__":
    main()
