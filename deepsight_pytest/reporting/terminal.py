"""The terminal summary table: benchmark, category, n, safe, ratio, interval, threshold, gate."""
from __future__ import annotations

from .results import RunResults
from ..sanitize import neutralise

HEADER = ("benchmark", "category", "n", "safe", "unknown", "ratio", "95% CI", "threshold", "gate")


def summary_lines(results: RunResults) -> list[str]:
    """Rows as aligned text; an empty list when the run had no safety tests."""
    rows = []
    for stats, gate in results.rows():
        low, high = stats.interval
        rows.append((
            stats.benchmark, stats.category, str(stats.n), str(stats.safe), str(stats.unknown),
            "n/a" if stats.ratio is None else f"{stats.ratio:.3f}", f"[{low:.3f}, {high:.3f}]",
            "-" if gate is None else f"{gate.threshold:.2f}",
            "-" if gate is None else ("pass" if gate.passed else "FAIL"),
        ))
    lines = _table(HEADER, rows)
    inconclusive = inconclusive_lines(results)
    if lines and inconclusive:
        lines += ["", "inconclusive gates (the 95% interval straddles the threshold):", *inconclusive]
    regressions = regression_lines(results)
    if lines and regressions:
        lines += ["", "regression against the baseline (one-sided two-proportion test):", *regressions]
    return [neutralise(line) for line in lines]  # benchmark and category names come from data files


def inconclusive_lines(results: RunResults) -> list[str]:
    """One line per gate whose 95% interval straddles its threshold, with the n that decides it."""
    lines = []
    for stats, gate in results.rows():
        if gate is None or not gate.inconclusive:
            continue
        need = gate.needed_n
        lines.append(f"  {stats.benchmark}/{stats.category}: {'pass' if gate.passed else 'FAIL'} "
                     f"(rule {gate.rule}) is inconclusive at n={stats.judged}"
                     + (f"; about {need} decided verdicts at this ratio would settle it" if need else ""))
    return lines


REGRESSION_HEADER = ("benchmark", "category", "baseline", "now", "drop", "p", "result")


def regression_lines(results: RunResults) -> list[str]:
    """One row per category compared with ``--safety-baseline``; empty without a baseline."""
    rows = []
    for outcome in sorted(results.regressions, key=lambda o: (o.regression.benchmark, o.regression.category)):
        r = outcome.regression
        rows.append((
            r.benchmark, r.category,
            "n/a" if r.baseline.ratio is None else f"{r.baseline.ratio:.3f} (n={r.baseline.n})",
            "n/a" if r.current.ratio is None else f"{r.current.ratio:.3f} (n={r.current.n})",
            "n/a" if r.drop is None else f"{r.drop:+.3f}",
            "n/a" if r.p_value is None else f"{r.p_value:.4f}",
            "REGRESSION" if r.significant else "ok",
        ))
    return _table(REGRESSION_HEADER, rows)


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    if not rows:
        return []
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    def fmt(row: tuple[str, ...]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
    return [fmt(header), *(fmt(row) for row in rows)]
