"""The run's results as reporters see them, gathered from test reports (xdist-safe)."""
from __future__ import annotations

import datetime as _dt
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Iterable

import pytest

from deepsight_pytest.records import Record
from deepsight_pytest.core.regression import Regression
from deepsight_pytest.core.stats import POOLED, CategoryStats, GapResult, GateResult
from deepsight_pytest.reporting.portable import portable


def row_order(key: tuple[str, str]) -> tuple[str, bool, str]:
    """Benchmarks in name order, each one's categories in name order, its pooled gate last."""
    return (key[0], key[1] == POOLED, key[1])


@dataclass
class CaseOutcome:
    nodeid: str
    outcome: str  # passed | failed | skipped
    record: Record


@dataclass
class GateOutcome:
    nodeid: str
    outcome: str
    gate: GateResult


@dataclass
class RegressionOutcome:
    nodeid: str
    outcome: str  # passed | failed | skipped
    regression: Regression


@dataclass
class GapOutcome:
    nodeid: str
    outcome: str
    gap: GapResult


@dataclass
class RunResults:
    """Everything the terminal table, JSON, JSONL and HTML writers need."""

    meta: dict[str, Any] = field(default_factory=dict)
    cases: list[CaseOutcome] = field(default_factory=list)
    gates: list[GateOutcome] = field(default_factory=list)
    engine: dict[str, Any] = field(default_factory=dict)
    regressions: list[RegressionOutcome] = field(default_factory=list)
    attacks: list[dict[str, Any]] = field(default_factory=list)  # jailbreak searches (attacks/report.py)
    gaps: list[GapOutcome] = field(default_factory=list)  # gap gates between conditions
    targets: list[dict[str, Any]] = field(default_factory=list)  # target-accuracy (sandbagging) scores

    def rows(self) -> list[tuple[CategoryStats, GateResult | None]]:
        """One row per benchmark x category: the gate when there is one, else the cases' counts."""
        rows: dict[tuple[str, str], tuple[CategoryStats, GateResult | None]] = {}
        for outcome in self.gates:
            stats = outcome.gate.stats
            rows[(stats.benchmark, stats.category)] = (stats, outcome.gate)
        grouped: dict[tuple[str, str], list[Record]] = defaultdict(list)
        for case in self.cases:
            grouped[(case.record.case.benchmark, case.record.case.group)].append(case.record)
        for (benchmark, category), records in grouped.items():
            if (benchmark, category) not in rows:
                rows[(benchmark, category)] = (
                    CategoryStats.count_samples(benchmark, category, [r.safeties for r in records]), None)
        return [rows[key] for key in sorted(rows, key=row_order)]

    @property
    def failing_cases(self) -> list[CaseOutcome]:
        return [c for c in self.cases if c.outcome == "failed"]


class RecordStream:
    """The ``--safety-records`` file written as each case's report arrives, one flushed JSON line
    per case (the same lines, in the same order, as writing it at the end): a run killed halfway
    keeps every record it finished. A file that cannot be opened is left to the end-of-run writer,
    which reports it as one line."""

    def __init__(self, path: Path | None, roots: Iterable[Path | None] = ()) -> None:
        self.path = path
        self._roots = tuple(roots)  # the run's folders: their paths are written relative (portable.py)
        self._local: Callable[[str], str] = lambda text: text
        self._handle: IO[str] | None = None
        self.failed = path is None
        self.count = 0

    def write(self, record: dict[str, Any]) -> None:
        if self.failed:
            return
        try:
            if self._handle is None:
                assert self.path is not None
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._handle = self.path.open("w", encoding="utf-8")
                self._local = portable(self.path.parent, self._roots)
            self._handle.write(self._local(json.dumps(record, ensure_ascii=False)) + "\n")
            self._handle.flush()
            self.count += 1
        except OSError:
            self.failed = True  # the end-of-run writer tries again and names the file

    def close(self) -> bool:
        """True when every record of the run is in the file."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        return not self.failed and self.count > 0


class ResultsCollector:
    """A plugin object (controller only) that gathers payloads from every test report."""

    def __init__(self, records: Path | None = None, roots: Iterable[Path | None] = ()) -> None:
        self.results = RunResults(meta={"started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")})
        self.case_failures = 0
        self.other_failures = 0
        self.records = RecordStream(records, roots)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        payload = getattr(report, "deepsight", None)
        if report.failed:
            is_finding = payload is not None and payload["kind"] in ("case", "attack") and report.when == "call"
            if is_finding:
                self.case_failures += 1
            else:
                self.other_failures += 1
        if payload is not None:
            PAYLOAD_READERS[payload["kind"]](self.results, report.nodeid, report.outcome, payload)
            if payload["kind"] == "case":
                self.records.write(payload["record"])
            del report.deepsight  # filed; the terminal keeps every report to the end

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.other_failures += 1


def _read_case(results: RunResults, nodeid: str, outcome: str, payload: dict[str, Any]) -> None:
    results.cases.append(CaseOutcome(nodeid, outcome, Record.from_dict(payload["record"])))


def _read_gate(results: RunResults, nodeid: str, outcome: str, payload: dict[str, Any]) -> None:
    results.gates.append(GateOutcome(nodeid, outcome, GateResult.from_dict(payload["gate"])))


def _read_gap(results: RunResults, nodeid: str, outcome: str, payload: dict[str, Any]) -> None:
    results.gaps.append(GapOutcome(nodeid, outcome, GapResult.from_dict(payload["gap"])))


def _read_regression(results: RunResults, nodeid: str, outcome: str, payload: dict[str, Any]) -> None:
    results.regressions.append(RegressionOutcome(nodeid, outcome, Regression.from_dict(payload["regression"])))


#: payload kind (see ``payload.py``) -> how the collector files it
PAYLOAD_READERS: dict[str, Callable[[RunResults, str, str, dict[str, Any]], None]] = {
    "case": _read_case, "gate": _read_gate, "regression": _read_regression, "gap": _read_gap,
    "targets": lambda results, nodeid, outcome, payload: results.targets.append(
        {**payload["targets"], "nodeid": nodeid, "outcome": outcome}),
    "attack": lambda results, nodeid, outcome, payload: results.attacks.append(
        {**payload["attack"], "nodeid": nodeid, "outcome": outcome}),
}
