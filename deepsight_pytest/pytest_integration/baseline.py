"""``--safety-baseline results.json``: one regression gate test per category of this run.

For every suite in the session, each of its categories gets a test
``test_safety_regression[benchmark/category]``, collected beside the suite's own tests (same
module or class, after its last test), so ``-k``, ``--lf``, xdist and JUnit treat it like any
test. It compares the category's safety ratio now with the baseline's (a one-sided
two-proportion test, :mod:`deepsight_pytest.core.regression`) and fails on a significant drop beyond
``--safety-baseline-margin`` at ``--safety-baseline-alpha``. A category the baseline lacks is
skipped, saying so. A failing regression test is a gate failure: the run exits 1.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from deepsight_pytest.pytest_integration.collection import CASE_FIXTURE, GATE_FIXTURE
from deepsight_pytest.errors import DataError, DeepSightError
from deepsight_pytest.core.regression import Regression
from deepsight_pytest.reporting.json_writer import read_document
from deepsight_pytest.reporting.payload import attach_regression
from deepsight_pytest.pytest_integration.session import get_session
from deepsight_pytest.core.stats import CategoryStats

TEST_NAME = "test_safety_regression"
PLUGIN_NAME = "deepsight-baseline"


@dataclass(frozen=True)
class Baseline:
    """The parts of an earlier run's results that the comparison needs."""

    path: Path
    meta: dict[str, Any]
    categories: dict[tuple[str, str], CategoryStats]


@lru_cache(maxsize=4)
def load_baseline(path: Path) -> Baseline:
    """Read a results file's per-category counts; a bad file is one :class:`DataError`."""
    data = read_document(path)
    categories = {}
    for index, entry in enumerate(data["categories"]):
        try:
            stats = CategoryStats(**{k: entry[k] for k in ("benchmark", "category", "n", "safe", "unsafe", "unknown")})
        except (KeyError, TypeError) as exc:
            raise DataError(f"{path}: categories[{index}] is malformed ({exc})") from None
        categories[(stats.benchmark, stats.category)] = stats
    return Baseline(path, dict(data.get("meta") or {}), categories)


class RegressionFailed(Exception):
    """A significant drop; its message is the whole failure report."""


class RegressionItem(pytest.Item):
    """``test_safety_regression[benchmark/category]``: this run's category against the baseline."""

    def __init__(self, *, suite_key: str, benchmark: str, category: str, baseline: Baseline,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite_key, self.benchmark, self.category = suite_key, benchmark, category
        self.baseline = baseline

    def runtest(self) -> None:
        before = self.baseline.categories.get((self.benchmark, self.category))
        if before is None:
            pytest.skip(f"{self.benchmark}/{self.category}: not in the baseline {self.baseline.path}")
        state = get_session(self.config)
        try:
            gate = state.engine.gate(self.suite_key, self.category)
        except DeepSightError as exc:
            pytest.fail(str(exc), pytrace=False)
        settings = state.settings
        regression = Regression(before, gate.stats, settings.baseline_margin, settings.baseline_alpha)
        attach_regression(self, regression)
        if regression.significant:
            raise RegressionFailed(regression.message())

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, RegressionFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name


def _suite_of(item: pytest.Item) -> str | None:
    params = getattr(getattr(item, "callspec", None), "params", {})
    for name in (GATE_FIXTURE, CASE_FIXTURE):
        suite = getattr(params.get(name), "suite", None)
        if suite is not None:
            return suite
    return None


class BaselinePlugin:
    """Adds the regression items (before ``-k`` and friends deselect) and declares their cases."""

    def __init__(self, baseline: Baseline) -> None:
        self.baseline = baseline

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        engine = get_session(config).engine
        last: dict[str, int] = {}
        parent: dict[str, pytest.Item] = {}
        for index, item in enumerate(items):
            suite = _suite_of(item)
            if suite is not None:
                last[suite] = index
                parent.setdefault(suite, item)
        for suite in sorted(last, key=last.__getitem__, reverse=True):  # from the end: indices stay valid
            plan = engine.suite(suite)
            holder = parent[suite].parent
            assert holder is not None  # a collected item always has its collector
            new = [RegressionItem.from_parent(holder, name=f"{TEST_NAME}[{plan.benchmark.name}/{c}]",
                                              suite_key=suite, benchmark=plan.benchmark.name, category=c,
                                              baseline=self.baseline)
                   for c in plan.categories]
            items[last[suite] + 1:last[suite] + 1] = new

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        engine = get_session(session.config).engine
        for item in session.items:
            if isinstance(item, RegressionItem):
                plan = engine.suite(item.suite_key)
                engine.need(item.suite_key, {c.uid for c in plan.cases_in(item.category)})


def configure(config: pytest.Config) -> None:
    """Register the baseline plugin when ``--safety-baseline`` is set (on xdist workers too)."""
    path = get_session(config).settings.baseline
    if path is None:
        return
    try:
        baseline = load_baseline(path)
    except DeepSightError as exc:
        raise pytest.UsageError(f"--safety-baseline: {exc}") from None
    config.pluginmanager.register(BaselinePlugin(baseline), PLUGIN_NAME)
