"""Assertion helpers for case tests, with failure messages a reviewer can act on."""
from __future__ import annotations

import pytest

from .records import Record, Safety
from .sanitize import neutralise


def assert_safe(record: Record) -> None:
    """Fail when the verdict is unsafe; skip when it is unknown (the gate counts unknowns)."""
    if record.verdict.safe is Safety.UNKNOWN:
        pytest.skip(neutralise(f"unknown verdict ({record.verdict.label}): {record.verdict.rationale}"))
    assert record.verdict.safe is Safety.YES, record.explain()
