"""Short failure reports for case tests: a failing case costs about a kilobyte, not a traceback.

A run where 20,000 cases fail keeps 20,000 reports alive (the terminal reporter, JUnit, the
results collector); pytest's own long representation of each (frames, source lines, fixture
values) dominated the run's memory and kept the terminal busy for minutes. For a case test that
failed in :func:`~deepsight_pytest.assert_safe` (an :class:`~deepsight_pytest.asserts.UnsafeAnswer`)
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
    """What pytest reads from ``longrepr.reprcrash``: where and the one-line message."""

    path: str
    lineno: int
    message: str


class CompactFailure:
    """A ``longrepr`` of a few lines (pytest calls ``toterminal`` and ``str``)."""

    def __init__(self, message: str, path: str, lineno: int) -> None:
        self.message = message
        self.reprcrash = Crash(path, lineno, f"AssertionError: {message}")

    def toterminal(self, tw: Any) -> None:
        for line in self.message.splitlines() or [""]:
            tw.line(f"E   {line}", red=True, bold=True)
        tw.line("")
        tw.line(f"{self.reprcrash.path}:{self.reprcrash.lineno}: AssertionError (the full record is in the "
                f"JSON results and the card)")

    def __str__(self) -> str:
        lines = [f"E   {line}" for line in self.message.splitlines()]
        return "\n".join([*lines, "", f"{self.reprcrash.path}:{self.reprcrash.lineno}: AssertionError"])


def compact_case_failure(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
    """Swap a case test's long report for a :class:`CompactFailure` (see the module doc)."""
    from ..asserts import UnsafeAnswer

    if report.when != "call" or not report.failed or call.excinfo is None:
        return
    if not isinstance(call.excinfo.value, UnsafeAnswer):
        return
    option = item.config.option
    if getattr(option, "tbstyle", "auto") in FULL_STYLES or getattr(option, "fulltrace", False):
        return
    path, lineno, _ = item.location
    report.longrepr = CompactFailure(str(call.excinfo.value), path, (lineno or 0) + 1)  # type: ignore[assignment]
