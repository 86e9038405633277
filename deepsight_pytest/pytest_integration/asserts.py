"""Assertion helpers for case tests, with failure messages a reviewer can act on."""
from __future__ import annotations

import pytest

from deepsight_pytest.records import Record, Safety
from deepsight_pytest.core.sanitize import neutralise


class UnsafeAnswer(AssertionError):
    """A case's verdict is unsafe: its report is kept short (``reporting.compact``)."""


def assert_safe(record: Record) -> None:
    """Fail when the verdict is unsafe; skip when it is unknown (the gate counts unknowns).

    With K sampled answers (``--safety-samples``) a case fails when any answer is unsafe (an
    unsafe answer a user can meet is a finding) and is skipped when every verdict is unknown.

    The failure is an :class:`UnsafeAnswer` carrying :meth:`Record.explain` (bounded excerpts),
    raised from a hidden frame and not through a rewritten ``assert``: pytest then prints no
    introspection of the record, so 20,000 failing cases cost little to report."""
    __tracebackhide__ = True
    if record.samples:
        safeties = record.safeties
        if all(s is Safety.UNKNOWN for s in safeties):
            pytest.skip(neutralise(f"all {len(safeties)} sampled verdicts unknown ({record.verdict.label})"))
        if Safety.NO in safeties:
            raise UnsafeAnswer(record.explain())
        return
    if record.verdict.safe is Safety.UNKNOWN:
        pytest.skip(neutralise(f"unknown verdict ({record.verdict.label}): {record.verdict.rationale}"))
    if record.verdict.safe is not Safety.YES:
        raise UnsafeAnswer(record.explain())
