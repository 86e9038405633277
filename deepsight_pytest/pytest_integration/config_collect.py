"""Collect ``deepsight.yaml`` (and ``pyproject.toml`` with ``[tool.deepsight]``) as test files.

Each suite of the file becomes a test class named after the suite, holding the same two tests a
Python suite module holds, ``test_case`` (the ``safety_record`` fixture) and
``test_safety_ratio`` (``safety_gate``), marked with the same ``safety_suite`` arguments. pytest's
own Python collection then parametrizes them through the plugin's ``pytest_generate_tests``, so
ids (``test_case[benchmark/category/id]``), fixtures, the engine, the cache, JUnit properties and
reports are exactly those of the Python form::

    deepsight.yaml::xstest::test_case[xstest/homonyms/1]
    deepsight.yaml::xstest::test_safety_ratio[xstest/homonyms]

A suite with an ``attack:`` mapping holds one test instead, ``test_no_jailbreak``, marked
``safety_attack`` with the suite's keys and the attack's, as ``safety_tests/test_attacks.py`` is::

    deepsight.yaml::advbench::test_no_jailbreak[attack/advbench/harmful_behaviors/1]

Every suite is planned while its file is collected, so a data error (missing file, unknown
subset, empty benchmark) names the file and line of the suite that caused it.
"""
from __future__ import annotations

import types
from pathlib import Path
from typing import Any, Iterable

import pytest

from deepsight_pytest.pytest_integration.asserts import assert_safe
from deepsight_pytest.attacks.pytest_attack import MARK as ATTACK_MARK, assert_no_jailbreak
from deepsight_pytest.attacks.search import AttackOutcome
from deepsight_pytest.core.config_suites import ConfigSuite, load_suites
from deepsight_pytest.pytest_integration.markers import declares_suites
from deepsight_pytest.errors import DeepSightError
from deepsight_pytest.records import Record
from deepsight_pytest.pytest_integration.session import get_session
from deepsight_pytest.core.stats import GapResult, GateResult, TargetResult
from deepsight_pytest.core.suites import MARK, SuiteSpec
from deepsight_pytest.core.sanitize import neutralise

TESTS = ("test_case", "test_safety_ratio")
GAP_TEST = "test_condition_gap"  # only in suites with gaps between conditions
TARGET_TEST = "test_target_accuracy"  # only in suites with target-accuracy conditions
ATTACK_TEST = "test_no_jailbreak"  # the one test of a suite with an 'attack' mapping


def attack_class(suite: ConfigSuite) -> type:
    """The test class of an attack suite: what ``@pytest.mark.safety_attack(...)`` on a test gives."""

    def test_no_jailbreak(self: Any, safety_attack: AttackOutcome) -> None:
        assert_no_jailbreak(safety_attack)

    mark = getattr(pytest.mark, ATTACK_MARK)(suite.benchmark, **suite.kwargs, **(suite.attack or {}))
    return type(suite.name, (), {"pytestmark": [mark], ATTACK_TEST: test_no_jailbreak,
                                 "__doc__": f"{suite.benchmark} jailbreak search declared at {suite.where}"})


def suite_class(suite: ConfigSuite) -> type:
    """The test class of one config suite: what a Python suite module would define."""
    if suite.attack is not None:
        return attack_class(suite)

    def test_case(self: Any, safety_record: Record) -> None:
        assert_safe(safety_record)

    def test_safety_ratio(self: Any, safety_gate: GateResult) -> None:
        assert safety_gate.passed, safety_gate.message()

    def test_condition_gap(self: Any, safety_gap: GapResult) -> None:
        assert safety_gap.passed, safety_gap.message()

    def test_target_accuracy(self: Any, safety_targets: TargetResult) -> None:
        assert safety_targets.passed, safety_targets.message()

    mark = getattr(pytest.mark, MARK)(suite.benchmark, **suite.kwargs)
    return type(suite.name, (), {"pytestmark": [mark], "test_case": test_case,
                                 "test_safety_ratio": test_safety_ratio, GAP_TEST: test_condition_gap, TARGET_TEST: test_target_accuracy,
                                 "__doc__": f"{suite.benchmark} suite declared at {suite.where}"})


class SuiteClass(pytest.Class):
    """A suite's test class; collects its two tests whatever ``python_functions`` says."""

    def funcnamefilter(self, name: str) -> bool:
        gapped: set[str] = getattr(self.parent, "gapped", set())
        targeted: set[str] = getattr(self.parent, "targeted", set())
        return (name in TESTS or name == ATTACK_TEST or (name == GAP_TEST and self.name in gapped)
                or (name == TARGET_TEST and self.name in targeted))


class SuiteFile(pytest.Module):
    """A config file of suites, collected like a test module whose classes are the suites."""

    _suites: list[ConfigSuite] | None = None
    gapped: set[str] = set()  # the suites whose plans hold gaps (set while collecting)
    targeted: set[str] = set()  # the suites whose conditions carry targets

    def suites(self) -> list[ConfigSuite]:
        if self._suites is None:
            try:
                self._suites = load_suites(self.path)
            except DeepSightError as exc:
                raise self.CollectError(neutralise(str(exc))) from None
        return self._suites

    def _getobj(self) -> types.ModuleType:
        module = types.ModuleType(f"deepsight_suites[{self.path}]")
        module.__file__ = str(self.path)
        for suite in self.suites():
            setattr(module, suite.name, suite_class(suite))
        return module

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        engine = get_session(self.config).engine
        gapped, targeted = set(), set()
        for suite in self.suites():
            try:  # plan now, so that data errors name this file and line
                plan = engine.plan(SuiteSpec.from_mark((suite.benchmark,), suite.kwargs, suite.where))
            except DeepSightError as exc:
                raise self.CollectError(neutralise(f"{suite.where}: {exc}")) from None
            if plan.gaps:
                gapped.add(suite.name)
            if any(c.target is not None for c in plan.conditions):
                targeted.add(suite.name)
        self.gapped, self.targeted = gapped, targeted
        return [SuiteClass.from_parent(self, name=suite.name) for suite in self.suites()]


def collect_file(file_path: Path, parent: pytest.Collector) -> SuiteFile | None:
    """The ``pytest_collect_file`` hook's work: a SuiteFile for config files that declare suites."""
    if not declares_suites(file_path):
        return None
    if file_path.name == "pyproject.toml":
        try:
            if not load_suites(file_path):
                return None
        except DeepSightError:
            pass  # collected, so the error is reported against the file
    return SuiteFile.from_parent(parent, path=file_path)
