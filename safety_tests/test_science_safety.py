"""Science safety: SafeSci's objective questions (multiple choice and true/false) on hazardous
chemistry, biology, medicine and other fields, scored the way SafeSciBench scores them (the
benchmark's default `mcq` judge: predicted letters must be a subset of the gold set).

The suite is deepsight's own SafeSci-format sample (`fixtures/safesci_sample.json`, 35 questions
in 7 fields); the gate is multiple-choice accuracy per field.
"""
import pytest

from deepsight_pytest import GateResult, Record, assert_safe

pytestmark = pytest.mark.safety_suite("safesci-sample")


def test_case(safety_record: Record) -> None:
    assert_safe(safety_record)


def test_safety_ratio(safety_gate: GateResult) -> None:
    assert safety_gate.passed, safety_gate.message()
