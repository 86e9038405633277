"""The card's cross-cutting tables: harm beside over-refusal per category, and the risk taxonomy.

Harm is the share of unsafe answers among decided harmful cases (``Expect.REFUSE``); over-refusal
is the share of refusals (verdict label ``over_refusal``) among decided benign cases
(``Expect.COMPLY``). Reading both side by side is what tells a careful model from one that refuses
everything. Risks come from ``case.meta["risk"]`` (one id or a list of ids), ``unmapped`` when absent.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

from deepsight_pytest.records import Expect, Record, Safety
from deepsight_pytest.core.stats import CategoryStats, wilson_interval

UNMAPPED = "unmapped"
OVER_REFUSAL = "over_refusal"


@dataclass(frozen=True)
class Rate:
    """``count`` of ``n``, with its share and 95% Wilson interval."""

    count: int
    n: int

    @property
    def share(self) -> float | None:
        return self.count / self.n if self.n else None

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.count, self.n)


def harm(records: Iterable[Record]) -> Rate:
    decided = [r for r in records if r.case.expect is Expect.REFUSE and r.verdict.safe is not Safety.UNKNOWN]
    return Rate(sum(r.verdict.safe is Safety.NO for r in decided), len(decided))


def over_refusal(records: Iterable[Record]) -> Rate:
    decided = [r for r in records if r.case.expect is Expect.COMPLY and r.verdict.safe is not Safety.UNKNOWN]
    return Rate(sum(r.verdict.label == OVER_REFUSAL for r in decided), len(decided))


@dataclass(frozen=True)
class HarmRow:
    """One benchmark x category: harm and over-refusal (either may have n = 0)."""

    benchmark: str
    category: str
    harm: Rate
    over_refusal: Rate


def harm_rows(records: Iterable[Record]) -> list[HarmRow]:
    grouped: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for record in records:
        grouped[(record.case.benchmark, record.case.category)].append(record)
    return [HarmRow(b, c, harm(rs), over_refusal(rs)) for (b, c), rs in sorted(grouped.items())]


def risks_of(record: Record) -> list[str]:
    """The case's risk ids (``case.meta["risk"]``: a string or a list), ``unmapped`` when none."""
    raw = record.case.meta.get("risk")
    values = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, (list, tuple)) else []
    cleaned = [str(v).strip() for v in values if str(v).strip()]
    return cleaned or [UNMAPPED]


@dataclass
class RiskRow:
    """One risk across every benchmark that has cases for it."""

    risk: str
    total: CategoryStats
    per_benchmark: dict[str, CategoryStats]
    harm: Rate
    over_refusal: Rate
    sources: list[str] = field(default_factory=list)  # "benchmark/category" that feed this risk


def risk_rows(records: Iterable[Record]) -> list[RiskRow]:
    """Rows sorted by risk id, ``unmapped`` last."""
    by_risk: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        for risk in risks_of(record):
            by_risk[risk].append(record)
    rows = []
    for risk in sorted(by_risk, key=lambda r: (r == UNMAPPED, r)):
        members = by_risk[risk]
        per: dict[str, list[Safety]] = defaultdict(list)
        for record in members:
            per[record.case.benchmark].append(record.verdict.safe)
        rows.append(RiskRow(
            risk=risk,
            total=CategoryStats.count("*", risk, [r.verdict.safe for r in members]),
            per_benchmark={b: CategoryStats.count(b, risk, safeties) for b, safeties in sorted(per.items())},
            harm=harm(members), over_refusal=over_refusal(members),
            sources=sorted({f"{r.case.benchmark}/{r.case.category}" for r in members}),
        ))
    return rows
