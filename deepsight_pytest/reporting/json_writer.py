"""The JSON results file, deepsight's interchange format, and the JSON-lines record dump.

A results file describes a run completely (meta, engine counters, per-category stats, gates with
their thresholds, regressions against a baseline, every case with its full record), so
``deepsight report``, ``compare``, ``merge`` and ``--safety-baseline`` need nothing else.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from deepsight_pytest.errors import DataError
from deepsight_pytest.judges.agreement import pairwise_kappa
from deepsight_pytest.records import Record
from deepsight_pytest.core.regression import Regression
from deepsight_pytest.core.stats import GapResult, GateResult
from deepsight_pytest.reporting.portable import portable
from deepsight_pytest.reporting.results import (
    CaseOutcome,
    GapOutcome,
    GateOutcome,
    RegressionOutcome,
    RunResults,
)

from deepsight_pytest.attacks.report import summarise as summarise_attacks  # noqa: E402

SCHEMA_VERSION = 1


def results_document(results: RunResults, with_cases: bool = True) -> dict[str, Any]:
    categories = []
    for stats, gate in results.rows():
        low, high = stats.interval
        categories.append({
            "benchmark": stats.benchmark, "category": stats.category, "n": stats.n, "safe": stats.safe,
            "unsafe": stats.unsafe, "unknown": stats.unknown, "ratio": stats.ratio,
            "ci_low": low, "ci_high": high,
            "threshold": None if gate is None else gate.threshold,
            "gate": None if gate is None else ("pass" if gate.passed else "fail"),
            "inconclusive": None if gate is None else gate.inconclusive,
            "needed_n": None if gate is None else gate.needed_n,
            "pooled": stats.pooled, "weighting": stats.weighting, "samples": stats.samples,
        })
    return {
        "schema": SCHEMA_VERSION,
        "meta": results.meta,
        "engine": results.engine,
        "categories": categories,
        "gates": [{"nodeid": g.nodeid, "outcome": g.outcome, **g.gate.to_dict()} for g in results.gates],
        "regressions": [{"nodeid": r.nodeid, "outcome": r.outcome, **r.regression.to_dict()}
                        for r in results.regressions],
        **({"gaps": [{"nodeid": g.nodeid, "outcome": g.outcome, **g.gap.to_dict()} for g in results.gaps]}
           if results.gaps else {}),
        **({"targets": results.targets} if results.targets else {}),
        # Cohen's kappa between the members of any ensemble judge (empty without one).
        "judge_agreement": pairwise_kappa(c.record for c in results.cases),
        **({"attacks": summarise_attacks(results.attacks)} if results.attacks else {}),
        **({"cases": [_case_entry(c) for c in results.cases]} if with_cases else {}),
    }


def _case_entry(case: CaseOutcome) -> dict[str, Any]:
    return {"nodeid": case.nodeid, "outcome": case.outcome, "record": case.record.to_dict()}


def write_json(path: Path, results: RunResults, roots: Iterable[Path | None] = ()) -> None:
    """Everything but the cases as one JSON object, then the cases one by one: a large run's
    document is never held in memory whole (20,000 cases: about 200 MB less at the peak).
    Paths on this machine are written relative to the file's folder (:mod:`.portable`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    local = portable(path.parent, roots)
    head = json.dumps(results_document(results, with_cases=False), indent=1, ensure_ascii=False)
    with path.open("w", encoding="utf-8") as handle:
        handle.write(local(head[:-2]) + ',\n "cases": [')  # head ends with "\n}"
        for index, case in enumerate(results.cases):
            handle.write(("," if index else "") + "\n  " + local(json.dumps(_case_entry(case), ensure_ascii=False)))
        handle.write("\n ]\n}\n")


def write_records(path: Path, results: RunResults, roots: Iterable[Path | None] = ()) -> int:
    """The records as JSON lines, paths relative to the file's folder like :func:`write_json`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    local = portable(path.parent, roots)
    with path.open("w", encoding="utf-8") as handle:
        for case in results.cases:
            handle.write(local(json.dumps(case.record.to_dict(), ensure_ascii=False)) + "\n")
    return len(results.cases)


def read_document(path: Path) -> dict[str, Any]:
    """The raw results document; a missing, unreadable or foreign file is one :class:`DataError`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"{path}: cannot read results file ({exc.strerror})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a JSON results file ({exc})") from None
    if not isinstance(data, dict) or "cases" not in data or "categories" not in data:
        raise DataError(f"{path}: not a deepsight results file (no 'categories' and 'cases'; "
                        "write one with --safety-json)")
    if data.get("schema") != SCHEMA_VERSION:
        raise DataError(f"{path}: results schema {data.get('schema')!r} is not supported "
                        f"(this deepsight-pytest reads schema {SCHEMA_VERSION})")
    return data


def load_results(path: Path) -> RunResults:
    """A results file back as :class:`RunResults`; a malformed entry names the file and entry."""
    data = read_document(path)
    results = RunResults(meta=dict(data.get("meta") or {}), engine=dict(data.get("engine") or {}))
    for section, build in (("cases", _case), ("gates", _gate), ("regressions", _regression), ("gaps", _gap)):
        for index, entry in enumerate(data.get(section) or []):
            try:
                build(results, entry)
            except (KeyError, TypeError, ValueError) as exc:
                raise DataError(f"{path}: {section}[{index}] is malformed ({type(exc).__name__}: {exc})") from None
    return results


def _case(results: RunResults, entry: dict[str, Any]) -> None:
    results.cases.append(CaseOutcome(entry["nodeid"], entry["outcome"], Record.from_dict(entry["record"])))


def _gate(results: RunResults, entry: dict[str, Any]) -> None:
    results.gates.append(GateOutcome(entry["nodeid"], entry["outcome"], GateResult.from_dict(entry)))


def _gap(results: RunResults, entry: dict[str, Any]) -> None:
    results.gaps.append(GapOutcome(entry["nodeid"], entry["outcome"], GapResult.from_dict(entry)))


def _regression(results: RunResults, entry: dict[str, Any]) -> None:
    results.regressions.append(RegressionOutcome(entry["nodeid"], entry["outcome"], Regression.from_dict(entry)))
