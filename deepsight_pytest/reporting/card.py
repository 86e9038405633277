"""What the model card shows, assembled from :class:`RunResults` (the template only lays it out).

Reporters read records and gate results; nothing here changes a verdict or a gate. Paths of
diagnostic plots are looked up as given, then relative to ``search`` (the results file's folder
and the current folder).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import chain
from pathlib import Path
from typing import Any, Sequence

from deepsight_pytest.records import Record, Safety
from deepsight_pytest.core.stats import POOLED_WEIGHTING, CategoryStats, GateResult
from deepsight_pytest.reporting.aggregate import (
    HarmRow,
    Rate,
    RiskRow,
    harm,
    harm_rows,
    over_refusal,
    risk_rows,
)
from deepsight_pytest.reporting.casepack import (
    CardLimits,
    CaseView,
    PlotInliner,
    StreamedPack,
    case_view,
    natural_key,
)
from deepsight_pytest.reporting.chart import Chart, build_chart
from deepsight_pytest.reporting.results import RunResults
from deepsight_pytest.reporting.terminal import modality_lines
from deepsight_pytest.attacks.report import summarise as summarise_attacks

HARM_TITLE = "harm: unsafe answers to harmful prompts"
OVER_TITLE = "over-refusal: refusals of benign prompts"


@dataclass(frozen=True)
class GateRow:
    stats: CategoryStats
    gate: GateResult | None
    failing: int  # failing case tests in this category


@dataclass(frozen=True)
class Headline:
    gates_total: int
    gates_failed: int
    regressions_total: int
    regressions_failed: int
    cases: int
    failing: int
    unknown: int
    harm: Rate
    over_refusal: Rate

    @property
    def blocked(self) -> bool:
        return bool(self.gates_failed or self.regressions_failed)


def harm_chart(rows: Sequence[Sequence[HarmRow]], series: list[str]) -> Chart:
    """One chart row per category; ``rows[i]`` holds the category's row per series (run)."""
    labels = [f"{r[0].benchmark}/{r[0].category}" for r in rows]
    def rates(attr: str) -> list[list[Rate | None]]:
        return [[None if getattr(h, attr).n == 0 else getattr(h, attr) for h in row] for row in rows]
    return build_chart(labels, [(HARM_TITLE, "harm", rates("harm")), (OVER_TITLE, "over", rates("over_refusal"))],
                       series)


def headline(results: RunResults) -> Headline:
    records = [c.record for c in results.cases]
    gates = [g for _, g in results.rows() if g is not None]
    gaps = [o.gap for o in results.gaps if o.outcome != "skipped"]  # a gap gate is a gate too
    targets = [t for t in results.targets if t["outcome"] != "skipped"]  # and so is a sandbagging score
    return Headline(
        gates_total=len(gates) + len(gaps) + len(targets),
        gates_failed=sum(not g.passed for g in gates) + sum(not g.passed for g in gaps)
        + sum(not t["passed"] for t in targets),
        regressions_total=len(results.regressions),
        regressions_failed=sum(r.regression.significant for r in results.regressions),
        cases=len(records), failing=len(results.failing_cases),
        unknown=sum(r.verdict.safe is Safety.UNKNOWN for r in records),
        harm=harm(records), over_refusal=over_refusal(records),
    )


def case_section(groups: Sequence[Sequence[Record | None]], sides: list[str], limits: CardLimits,
                 search: Sequence[Path], changes: Sequence[str | None] | None = None) -> dict[str, Any]:
    """First page (server-rendered) and the JSON of every embedded case. Views past the first page
    are made one at a time while the card is written (``StreamedPack``), never all at once."""
    embedded = groups[: limits.max_cases]
    plots = PlotInliner(search, limits)
    fields = 1 + len(sides)  # the prompt and one response per side (rationales repeat: interned)
    limit = limits.text_limit(len(embedded), fields)

    def view(i: int) -> CaseView:
        return case_view(embedded[i], plots, limit, None if changes is None else changes[i])
    first = [view(i) for i in range(min(limits.page_size, len(embedded)))]
    rest = (view(i) for i in range(len(first), len(embedded)))
    return {"first": first, "total": len(groups), "embedded": len(embedded),
            "text_limit": limit, "data": StreamedPack(chain(first, rest), sides, len(groups), limits.page_size)}


def _answer_sides(records: list[Record]) -> tuple[list[list[Record | None]], list[str]]:
    """Failing cases as the explorer shows them: one side, or one side per sampled answer
    (``--safety-samples K``), each with its own verdict."""
    k = max((len(r.samples) for r in records), default=0)
    if k <= 1:
        return [[r] for r in records], ["Response"]
    groups: list[list[Record | None]] = []
    for record in records:
        answers: list[Record | None] = [replace(record, response=a.response, verdict=a.verdict, samples=())
                                        for a in record.answers]
        groups.append(answers + [None] * (k - len(answers)))
    return groups, [f"Answer {i + 1}" for i in range(k)]


def card_context(results: RunResults, search: Sequence[Path] = (), limits: CardLimits = CardLimits()) -> dict[str, Any]:
    """Everything ``report.html.j2`` renders."""
    records = [c.record for c in results.cases]
    failing = sorted(results.failing_cases, key=lambda c: natural_key(c.record))
    failing_by_category: dict[tuple[str, str], int] = {}
    for outcome in failing:
        key = (outcome.record.case.benchmark, outcome.record.case.group)
        failing_by_category[key] = failing_by_category.get(key, 0) + 1
    failing_by_benchmark: dict[str, int] = {}
    for (benchmark, _), count in failing_by_category.items():
        failing_by_benchmark[benchmark] = failing_by_benchmark.get(benchmark, 0) + count
    gate_rows = [GateRow(stats, gate, failing_by_benchmark.get(stats.benchmark, 0) if stats.pooled
                         else failing_by_category.get((stats.benchmark, stats.category), 0))
                 for stats, gate in results.rows()]
    risks: list[RiskRow] = risk_rows(records)
    groups, case_sides = _answer_sides([c.record for c in failing])
    return {
        "meta": results.meta,
        "engine": results.engine,
        "headline": headline(results),
        "gate_rows": gate_rows,
        "pooled_weighting": POOLED_WEIGHTING if any(r.stats.pooled for r in gate_rows) else None,
        "samples": sorted({r.stats.samples for r in gate_rows if r.stats.samples > 1}),
        "chart": harm_chart([[row] for row in harm_rows(records)], [""]),
        "risks": risks,
        "risk_benchmarks": sorted({b for row in risks for b in row.per_benchmark}),
        "gaps": sorted(results.gaps, key=lambda o: o.gap.name),
        "targets": sorted(results.targets, key=lambda t: t["benchmark"]),
        "regressions": sorted(results.regressions, key=lambda r: (r.regression.benchmark, r.regression.category)),
        "cases": case_section(groups, case_sides, limits, search),
        "case_sides": case_sides,
        "attacks": summarise_attacks(results.attacks) if results.attacks else None,
        "modality": modality_lines(results),  # image cases sent as text (--safety-text-only) or with images
    }
