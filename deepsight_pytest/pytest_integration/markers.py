"""What pytest must know before deepsight is known to be used: mark names and help, the fixtures
that belong to a safety suite, the config-suite file names. Imports nothing (plugin start-up)."""
from __future__ import annotations

SUITE_MARK = "safety_suite"
DEEPSCAN_MARK = "deepscan"
ATTACK_MARK = "safety_attack"

SUITE_HELP = (
    f"{SUITE_MARK}(benchmark, *, subset=None, sample=None, seed=None, threshold=None, thresholds=None, "
    "judge=None, max_new_tokens=None, hub=None, path=None, conditions=None, gaps=None, max_gap=None, "
    "min_score=None, judge_view=None): "
    "bind the tests that use the safety_record, safety_gate, safety_gap and safety_targets fixtures to a benchmark"
)
DEEPSCAN_HELP = (f"{DEEPSCAN_MARK}(method, **params, **bounds): run a DeepScan method (xboundary, tellme, spin, "
                 "mi_peaks) on the model under test for the deepscan_check fixture; bounds: <metric>=(lo, hi), "
                 "<metric>_min=x, <metric>_max=x")
ATTACK_HELP = (f"{ATTACK_MARK}(benchmark, *, mutators=None, max_examples=None, max_chain=None, guard=None, "
               "sample=None, subset=None, judge=None, ...): search mutator chains (Hypothesis) for a jailbreak of "
               "each harmful case of the benchmark; tests take the safety_attack fixture")
MARKS = {SUITE_MARK: SUITE_HELP, DEEPSCAN_MARK: DEEPSCAN_HELP, ATTACK_MARK: ATTACK_HELP}

#: fixtures only a deepsight test asks for (``model`` and ``judge`` are common names: they load the
#: engine when used, not when a test merely names them)
SAFETY_FIXTURES = frozenset({"safety_record", "safety_gate", "safety_gap", "safety_targets", "safety_attack",
                             "safety_needs_images",
                             "deepscan", "deepscan_check"})

YAML_NAMES = ("deepsight.yaml", "deepsight.yml")


def declares_suites(path: "object") -> bool:
    """Whether pytest should collect this file as config suites (cheap for pyproject.toml)."""
    name = getattr(path, "name", "")
    if name in YAML_NAMES:
        return True
    if name != "pyproject.toml":
        return False
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:  # type: ignore[call-overload]
            return "tool.deepsight" in handle.read()
    except OSError:
        return False
