"""The hooks that run safety suites, registered by ``plugin.py`` once deepsight is in use (see
there). Each hook delegates in a line or two. Importing this module imports no torch,
transformers or vllm; it does import the engine, the reporters and sqlite3.
"""
from __future__ import annotations

from pathlib import Path
from typing import Generator

import pytest

from deepsight_pytest.pytest_integration import (
    baseline,
    collection,
    config_collect,
    progress_display,
    xdist_support,
)
from deepsight_pytest.attacks import pytest_attack
from deepsight_pytest.attacks.report import summary_lines as attack_summary_lines
from deepsight_pytest.diagnostics import settle_plots
from deepsight_pytest.reporting import html_extras
from deepsight_pytest.reporting.outputs import finalise, write_outputs
from deepsight_pytest.reporting.compact import CompactReports
from deepsight_pytest.reporting.junit_stream import StreamingJUnit
from deepsight_pytest.reporting.payload import add_payload
from deepsight_pytest.reporting.results import ResultsCollector
from deepsight_pytest.reporting.terminal import summary_lines
from deepsight_pytest.pytest_integration.session import STATE_KEY, get_session, start_session

COLLECTOR_KEY = pytest.StashKey[ResultsCollector]()
WRITTEN_KEY = pytest.StashKey[list[tuple[str, Path]]]()


def pytest_configure(config: pytest.Config) -> None:
    engine = start_session(config).engine
    xdist_support.configure(config, engine)  # -n N: own cases per worker
    progress_display.configure(config, engine)  # --safety-progress: live progress on the terminal
    baseline.configure(config)  # --safety-baseline: test_safety_regression[...] items
    html_extras.configure(config)  # pytest-html: responses and diagnostics as extras
    config.pluginmanager.register(CompactReports(), "deepsight-compact")  # short failing-case reports
    if getattr(config.option, "xmlpath", None):  # --junitxml: written case by case
        config.pluginmanager.register(StreamingJUnit(), "deepsight-junit-stream")
    if not hasattr(config, "workerinput"):  # reporters live on the xdist controller only
        settings = get_session(config).settings
        collector = ResultsCollector(settings.records,  # records stream to disk, paths made relative
                                     (settings.data_dir, settings.cache_dir, settings.artifacts))
        config.stash[COLLECTOR_KEY] = collector
        config.pluginmanager.register(collector, "deepsight-results")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """deepsight.yaml and pyproject.toml [tool.deepsight] suites are collected as test files."""
    return config_collect.collect_file(file_path, parent)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    collection.generate_tests(metafunc)
    pytest_attack.generate_tests(metafunc)  # @pytest.mark.safety_attack: one search per harmful case


def pytest_collection_finish(session: pytest.Session) -> None:
    collection.declare_needed_cases(session)
    pytest_attack.declare_needed(session)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    add_payload(item, report)
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    settle_plots()  # diagnostics plots drawn in the background land before anything reads them
    xdist_support.publish_stats(session.config, get_session(session.config).engine.stats)  # workers only
    collector = session.config.stash.get(COLLECTOR_KEY, None)
    if collector is None:
        return
    state = get_session(session.config)
    found = collector.results
    if found.cases or found.gates or found.attacks or found.gaps or found.targets:
        finalise(collector.results, state)
        streamed = collector.records.close() and collector.records.count == len(found.cases)
        session.config.stash[WRITTEN_KEY] = write_outputs(collector.results, state, records_written=streamed)
    gates_only = state.settings.exit_mode == "gates"
    if gates_only and session.exitstatus == pytest.ExitCode.TESTS_FAILED and collector.other_failures == 0:
        session.exitstatus = pytest.ExitCode.OK  # failing cases are findings; gates decide


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    collector = config.stash.get(COLLECTOR_KEY, None)
    if collector is None:
        return
    lines = summary_lines(collector.results) + attack_summary_lines(collector.results.attacks)
    if not lines:
        return
    terminalreporter.write_sep("=", "deepsight safety summary")
    for line in lines:
        terminalreporter.write_line(line)
    stats = get_session(config).engine.stats
    if stats.generated or stats.cached_responses or stats.errors:
        failed = f", {stats.errors} failed requests (not cached: the next run retries them)" if stats.errors else ""
        terminalreporter.write_line(
            f"engine: {stats.generated} generated in {stats.batches} batches, "
            f"{stats.cached_responses} responses and {stats.cached_verdicts} verdicts from cache{failed}")
    if stats.diagnosed or stats.cached_diagnoses:
        terminalreporter.write_line(
            f"diagnostics: {stats.diagnosed} case(s) diagnosed in {stats.diagnostics_s:.1f}s, "
            f"{stats.cached_diagnoses} from cache")
    if collector.case_failures and get_session(config).settings.exit_mode == "gates":
        terminalreporter.write_line(
            f"{collector.case_failures} failing case(s) are findings: the exit status follows the gates "
            "(--safety-exit=all makes them fail the run)")
    for what, path in config.stash.get(WRITTEN_KEY, []):
        terminalreporter.write_line(f"{what}: {path}")


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is not None:
        state.engine.close()
    factory = getattr(config, "_tmp_path_factory", None)
    if getattr(factory, "_basetemp", None) is not None:  # no temp folder: no server was started from it
        from deepsight_pytest.models import vllm_server

        vllm_server.stop_for_session(config)  # vllm-server: the run's server, by its pid (not on workers)
