"""pytest entry point of deepsight-pytest: options, marks and fixtures; the rest loads on demand.

Everyone who installs the plugin pays for this module on every test run, so it imports only what
option parsing needs. The hooks that run safety suites (``hooks.py``, and through it the engine,
the reporters, sqlite3) are registered as a second plugin:

* at configure time when deepsight is configured at all (any of its options on the command line,
  in the environment or in the ini file; an xdist run, whose workers and controller must agree);
* else on the first sign during collection: a ``deepsight.yaml`` or ``[tool.deepsight]``
  pyproject, a test with a deepsight mark or safety fixture, or a deepsight fixture being set up.

A session of unrelated tests never imports them (``bench/startup.py`` measures the difference).
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from deepsight_pytest.pytest_integration.markers import MARKS, SAFETY_FIXTURES, declares_suites
from deepsight_pytest.pytest_integration.options import OPTIONS, add_options

# Config suites' tests assert like a Python suite module's, so failures read the same in both forms.
pytest.register_assert_rewrite("deepsight_pytest.pytest_integration.config_collect")

HOOKS_NAME = "deepsight-hooks"


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    for help_text in MARKS.values():
        config.addinivalue_line("markers", help_text)
    if _configured(config):
        activate(config)


def _configured(config: pytest.Config) -> bool:
    """Whether this session sets any deepsight option, or runs under xdist."""
    if hasattr(config, "workerinput") or getattr(config.option, "numprocesses", None):
        return True
    for option in OPTIONS:
        if config.getoption(option.dest) not in (None, False) or os.environ.get(option.env):
            return True
        if config.getini(option.ini) not in (None, "", []):
            return True
    return False


def activate(config: pytest.Config) -> ModuleType:
    """Register the safety-suite hooks (once); their ``pytest_configure`` runs on registration."""
    hooks = config.pluginmanager.get_plugin(HOOKS_NAME)
    if hooks is None:
        hooks = importlib.import_module(".pytest_integration.hooks", __package__)
        config.pluginmanager.register(hooks, HOOKS_NAME)
    return hooks


def _active(config: pytest.Config) -> bool:
    return config.pluginmanager.has_plugin(HOOKS_NAME)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """deepsight.yaml and pyproject.toml [tool.deepsight] suites: the first one activates deepsight
    (afterwards the hooks module collects them itself)."""
    if _active(parent.config) or not declares_suites(file_path):
        return None
    return activate(parent.config).pytest_collect_file(file_path, parent)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The first test with a deepsight mark or safety fixture activates deepsight and is
    parametrised by it (this call's hook list was taken before the hooks module registered)."""
    if _active(metafunc.config):
        return
    marked = any(metafunc.definition.get_closest_marker(name) is not None for name in MARKS)
    if marked or SAFETY_FIXTURES.intersection(metafunc.fixturenames):
        activate(metafunc.config).pytest_generate_tests(metafunc)


def _use(request: pytest.FixtureRequest, module: str, name: str) -> Any:
    activate(request.config)
    return getattr(importlib.import_module(module, __package__), name)(request)


@pytest.fixture
def safety_record(request: pytest.FixtureRequest) -> Any:
    """The record (case, response, verdict) of this test's benchmark case."""
    return _use(request, ".pytest_integration.fixtures", "safety_record")


@pytest.fixture
def safety_gate(request: pytest.FixtureRequest) -> Any:
    """The safety-ratio gate of this test's benchmark category."""
    return _use(request, ".pytest_integration.fixtures", "safety_gate")


@pytest.fixture
def safety_gap(request: pytest.FixtureRequest) -> Any:
    """The gap gate between two conditions of this test's suite (``gaps=['a-vs-b']``)."""
    return _use(request, ".pytest_integration.fixtures", "safety_gap")


@pytest.fixture
def safety_targets(request: pytest.FixtureRequest) -> Any:
    """Accuracy under each target-accuracy condition and the sandbagging score of this suite."""
    return _use(request, ".pytest_integration.fixtures", "safety_targets")


@pytest.fixture
def safety_needs_images(request: pytest.FixtureRequest) -> Any:
    """Skip, saying why, when the model cannot see images and ``--safety-text-only`` is not given."""
    return _use(request, ".pytest_integration.fixtures", "safety_needs_images")


@pytest.fixture(scope="session")
def model(request: pytest.FixtureRequest) -> Any:
    """The model under test (``--model``), created on first use and shared by the session."""
    return _use(request, ".pytest_integration.fixtures", "model")


@pytest.fixture(scope="session")
def judge(request: pytest.FixtureRequest) -> Any:
    """The run's default judge (``--judge``)."""
    return _use(request, ".pytest_integration.fixtures", "judge")


@pytest.fixture(scope="session")
def deepscan(request: pytest.FixtureRequest) -> Any:
    """White-box diagnostics of the model under test: ``deepscan.run("xboundary", n=16)``,
    ``deepscan.references()``, ``deepscan.attach(records)``. Reference sets and results are
    cached on disk per model."""
    return _use(request, ".diagnostics.fixtures", "deepscan")


@pytest.fixture
def deepscan_check(request: pytest.FixtureRequest) -> Any:
    """The result of this test's ``@pytest.mark.deepscan(method, ...)`` against its bounds."""
    return _use(request, ".diagnostics.fixtures", "deepscan_check")


@pytest.fixture
def safety_attack(request: pytest.FixtureRequest) -> Any:
    """The finished search of this test's harmful case (see ``assert_no_jailbreak``)."""
    return _use(request, ".attacks.pytest_attack", "safety_attack")
