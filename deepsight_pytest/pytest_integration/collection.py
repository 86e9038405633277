"""Collection: turn ``safety_suite`` marks into parametrized case tests and gate tests.

Case tests take the ``safety_record`` fixture and get ids ``benchmark/category/case-id``; gate
tests take ``safety_gate`` and get ids ``benchmark/category``, plus one pooled gate ``benchmark``
over all the suite's cases when it has two or more categories. Ids depend only on the data, so
``-k``, ``--lf`` and JUnit names are stable across runs.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from deepsight_pytest.errors import DeepSightError
from deepsight_pytest.pytest_integration.session import get_session
from deepsight_pytest.core.stats import POOLED
from deepsight_pytest.core.suites import MARK, SuiteSpec
from deepsight_pytest.core.sanitize import neutralise

CASE_FIXTURE = "safety_record"
GATE_FIXTURE = "safety_gate"
GAP_FIXTURE = "safety_gap"
TARGET_FIXTURE = "safety_targets"


@dataclass(frozen=True)
class CaseParam:
    suite: str
    uid: str


@dataclass(frozen=True)
class GateParam:
    suite: str
    category: str


@dataclass(frozen=True)
class TargetParam:
    suite: str


@dataclass(frozen=True)
class GapParam:
    suite: str
    a: str
    b: str


def generate_tests(metafunc: pytest.Metafunc) -> None:
    wants_case = CASE_FIXTURE in metafunc.fixturenames
    wants_gate = GATE_FIXTURE in metafunc.fixturenames
    wants_gap = GAP_FIXTURE in metafunc.fixturenames
    wants_targets = TARGET_FIXTURE in metafunc.fixturenames
    if not (wants_case or wants_gate or wants_gap or wants_targets):
        return
    where = metafunc.definition.nodeid
    mark = metafunc.definition.get_closest_marker(MARK)
    if mark is None:
        raise pytest.Collector.CollectError(
            f"{where}: uses a safety fixture ({', '.join(n for n in metafunc.fixturenames if n.startswith('safety_'))}) but has no "
            f"@pytest.mark.{MARK}(...) on the test, its class or its module")
    try:
        plan = get_session(metafunc.config).engine.plan(SuiteSpec.from_mark(mark.args, mark.kwargs, where))
    except DeepSightError as exc:
        raise pytest.Collector.CollectError(neutralise(f"{where}: {exc}")) from None
    if wants_case:
        metafunc.parametrize(CASE_FIXTURE, [CaseParam(plan.key, c.uid) for c in plan.cases],
                             ids=[c.uid for c in plan.cases], indirect=True)
    if wants_gate:  # one gate per category, then the pooled gate ``benchmark`` (two or more categories)
        categories = plan.gate_categories
        metafunc.parametrize(GATE_FIXTURE, [GateParam(plan.key, c) for c in categories],
                             ids=[gate_id(plan.benchmark.name, c) for c in categories], indirect=True)
    if wants_targets:
        if not any(c.target is not None for c in plan.conditions):
            raise pytest.Collector.CollectError(
                f"{where}: uses {TARGET_FIXTURE} but its suite has no conditions with a target")
        metafunc.parametrize(TARGET_FIXTURE, [TargetParam(plan.key)], ids=[plan.benchmark.name], indirect=True)
    if wants_gap:
        if not plan.gaps:
            raise pytest.Collector.CollectError(
                f"{where}: uses {GAP_FIXTURE} but its suite declares no gaps between conditions "
                f"(conditions: {', '.join(c.name for c in plan.conditions) or 'none'}); pass gaps=['a-vs-b']")
        metafunc.parametrize(GAP_FIXTURE, [GapParam(plan.key, a, b) for a, b in plan.gaps],
                             ids=[f"{plan.benchmark.name}/{a}-vs-{b}" for a, b in plan.gaps], indirect=True)



def gate_id(benchmark: str, category: str) -> str:
    """``benchmark/category``, or ``benchmark`` for the pooled gate."""
    return benchmark if category == POOLED else f"{benchmark}/{category}"


def declare_needed_cases(session: pytest.Session) -> None:
    """After deselection, tell the engine which cases this process will need (and no more)."""
    engine = get_session(session.config).engine
    for item in session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        case = params.get(CASE_FIXTURE)
        gate = params.get(GATE_FIXTURE)
        gap = params.get(GAP_FIXTURE)
        targets = params.get(TARGET_FIXTURE)
        if isinstance(targets, TargetParam):
            plan = engine.suite(targets.suite)
            engine.need(targets.suite, {c.uid for c in plan.cases if c.condition is not None})
        if isinstance(gap, GapParam):
            engine.need(gap.suite, {c.uid for c in engine.suite(gap.suite).cases if c.condition in (gap.a, gap.b)})
        if isinstance(case, CaseParam):
            engine.need(case.suite, {case.uid})
        if isinstance(gate, GateParam):
            plan = engine.suite(gate.suite)
            engine.need(gate.suite, {c.uid for c in plan.cases_in(gate.category)})
