"""deepsight-pytest: language-model safety as a pytest suite.

Public API for test authors: the ``safety_suite`` mark (``pytest.mark.safety_suite``), the
``safety_record`` / ``safety_gate`` / ``safety_gap`` / ``model`` / ``judge`` fixtures, and the record types below.
The names below are imported on first use (PEP 562), so that loading the pytest plugin, which
imports this package, costs an unrelated test session nothing.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the module defining it
_EXPORTS = {
    "assert_safe": ".pytest_integration.asserts",
    "assert_no_jailbreak": ".attacks.pytest_attack",
    **dict.fromkeys(("Case", "Expect", "Record", "Response", "Safety", "Sample", "Verdict"), ".records"),
    "Condition": ".core.conditions",
    **dict.fromkeys(("GapResult", "GateResult", "TargetResult"), ".core.stats"),
}

__all__ = ["Case", "Condition", "Expect", "GapResult", "GateResult", "Record", "Response", "Safety", "Sample",
           "TargetResult", "Verdict", "__version__",
           "assert_no_jailbreak", "assert_safe"]

if TYPE_CHECKING:
    from deepsight_pytest.pytest_integration.asserts import assert_safe  # noqa: F401
    from deepsight_pytest.attacks.pytest_attack import assert_no_jailbreak  # noqa: F401
    from deepsight_pytest.core.conditions import Condition  # noqa: F401
    from deepsight_pytest.records import Case, Expect, Record, Response, Safety, Sample, Verdict  # noqa: F401
    from deepsight_pytest.core.stats import GapResult, GateResult, TargetResult  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
