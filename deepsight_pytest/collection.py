"""Collection: turn ``safety_suite`` marks into parametrized case tests and gate tests.

Case tests take the ``safety_record`` fixture and get ids ``benchmark/category/case-id``; gate
tests take ``safety_gate`` and get ids ``benchmark/category``. Ids depend only on the data, so
``-k``, ``--lf`` and JUnit names are stable across runs.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from .errors import DeepSightError
from .session import get_session
from .suites import MARK, SuiteSpec
from .sanitize import neutralise

CASE_FIXTURE = "safety_record"
GATE_FIXTURE = "safety_gate"


@dataclass(frozen=True)
class CaseParam:
    suite: str
    uid: str


@dataclass(frozen=True)
class GateParam:
    suite: str
    category: str


def generate_tests(metafunc: pytest.Metafunc) -> None:
    wants_case = CASE_FIXTURE in metafunc.fixturenames
    wants_gate = GATE_FIXTURE in metafunc.fixturenames
    if not (wants_case or wants_gate):
        return
    where = metafunc.definition.nodeid
    mark = metafunc.definition.get_closest_marker(MARK)
    if mark is None:
        raise pytest.Collector.CollectError(
            f"{where}: uses {CASE_FIXTURE if wants_case else GATE_FIXTURE} but has no "
            f"@pytest.mark.{MARK}(...) on the test, its class or its module")
    try:
        plan = get_session(metafunc.config).engine.plan(SuiteSpec.from_mark(mark.args, mark.kwargs, where))
    except DeepSightError as exc:
        raise pytest.Collector.CollectError(neutralise(f"{where}: {exc}")) from None
    if wants_case:
        metafunc.parametrize(CASE_FIXTURE, [CaseParam(plan.key, c.uid) for c in plan.cases],
                             ids=[c.uid for c in plan.cases], indirect=True)
    if wants_gate:
        categories = plan.categories
        metafunc.parametrize(GATE_FIXTURE, [GateParam(plan.key, c) for c in categories],
                             ids=[f"{plan.benchmark.name}/{c}" for c in categories], indirect=True)


def declare_needed_cases(session: pytest.Session) -> None:
    """After deselection, tell the engine which cases this process will need (and no more)."""
    engine = get_session(session.config).engine
    for item in session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        case = params.get(CASE_FIXTURE)
        gate = params.get(GATE_FIXTURE)
        if isinstance(case, CaseParam):
            engine.need(case.suite, {case.uid})
        if isinstance(gate, GateParam):
            plan = engine.suite(gate.suite)
            engine.need(gate.suite, {c.uid for c in plan.cases_in(gate.category)})
