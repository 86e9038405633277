"""The terminal summary table: benchmark, category, n, safe, ratio, interval, threshold, gate."""
from __future__ import annotations

from typing import Sequence

from deepsight_pytest.core.stats import POOLED_WEIGHTING, SAMPLED_WEIGHTING
from deepsight_pytest.reporting.results import RunResults
from deepsight_pytest.core.sanitize import neutralise

HEADER = ("benchmark", "category", "n", "safe", "unknown", "ratio", "95% CI", "threshold", "gate")


def summary_lines(results: RunResults) -> list[str]:
    """Rows as aligned text; an empty list when the run had no safety tests."""
    rows = []
    for stats, gate in results.rows():
        low, high = stats.interval
        rows.append((
            stats.benchmark, POOLED_LABEL if stats.pooled else stats.category,
            f"{stats.prompts}x{stats.samples}" if stats.samples > 1 else str(stats.n), str(stats.safe), str(stats.unknown),
            "n/a" if stats.ratio is None else f"{stats.ratio:.3f}", f"[{low:.3f}, {high:.3f}]",
            "-" if gate is None else f"{gate.threshold:.2f}",
            "-" if gate is None else ("pass" if gate.passed else "FAIL"),
        ))
    lines = _table(HEADER, rows)
    notes = weighting_lines(results)
    if lines and notes:
        lines += ["", *notes]
    inconclusive = inconclusive_lines(results)
    if lines and inconclusive:
        lines += ["", "inconclusive gates (the 95% interval straddles the threshold):", *inconclusive]
    gaps = gap_lines(results)
    if gaps:
        lines += [*([""] if lines else []),
                  "condition gaps (safety rate under a minus under b, paired items, Newcombe 95% CI):", *gaps]
    targets = target_lines(results)
    if targets:
        lines += [*([""] if lines else []), "target accuracies (sandbagging score = mean |target - accuracy|):",
                  *targets]
    modality = modality_lines(results)
    if lines and modality:
        lines += ["", *modality]
    regressions = regression_lines(results)
    if lines and regressions:
        lines += ["", "regression against the baseline (one-sided two-proportion test):", *regressions]
    return [neutralise(line) for line in lines]  # benchmark and category names come from data files


POOLED_LABEL = "(pooled)"


def modality_lines(results: RunResults) -> list[str]:
    """Image cases run as text (``--safety-text-only``) and image cases run with their images,
    said under the table: never a silent drop."""
    records = [c.record for c in results.cases]
    withheld = [r for r in records if r.case.meta.get("images_withheld")]
    seen = [r for r in records if r.case.images]
    lines = []
    if withheld:
        images = sum(int(r.case.meta["images_withheld"]) for r in withheld)
        lines.append(f"text only (--safety-text-only): {len(withheld)} image cases ran as text, "
                     f"{images} images withheld")
    if seen:
        lines.append(f"images: {len(seen)} cases sent with {sum(len(r.case.images) for r in seen)} images")
    return lines


def weighting_lines(results: RunResults) -> list[str]:
    """How pooled and sampled rows weigh their cases, said once under the table."""
    lines = []
    if any(stats.pooled for stats, _ in results.rows()):
        lines.append(f"{POOLED_LABEL}: the benchmark's pooled gate over all its cases ({POOLED_WEIGHTING})")
    samples = sorted({stats.samples for stats, _ in results.rows() if stats.samples > 1})
    for k in samples:
        lines.append(f"n = prompts x {k} answers: {SAMPLED_WEIGHTING.format(k=k)}, safe counts answers; "
                     "95% CI clustered by prompt (effective n from the spread of per-prompt shares)")
    return lines


def inconclusive_lines(results: RunResults) -> list[str]:
    """One line per gate whose 95% interval straddles its threshold, with the n that decides it."""
    lines = []
    for stats, gate in results.rows():
        if gate is None or not gate.inconclusive:
            continue
        need = gate.needed_n
        unit = f"prompts of {stats.samples} answers" if stats.samples > 1 else "decided verdicts"
        n = len(stats.shares) if stats.samples > 1 else stats.judged
        lines.append(f"  {gate.label}: {'pass' if gate.passed else 'FAIL'} "
                     f"(rule {gate.rule}) is inconclusive at n={n}"
                     + (f"; about {need} {unit} at this ratio would settle it" if need else ""))
    return lines


GAP_HEADER = ("benchmark", "a-vs-b", "pairs", "rate a", "rate b", "gap", "95% CI", "max gap", "gate")


def gap_lines(results: RunResults) -> list[str]:
    """One row per gap gate between two conditions; empty when the run had none."""
    rows = []
    for outcome in sorted(results.gaps, key=lambda o: o.gap.name):
        g, c = outcome.gap, outcome.gap.counts
        low, high = c.interval
        rows.append((
            c.benchmark, f"{c.a}-vs-{c.b}", str(c.paired) + (f" (+{c.unknown} unknown)" if c.unknown else ""),
            "n/a" if c.rate_a is None else f"{c.rate_a:.3f}", "n/a" if c.rate_b is None else f"{c.rate_b:.3f}",
            "n/a" if c.gap is None else f"{c.gap:+.3f}", f"[{low:+.3f}, {high:+.3f}]", f"±{g.max_gap:.2f}",
            "pass" if g.passed else "FAIL",
        ))
    return _table(GAP_HEADER, rows)


TARGET_HEADER = ("benchmark", "target -> accuracy", "score", "below unconstrained", "min score", "gate")


def target_lines(results: RunResults) -> list[str]:
    """One row per target-accuracy (sandbagging) test; empty when the run had none."""
    def fmt(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"
    rows = [(t["benchmark"], " ".join(f"{p['target']:.3g}:{fmt(p['accuracy'])}" for p in t["points"]),
             fmt(t["score"]), fmt(t["score_below"]), f"{t['min_score']:.2f}", "pass" if t["passed"] else "FAIL")
            for t in results.targets]
    return _table(TARGET_HEADER, rows)


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


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    if not rows:
        return []
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    def fmt(row: tuple[str, ...]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
    return [fmt(header), *(fmt(row) for row in rows)]
