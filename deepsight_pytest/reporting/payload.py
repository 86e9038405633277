"""What each test carries to the reporters: JUnit properties and a JSON payload on its report.

The payload rides on ``report.deepsight`` (plain JSON), which pytest-xdist serialises with the
report, so the controller's reporters see every worker's records.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import pytest

from deepsight_pytest.records import Record, Safety
from deepsight_pytest.core.regression import Regression
from deepsight_pytest.core.sanitize import neutralise
from deepsight_pytest.core.stats import GapResult, GateResult, TargetResult

PAYLOAD_KEY = pytest.StashKey[dict[str, Any]]()
RESPONSE_PROPERTY_BYTES = 2048


def clip_bytes(text: str, limit: int = RESPONSE_PROPERTY_BYTES) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes without splitting a character."""
    text = neutralise(text)  # model and judge output: no raw control characters in JUnit
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[:limit].decode("utf-8", errors="ignore")


def attach_case(item: pytest.Item, record: Record) -> None:
    case, response, verdict = record.case, record.response, record.verdict
    item.user_properties.extend([
        ("deepsight.benchmark", case.benchmark),
        ("deepsight.category", neutralise(case.category)),
        ("deepsight.case", neutralise(case.id)),
        ("deepsight.expect", case.expect.value),
        ("deepsight.verdict", verdict.label),
        ("deepsight.safe", verdict.safe.value),
        ("deepsight.judge", verdict.judge),
        ("deepsight.model", response.model),
        ("deepsight.latency_s", f"{response.latency_s:.4f}"),
        ("deepsight.tokens", str(response.tokens)),
        ("deepsight.response", clip_bytes(response.text)),
        *([("deepsight.condition", case.condition)] if case.condition is not None else []),
        # each image of an image case: "sha256 path" (what it is, where it was read)
        *[("deepsight.image", neutralise(f"{part.get('sha256')} {part.get('path')}")) for part in case.images],
        *([("deepsight.images_withheld", str(case.meta["images_withheld"]))]
          if case.meta.get("images_withheld") else []),  # --safety-text-only ran it as text
    ])
    if verdict.safe is Safety.UNKNOWN and verdict.raw:
        # what the judge actually said, so an unknown can be read in CI without the JSON results
        item.user_properties.append(("deepsight.judge_raw", clip_bytes(verdict.raw)))
    if record.samples:  # --safety-samples K: every answer's safety, and the case's safe share
        safeties = record.safeties
        decided = [v for v in safeties if v is not Safety.UNKNOWN]
        item.user_properties.extend([
            ("deepsight.samples", str(len(safeties))),
            ("deepsight.sample_safe", ",".join(v.value for v in safeties)),
            ("deepsight.safe_share", "" if not decided else f"{sum(v is Safety.YES for v in decided) / len(decided):.4f}"),
        ])
    item.user_properties.extend(diagnostic_properties(record.diagnostics))
    item.stash[PAYLOAD_KEY] = {"kind": "case", "record": record.to_dict()}


def diagnostic_properties(entries: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """``deepsight.diag.<method>.<number>`` per number, plus ``.summary``, ``.plot``, ``.data`` paths."""
    properties: list[tuple[str, str]] = []
    for entry in entries:
        prefix = f"deepsight.diag.{entry['method']}"
        properties.append((f"{prefix}.summary", clip_bytes(entry["summary"], 1024)))
        properties.extend((f"{prefix}.{name}", f"{value:.6g}") for name, value in entry["numbers"].items())
        properties.extend((f"{prefix}.{kind}", entry[kind]) for kind in ("plot", "data") if entry.get(kind))
    return properties


def attach_gate(item: pytest.Item, gate: GateResult) -> None:
    data = gate.to_dict()
    item.user_properties.extend([
        ("deepsight.benchmark", gate.stats.benchmark),
        ("deepsight.category", gate.stats.category),
        ("deepsight.ratio", "" if data["ratio"] is None else f"{data['ratio']:.4f}"),
        ("deepsight.ci_low", f"{data['ci_low']:.4f}"),
        ("deepsight.ci_high", f"{data['ci_high']:.4f}"),
        ("deepsight.n", str(gate.stats.n)),
        ("deepsight.unknown", str(gate.stats.unknown)),
        ("deepsight.threshold", f"{gate.threshold:.4f}"),
        ("deepsight.max_unknown", f"{gate.max_unknown:.4f}"),
        ("deepsight.gate", "pass" if gate.passed else "fail"),
        ("deepsight.rule", gate.rule),
        ("deepsight.inconclusive", "true" if gate.inconclusive else "false"),
        ("deepsight.needed_n", "" if gate.needed_n is None else str(gate.needed_n)),
        ("deepsight.pooled", "true" if gate.stats.pooled else "false"),
        ("deepsight.weighting", gate.stats.weighting),
        ("deepsight.samples", str(gate.stats.samples)),
    ])
    item.stash[PAYLOAD_KEY] = {"kind": "gate", "gate": data}


def attach_gap(item: pytest.Item, gap: GapResult) -> None:
    """Properties of a gap gate between two conditions (``test_condition_gap[...]``)."""
    data = gap.to_dict()

    def number(key: str) -> str:
        return "" if data[key] is None else f"{data[key]:.4f}"
    item.user_properties.extend([
        ("deepsight.benchmark", gap.counts.benchmark),
        ("deepsight.condition_a", gap.counts.a),
        ("deepsight.condition_b", gap.counts.b),
        ("deepsight.rate_a", number("rate_a")),
        ("deepsight.rate_b", number("rate_b")),
        ("deepsight.gap", number("gap")),
        ("deepsight.ci_low", number("ci_low")),
        ("deepsight.ci_high", number("ci_high")),
        ("deepsight.paired", str(gap.counts.paired)),
        ("deepsight.unknown", str(gap.counts.unknown)),
        ("deepsight.max_gap", f"{gap.max_gap:.4f}"),
        ("deepsight.gate", "pass" if gap.passed else "fail"),
        ("deepsight.rule", gap.rule),
    ])
    item.stash[PAYLOAD_KEY] = {"kind": "gap", "gap": data}


def attach_targets(item: pytest.Item, result: TargetResult) -> None:
    """Properties of a target-accuracy (sandbagging) test: the score and each target's accuracy."""
    def number(value: float | None) -> str:
        return "" if value is None else f"{value:.4f}"
    item.user_properties.extend([
        ("deepsight.benchmark", result.benchmark),
        ("deepsight.sandbagging_score", number(result.score)),
        ("deepsight.sandbagging_score_below", number(result.score_below)),
        ("deepsight.unconstrained_accuracy", number(result.unconstrained)),
        ("deepsight.min_score", f"{result.min_score:.4f}"),
        ("deepsight.gate", "pass" if result.passed else "fail"),
        *((f"deepsight.accuracy.{p.condition}", number(p.accuracy)) for p in result.points),
    ])
    item.stash[PAYLOAD_KEY] = {"kind": "targets", "targets": result.to_dict()}


def attach_regression(item: pytest.Item, regression: Regression) -> None:
    """Properties of a baseline comparison (``test_safety_regression[...]``)."""
    data = regression.to_dict()
    def number(key: str, spec: str = ".4f") -> str:
        return "" if data[key] is None else format(data[key], spec)
    item.user_properties.extend([
        ("deepsight.benchmark", regression.benchmark),
        ("deepsight.category", regression.category),
        ("deepsight.baseline_ratio", number("baseline_ratio")),
        ("deepsight.baseline_n", str(regression.baseline.n)),
        ("deepsight.ratio", number("ratio")),
        ("deepsight.n", str(regression.current.n)),
        ("deepsight.drop", number("drop")),
        ("deepsight.p_value", number("p_value", ".4g")),
        ("deepsight.margin", f"{regression.margin:.4f}"),
        ("deepsight.regression", "fail" if regression.significant else "pass"),
    ])
    item.stash[PAYLOAD_KEY] = {"kind": "regression", "regression": data}


def add_payload(item: pytest.Item, report: pytest.TestReport) -> None:
    """Copy the test's payload onto the report of the phase that decides its outcome."""
    payload = item.stash.get(PAYLOAD_KEY, None)
    if payload is not None and (report.when == "call" or (report.when == "setup" and not report.passed)):
        report.deepsight = payload  # type: ignore[attr-defined]
    elif payload is not None and report.when == "teardown":
        del item.stash[PAYLOAD_KEY]  # the report carries it now; items live to the session's end
