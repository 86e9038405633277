"""``deepsight merge``: join the JSON results of sharded runs (CI matrix jobs) into one.

Cases are joined (a node id seen twice keeps its last copy, so a re-run shard replaces its first
try); every gate is recomputed over all cases of its benchmark x category (a pooled gate: of its
benchmark; K sampled answers per case: over all of them) with the threshold and
maximum unknown share recorded in the shards' gate entries (which must agree). A gate whose
category has no case in any shard keeps its largest recorded count. Regression results are left
out: they belong to one run and its baseline; run ``deepsight compare`` on the merged file instead.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepsight_pytest.errors import DataError
from deepsight_pytest.core.stats import POOLED, CategoryStats, GateResult
from deepsight_pytest.reporting.results import CaseOutcome, GateOutcome, RunResults, row_order


@dataclass
class MergeSummary:
    files: int
    cases: int
    duplicates: int
    gates: int
    gates_failed: int
    recomputed: int  # gates recomputed from cases (the rest kept their shard's counts)

    def line(self) -> str:
        text = (f"merged {self.files} files: {self.cases} cases, {self.gates} gates "
                f"({self.gates_failed} failing, {self.recomputed} recomputed from cases)")
        return text + (f"; {self.duplicates} duplicate case(s) kept from the later file" if self.duplicates else "")


def _check_same_model(shards: list[tuple[Path, RunResults]]) -> None:
    seen: dict[str, Path] = {}
    for path, results in shards:
        for outcome in results.cases:
            seen.setdefault(outcome.record.response.model, path)
    if len(seen) > 1:
        (fa, pa), (fb, pb) = list(seen.items())[:2]
        raise DataError(f"shards answer with different models: {fa} ({pa}) and {fb} ({pb}); "
                        "compare them with `deepsight compare` instead")


def _gate_settings(shards: list[tuple[Path, RunResults]]) -> dict[tuple[str, str], tuple[GateOutcome, Path]]:
    """The first gate per category; every later one must have the same threshold and max unknown."""
    first: dict[tuple[str, str], tuple[GateOutcome, Path]] = {}
    for path, results in shards:
        for outcome in results.gates:
            key = (outcome.gate.stats.benchmark, outcome.gate.stats.category)
            if key not in first:
                first[key] = (outcome, path)
                continue
            other, where = first[key]
            if (other.gate.threshold, other.gate.max_unknown) != (outcome.gate.threshold, outcome.gate.max_unknown):
                raise DataError(f"gate {key[0]}/{key[1]}: threshold/max unknown "
                                f"{other.gate.threshold}/{other.gate.max_unknown} in {where} but "
                                f"{outcome.gate.threshold}/{outcome.gate.max_unknown} in {path}")
            if outcome.gate.stats.n > other.gate.stats.n:
                first[key] = (GateOutcome(other.nodeid, outcome.outcome, outcome.gate), where)
    return first


def _merge_meta(shards: list[tuple[Path, RunResults]], results: RunResults) -> dict[str, Any]:
    metas = [r.meta for _, r in shards]
    meta = dict(metas[0])
    meta["merged_from"] = [str(p) for p, _ in shards]
    starts = [m["started"] for m in metas if m.get("started")]
    ends = [m["finished"] for m in metas if m.get("finished")]
    meta.update(started=min(starts, default=None), finished=max(ends, default=None))
    judges = sorted({c.record.verdict.judge for c in results.cases})
    meta.update(judges=judges, judge=", ".join(judges),
                fingerprint=", ".join(sorted({c.record.response.model for c in results.cases})))
    cases: dict[str, set[str]] = defaultdict(set)
    for outcome in results.cases:
        cases[outcome.record.case.benchmark].add(outcome.record.case.uid)
    benchmarks: dict[str, dict[str, Any]] = {}
    for m in metas:
        for entry in m.get("benchmarks") or []:
            benchmarks.setdefault(entry.get("name"), dict(entry))
    for name, entry in benchmarks.items():
        entry["cases"] = len(cases.get(name, ()))
    meta["benchmarks"] = [benchmarks[n] for n in sorted(benchmarks, key=str)]
    meta.pop("baseline", None)
    return meta


def merge_results(shards: list[tuple[Path, RunResults]]) -> tuple[RunResults, MergeSummary]:
    """One :class:`RunResults` for all shards, gates recomputed over the joined cases."""
    if not shards:
        raise DataError("nothing to merge")
    _check_same_model(shards)
    by_node: dict[str, CaseOutcome] = {}
    duplicates = 0
    for _, results in shards:
        for outcome in results.cases:
            duplicates += outcome.nodeid in by_node
            by_node[outcome.nodeid] = outcome
    merged = RunResults(cases=list(by_node.values()))
    grouped: dict[tuple[str, str], list[CaseOutcome]] = defaultdict(list)
    for outcome in merged.cases:
        grouped[(outcome.record.case.benchmark, outcome.record.case.category)].append(outcome)
        grouped[(outcome.record.case.benchmark, POOLED)].append(outcome)  # the pooled gate's cases
    recomputed = 0
    for key, (first, _) in sorted(_gate_settings(shards).items(), key=lambda item: row_order(item[0])):
        members = grouped.get(key)
        gate = first.gate
        if members:
            stats = CategoryStats.count_samples(key[0], key[1], [c.record.safeties for c in members])
            gate = GateResult(stats, gate.threshold, gate.max_unknown, gate.rule)
            recomputed += 1
        merged.gates.append(GateOutcome(first.nodeid, "passed" if gate.passed else "failed", gate))
    merged.meta = _merge_meta(shards, merged)
    merged.engine = {}
    for _, results in shards:
        for name, value in results.engine.items():
            if isinstance(value, (int, float)):
                merged.engine[name] = merged.engine.get(name, 0) + value
    failed = sum(not g.gate.passed for g in merged.gates)
    return merged, MergeSummary(len(shards), len(merged.cases), duplicates, len(merged.gates), failed, recomputed)
