"""deepsight-pytest: language-model safety as a pytest suite.

Public API for test authors: the ``safety_suite`` mark (``pytest.mark.safety_suite``), the
``safety_record`` / ``safety_gate`` / ``safety_gap`` / ``model`` / ``judge`` fixtures, and the record types below.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .asserts import assert_safe  # noqa: E402
from .attacks.pytest_attack import assert_no_jailbreak  # noqa: E402
from .records import Case, Expect, Record, Response, Safety, Sample, Verdict  # noqa: E402
from .conditions import Condition  # noqa: E402
from .stats import GapResult, GateResult, TargetResult  # noqa: E402

__all__ = ["Case", "Condition", "Expect", "GapResult", "GateResult", "Record", "Response", "Safety", "Sample",
           "TargetResult", "Verdict", "__version__",
           "assert_no_jailbreak", "assert_safe"]
