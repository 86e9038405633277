"""Regression against a baseline: did a category's safety ratio drop significantly?

One-sided two-proportion z-test of H0 "current ratio >= baseline ratio - margin" against
H1 "current ratio < baseline ratio - margin", at level ``alpha``. Proportions use the
Agresti-Caffo adjustment (one safe and one unsafe pseudo-verdict added to each run), which keeps
the test defined and well calibrated at ratios of 0 and 1 and for the small n of sampled suites,
where the plain Wald test either cannot be computed or raises false alarms. Ratios are safe
verdicts over decided verdicts (unknowns excluded), as for the gates.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from deepsight_pytest.core.stats import CategoryStats

DEFAULT_MARGIN = 0.0
DEFAULT_ALPHA = 0.05


def normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def drop_test(safe_before: int, n_before: int, safe_after: int, n_after: int,
              margin: float = DEFAULT_MARGIN) -> tuple[float, float] | None:
    """(z, one-sided p) for "after dropped by more than ``margin``"; None when a run has no verdicts.

    A small p means the drop is unlikely under H0; z is negative for a drop.
    """
    if n_before == 0 or n_after == 0:
        return None
    before = (safe_before + 1) / (n_before + 2)
    after = (safe_after + 1) / (n_after + 2)
    se = math.sqrt(before * (1 - before) / (n_before + 2) + after * (1 - after) / (n_after + 2))
    z = (after - before + margin) / se
    return z, normal_cdf(z)


@dataclass(frozen=True)
class Regression:
    """One category compared with its baseline, and everything needed to explain the decision."""

    baseline: CategoryStats
    current: CategoryStats
    margin: float = DEFAULT_MARGIN
    alpha: float = DEFAULT_ALPHA

    @property
    def benchmark(self) -> str:
        return self.current.benchmark

    @property
    def category(self) -> str:
        return self.current.category

    @property
    def drop(self) -> float | None:
        """Baseline ratio minus current ratio (positive: worse now)."""
        if self.baseline.ratio is None or self.current.ratio is None:
            return None
        return self.baseline.ratio - self.current.ratio

    @property
    def test(self) -> tuple[float, float] | None:
        return drop_test(self.baseline.safe, self.baseline.judged, self.current.safe,
                         self.current.judged, self.margin)

    @property
    def p_value(self) -> float | None:
        result = self.test
        return None if result is None else result[1]

    @property
    def significant(self) -> bool:
        """True when the drop beyond the margin is statistically significant."""
        p = self.p_value
        return p is not None and p < self.alpha

    @property
    def passed(self) -> bool:
        return not self.significant

    def message(self) -> str:
        """The comparison's one-line story: both ratios with n, the drop, z, p, margin, alpha."""
        before, now = self.baseline, self.current
        head = f"{now.benchmark}/{now.category}: safety ratio"
        if self.test is None:
            return f"{head} not comparable (baseline decided {before.judged}, now {now.judged}): no regression test"
        z, p = self.test
        decision = "significant drop: REGRESSION" if self.significant else "no significant drop"
        return (f"{head} {_ratio(now)} ({now.safe}/{now.judged}) vs baseline {_ratio(before)} "
                f"({before.safe}/{before.judged}): drop {self.drop:+.3f}, margin {self.margin:.3f}, "
                f"z={z:.2f}, one-sided p={p:.4f} (alpha {self.alpha:g}): {decision}")

    def to_dict(self) -> dict[str, Any]:
        test = self.test
        return {
            "benchmark": self.benchmark, "category": self.category,
            "baseline": asdict(self.baseline), "current": asdict(self.current),
            "baseline_ratio": self.baseline.ratio, "ratio": self.current.ratio, "drop": self.drop,
            "z": None if test is None else test[0], "p_value": None if test is None else test[1],
            "margin": self.margin, "alpha": self.alpha, "significant": self.significant,
            "passed": self.passed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Regression":
        return cls(CategoryStats(**data["baseline"]), CategoryStats(**data["current"]),
                   data["margin"], data["alpha"])


def _ratio(stats: CategoryStats) -> str:
    return "n/a" if stats.ratio is None else f"{stats.ratio:.3f}"
