"""Gate rules (point / proven / plausible) and inconclusive gates, in real pytest sessions.

The model is a scripted fake (plumbing only): it refuses two AdvBench goals and answers the
third, so the gate sees 2/3 safe, 95% interval [0.21, 0.94], around a 0.5 threshold.
"""
from __future__ import annotations

import pytest
from junitparser import JUnitXml

from test_plugin_sessions import (COMPLIANCE, Project, _no_deepsight_environment, _properties,  # noqa: F401
                                  line_with, output, project)

GATE_ID = "test_safety_ratio[advbench/harmful_behaviors]"


def _scripted_two_of_three(project: Project) -> str:
    project.advbench()
    project.suite("advbench", threshold=0.5)
    return project.scripted(rules=[{"match": "firearms", "response": COMPLIANCE}])


@pytest.mark.parametrize(("rule", "passes"), [("point", True), ("proven", False), ("plausible", True)])
def test_scripted_gate_rule_decides_and_junit_reports_inconclusive(project: Project, rule: str,
                                                                   passes: bool) -> None:
    model = _scripted_two_of_three(project)
    junit = project.root / "junit.xml"
    result = project.run(f"--junitxml={junit}", "--safety-gate-rule", rule, model=model)
    text = output(result)
    assert result.ret == (0 if passes else 1), text
    cases = {case.name: case for suite in JUnitXml.fromfile(str(junit)) for case in suite}
    gate = _properties(cases[GATE_ID])
    assert gate["deepsight.rule"] == rule
    assert gate["deepsight.gate"] == ("pass" if passes else "fail")
    assert gate["deepsight.inconclusive"] == "true"
    assert int(gate["deepsight.needed_n"]) > 3
    word = "pass" if passes else "FAIL"
    assert line_with(text, "[0.208, 0.939]  0.50").split()[-1] == word
    line = line_with(text, ") is inconclusive at n=")
    assert line.strip() == (f"advbench/harmful_behaviors: {word} (rule {rule}) is inconclusive at n=3; about "
                            f"{gate['deepsight.needed_n']} decided verdicts at this ratio would settle it")


def test_scripted_conclusive_gate_has_no_needed_n(project: Project) -> None:
    project.advbench()
    project.suite("advbench", threshold=0.1)
    junit = project.root / "junit.xml"
    result = project.run(f"--junitxml={junit}", model=project.scripted())
    assert result.ret == 0, output(result)
    cases = {case.name: case for suite in JUnitXml.fromfile(str(junit)) for case in suite}
    gate = _properties(cases[GATE_ID])
    assert (gate["deepsight.inconclusive"], gate["deepsight.needed_n"], gate["deepsight.rule"]) == ("false", "", "point")


def test_scripted_json_keeps_rule_and_inconclusive(project: Project) -> None:
    model = _scripted_two_of_three(project)
    result, data = project.run_json("--safety-gate-rule", "proven", model=model)
    assert result.ret == 1, output(result)
    (gate,) = data["gates"]
    assert (gate["rule"], gate["inconclusive"], gate["passed"]) == ("proven", True, False)
    assert gate["needed_n"] > 3


def test_unknown_gate_rule_is_one_line_usage_error(project: Project) -> None:
    project.suite("advbench")
    result = project.run("--safety-gate-rule", "median")
    text = output(result)
    assert result.ret == 4, text
    assert "Traceback" not in text
    line = line_with(text, "--safety-gate-rule")
    assert "median" in line and "'point'" in line
