"""The compare card (``deepsight compare a.json b.json``): run B side by side with run A.

Per category both ratios with intervals, the change, and the same one-sided two-proportion test
as ``--safety-baseline`` in both directions (a significant drop, or a significant gain); per risk
both ratios; harm and over-refusal of both runs in one chart; and the cases whose verdict changed,
each with both responses. A is the reference (the baseline), B the candidate.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from deepsight_pytest.records import Record, Safety
from deepsight_pytest.core.regression import DEFAULT_ALPHA, DEFAULT_MARGIN, Regression
from deepsight_pytest.core.stats import CategoryStats, GateResult
from deepsight_pytest.reporting.aggregate import HarmRow, Rate, RiskRow, harm_rows, risk_rows
from deepsight_pytest.reporting.card import case_section, harm_chart, headline
from deepsight_pytest.reporting.casepack import CardLimits, natural_key
from deepsight_pytest.reporting.results import RunResults

NEWLY_UNSAFE, NEWLY_SAFE, CHANGED = "newly unsafe", "newly safe", "verdict changed"
CHANGE_ORDER = {NEWLY_UNSAFE: 0, NEWLY_SAFE: 1, CHANGED: 2}


@dataclass(frozen=True)
class CompareRow:
    benchmark: str
    category: str
    a: CategoryStats | None
    b: CategoryStats | None
    gate_a: GateResult | None
    gate_b: GateResult | None
    drop: Regression | None  # B against A
    gain: Regression | None  # A against B

    @property
    def delta(self) -> float | None:
        if self.a is None or self.b is None or self.a.ratio is None or self.b.ratio is None:
            return None
        return self.b.ratio - self.a.ratio

    @property
    def verdict(self) -> str:
        if self.a is None or self.b is None:
            return "only in A" if self.b is None else "only in B"
        if self.drop is not None and self.drop.significant:
            return "significant drop"
        if self.gain is not None and self.gain.significant:
            return "significant gain"
        return "no significant change"


@dataclass(frozen=True)
class RiskPair:
    risk: str
    a: RiskRow | None
    b: RiskRow | None


def compare_rows(a: RunResults, b: RunResults, margin: float, alpha: float) -> list[CompareRow]:
    rows_a = {(s.benchmark, s.category): (s, g) for s, g in a.rows()}
    rows_b = {(s.benchmark, s.category): (s, g) for s, g in b.rows()}
    out = []
    for key in sorted(set(rows_a) | set(rows_b)):
        sa, ga = rows_a.get(key, (None, None))
        sb, gb = rows_b.get(key, (None, None))
        both = sa is not None and sb is not None
        out.append(CompareRow(key[0], key[1], sa, sb, ga, gb,
                              Regression(sa, sb, margin, alpha) if both else None,  # type: ignore[arg-type]
                              Regression(sb, sa, margin, alpha) if both else None))  # type: ignore[arg-type]
    return out


def change_of(before: Record, after: Record) -> str | None:
    """How a case's verdict moved from run A to run B (None: same safety)."""
    was, now = before.verdict.safe, after.verdict.safe
    if was is now:
        return None
    if now is Safety.NO:
        return NEWLY_UNSAFE
    return NEWLY_SAFE if was is Safety.NO else CHANGED


def changed_cases(a: RunResults, b: RunResults) -> list[tuple[Record, Record, str]]:
    before = {c.record.case.uid: c.record for c in a.cases}
    out = []
    for outcome in b.cases:
        old = before.get(outcome.record.case.uid)
        change = None if old is None else change_of(old, outcome.record)
        if old is not None and change is not None:
            out.append((old, outcome.record, change))
    return sorted(out, key=lambda t: (CHANGE_ORDER[t[2]], natural_key(t[1])))


def _harm_pairs(a: RunResults, b: RunResults) -> list[list[HarmRow]]:
    ha = {(r.benchmark, r.category): r for r in harm_rows(c.record for c in a.cases)}
    hb = {(r.benchmark, r.category): r for r in harm_rows(c.record for c in b.cases)}
    empty = Rate(0, 0)
    return [[ha.get(k, HarmRow(*k, empty, empty)), hb.get(k, HarmRow(*k, empty, empty))]
            for k in sorted(set(ha) | set(hb))]


def _risk_pairs(a: RunResults, b: RunResults) -> list[RiskPair]:
    ra = {r.risk: r for r in risk_rows(c.record for c in a.cases)}
    rb = {r.risk: r for r in risk_rows(c.record for c in b.cases)}
    order = [r.risk for r in risk_rows([c.record for c in a.cases] + [c.record for c in b.cases])]
    return [RiskPair(risk, ra.get(risk), rb.get(risk)) for risk in order]


def compare_context(a: RunResults, b: RunResults, names: tuple[str, str], search: Sequence[Path] = (),
                    margin: float = DEFAULT_MARGIN, alpha: float = DEFAULT_ALPHA,
                    limits: CardLimits = CardLimits()) -> dict[str, Any]:
    """Everything ``compare.html.j2`` renders."""
    rows = compare_rows(a, b, margin, alpha)
    changed = changed_cases(a, b)
    sides = [f"A: {names[0]}", f"B: {names[1]}"]
    return {
        "a": a, "b": b, "names": names, "margin": margin, "alpha": alpha,
        "headline_a": headline(a), "headline_b": headline(b),
        "rows": rows,
        "drops": sum(r.verdict == "significant drop" for r in rows),
        "gains": sum(r.verdict == "significant gain" for r in rows),
        "newly_unsafe": sum(c[2] == NEWLY_UNSAFE for c in changed),
        "newly_safe": sum(c[2] == NEWLY_SAFE for c in changed),
        "chart": harm_chart(_harm_pairs(a, b), sides),
        "risks": _risk_pairs(a, b),
        "cases": case_section([[old, new] for old, new, _ in changed], sides, limits, search,
                              [change for _, _, change in changed]),
        "sides": sides,
    }
