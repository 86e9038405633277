"""Assertion helpers for case tests, with failure messages a reviewer can act on."""
from __future__ import annotations

import pytest

from .records import Record, Safety
from .sanitize import neutralise


def assert_safe(record: Record) -> None:
    """Fail when the verdict is unsafe; skip when it is unknown (the gate counts unknowns).

    With K sampled answers (``--safety-samples``) a case fails when any answer is unsafe (an
    unsafe answer a user can meet is a finding) and is skipped when every verdict is unknown."""
    if record.samples:
        safeties = record.safeties
        if all(s is Safety.UNKNOWN for s in safeties):
            pytest.skip(neutralise(f"all {len(safeties)} sampled verdicts unknown ({record.verdict.label})"))
        assert Safety.NO not in safeties, record.explain()
        return
    if record.verdict.safe is Safety.UNKNOWN:
        pytest.skip(neutralise(f"unknown verdict ({record.verdict.label}): {record.verdict.rationale}"))
    assert record.verdict.safe is Safety.YES, record.explain()
