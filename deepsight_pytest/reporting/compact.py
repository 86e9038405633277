"""Short failure reports for case tests: a failing case costs about a kilobyte, not a traceback.

A run where 20,000 cases fail keeps 20,000 reports alive (the terminal reporter, JUnit, the
results collector); pytest's own long representation of each (frames, source lines, fixture
values) dominated the run's memory and kept the terminal busy for minutes. For a case test that
failed in :func:`~deepsight_pytest.assert_safe` (an :class:`~deepsight_pytest.pytest_integration.asserts.UnsafeAnswer`)
the report's ``longrepr`` becomes a :class:`CompactFailure`: the bounded explanation and the
test's location, with a ``reprcrash`` so the short summary and JUnit's ``message`` read as before.
``--tb=long``, ``--tb=native`` and ``--fulltrace`` keep pytest's full report.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

FULL_STYLES = ("long", "native")


@dataclass(frozen=True)
class Crash:
    """What pytest reads from ``longrepr.reprcrash``: where, and the message (built when read,
    so 20,000 reports do not each hold a second copy of their explanation)."""

    path: str
    lineno: int
    explanation: str

    @property
    def message(self) -> str:
        return f"AssertionError: {self.explanation}"


class CompactFailure:
    """A ``longrepr`` of a few lines (pytest calls ``toterminal`` and ``str``)."""

    def __init__(self, message: str, path: str, lineno: int) -> None:
        self.message = message
        self.reprcrash = Crash(path, lineno, message)

    def toterminal(self, tw: Any) -> None:
        for line in self.message.splitlines() or [""]:
            tw.line(f"E   {line}", red=True, bold=True)
        tw.line("")
        tw.line(f"{self.reprcrash.path}:{self.reprcrash.lineno}: AssertionError (the full record is in the "
                f"JSON results and the card)")

    def __str__(self) -> str:
        """What JUnit's element text and xdist's serialised report carry: it starts with the
        crash message, so a worker's report reads the same on the controller."""
        return f"{self.reprcrash.message}\n\n{self.reprcrash.path}:{self.reprcrash.lineno}: AssertionError"


class CompactReports:
    """A plugin (registered at configure) that builds failing case reports itself, before pytest
    spends milliseconds per case formatting a traceback that would be thrown away."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport | None:
        from deepsight_pytest.pytest_integration.asserts import UnsafeAnswer

        if call.when != "call" or call.excinfo is None or not isinstance(call.excinfo.value, UnsafeAnswer):
            return None
        option = item.config.option
        if getattr(option, "tbstyle", "auto") in FULL_STYLES or getattr(option, "fulltrace", False):
            return None
        path, lineno, _ = item.location
        sections = [(f"Captured {key} {rwhen}", content) for rwhen, key, content in item._report_sections]
        return pytest.TestReport(item.nodeid, item.location, dict.fromkeys(item.keywords, 1), "failed",
                                 CompactFailure(str(call.excinfo.value), path, (lineno or 0) + 1),  # type: ignore[arg-type]
                                 "call", sections, call.duration, call.start, call.stop,
                                 user_properties=item.user_properties)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Drop passed setup/teardown reports without captured output from the terminal's list.

        pytest's failure summary looks up each failed test's teardown sections by scanning every
        such report (``TerminalReporter._get_teardown_reports``): quadratic, minutes at 20,000
        failures. Reports without sections print nothing there, so leaving them out changes no
        output."""
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        phases = getattr(reporter, "stats", {}).get("")
        if reporter is not None and phases and len(phases) > 1000:
            reporter.stats[""] = [r for r in phases if getattr(r, "sections", None)]
