"""The token budget in real pytest sessions on the real SmolLM2 tokenizer: a case that does not fit
the budget even alone is skipped with the reason (terminal, JUnit), never a crash."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from backend_sessions import DEEPSIGHT_HOME
from benchmark_samples import SHARED_DATA

needs_data = pytest.mark.skipif(not (SHARED_DATA / "xstest").exists(), reason="no ../shared/data/xstest")


@needs_data
def test_cases_over_the_token_budget_are_skipped_with_the_reason(pytester, monkeypatch):
    monkeypatch.setenv("DEEPSIGHT_HOME", str(DEEPSIGHT_HOME))  # the user's converted checkpoint, made once
    pytester.makepyfile(test_budget="""
        import pytest
        from deepsight_pytest import assert_safe

        @pytest.mark.safety_suite("xstest", sample=1, seed=1)
        class TestXSTest:
            def test_case(self, safety_record):
                assert_safe(safety_record)
    """)
    result = pytester.runpytest_subprocess(
        "--model=smollm2", f"--safety-data={SHARED_DATA}", "--safety-max-new-tokens=4", "--diagnose=off",
        "--safety-token-budget=8", "--safety-cache-dir", str(pytester.path / "cache"), "-k", "homonyms",
        "--junitxml=junit.xml", "-rs")
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped", 0) == 2 and "failed" not in outcomes and "error" not in outcomes
    result.stdout.fnmatch_lines(["*does not fit the token budget*> 8*--safety-token-budget*"])
    skips = [s.get("message", "") for s in ET.parse(pytester.path / "junit.xml").iter("skipped")]
    assert len(skips) == 2 and all("does not fit the token budget" in m for m in skips)


def test_bad_token_budget_is_a_one_line_usage_error(pytester):
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("--safety-token-budget=0")
    result.stderr.fnmatch_lines(["*--safety-token-budget: invalid value '0': must be at least 1*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR
